"""``access.membership_actions`` against the services, for every kind of community, join
policy, status and state of the person's own membership.

What a community's page offers someone about their own membership must be what the
services accept from them: each offered action succeeds, each action not offered is
refused (declining an invitation aside: it is offered together with accepting it, so
not where accepting is refused). And the membership card shows exactly the answer.
"""

import dataclasses
import re
from itertools import product

import pytest
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from communities import access, services
from communities.models import Community, Membership

from .factories import CommunityFactory, MemberFactory, MembershipFactory, member_named
from .pages import page_text

pytestmark = pytest.mark.django_db

Kind, Policy, Status, State = (
    Community.Kind,
    Community.JoinPolicy,
    Community.Status,
    Membership.State,
)
CASES = list(product(Kind.values, Policy.values, Status.values, [None, *State.values]))
SERVICES = {
    "join": services.join_community,
    "request": services.request_membership,
    "cancel": services.cancel_request,
    "accept": services.accept_invitation,
    "decline": services.decline_invitation,
    "leave": services.leave_community,
}
REASONS = ("archived", "proposed", "removed", "invite_only")


def case_id(case) -> str:
    kind, policy, status, state = case
    return f"{kind}-{policy}-{status}-{state or 'none'}"


def setting(kind, policy, status, state):
    """A community as the case says, led by a sponsor and a steward, and a person whose
    membership of it is in ``state`` (``None``: they have none)."""
    community = CommunityFactory(kind=kind, join_policy=policy, status=status)
    MembershipFactory(community=community, role=Membership.Role.STEWARD)
    if kind == Kind.KC:
        MembershipFactory(community=community, role=Membership.Role.SPONSOR)
    person = MemberFactory()
    membership = None
    if state is not None:
        role = Membership.Role.MEMBER if kind == Kind.KC else Membership.Role.PARTICIPANT
        membership = MembershipFactory(community=community, member=person, state=state, role=role)
    return community, person, membership


def accepts(service, community, member) -> bool:
    """Whether ``service`` accepts this person's action now; nothing it did is kept."""
    try:
        with transaction.atomic():
            service(community=community, member=member)
            transaction.set_rollback(True)
    except services.MembershipError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_offered_actions_are_the_ones_the_services_accept(case):
    community, person, membership = setting(*case)
    actions = access.membership_actions(community, membership)
    accepted = {name: accepts(service, community, person) for name, service in SERVICES.items()}
    offered = {name: getattr(actions, name) for name in SERVICES}

    for name in ("join", "request", "cancel", "accept", "leave"):
        assert offered[name] == accepted[name], name
    assert offered["decline"] == offered["accept"]
    if offered["decline"]:
        assert accepted["decline"]
    elif accepted["decline"]:
        # An invitation to a community that takes no members now: accepting it is
        # refused, so the card explains why instead of offering half a choice.
        assert actions.archived or actions.proposed


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_card_gives_one_answer_an_action_or_why_there_is_none(case):
    kind, policy, status, state = case
    community, _person, membership = setting(*case)
    actions = access.membership_actions(community, membership)
    answers = {field.name for field in dataclasses.fields(actions) if getattr(actions, field.name)}
    reasons = answers & set(REASONS)
    assert len(reasons) <= 1
    assert bool(reasons) != bool(answers & set(SERVICES))

    takes_members = status not in (Status.ARCHIVED, Status.PROPOSED)
    settled = state in (State.ACTIVE, State.REQUESTED)
    takes_requests = kind == Kind.KC and policy == Policy.REQUEST
    assert actions.archived == (status == Status.ARCHIVED and not settled)
    assert actions.proposed == (status == Status.PROPOSED and not settled)
    assert actions.removed == (takes_members and state == State.REMOVED and not takes_requests)
    assert actions.invite_only == (
        takes_members
        and kind == Kind.KC
        and policy == Policy.INVITE
        and state in (None, State.LEFT, State.DENIED)
    )
    assert actions.denied_before == (actions.request and state == State.DENIED)


def shown_controls(html: str) -> set[str]:
    """The text of every button and link in the card."""
    return {
        " ".join(text.split())
        for text in re.findall(r"<(?:button|a)\b[^>]*>([^<]*)</(?:button|a)>", html)
    }


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_membership_card_shows_exactly_the_offered_actions(case):
    kind, _policy, _status, _state = case
    community, _person, membership = setting(*case)
    community = Community.objects.with_leaders().get(pk=community.pk)
    actions = access.membership_actions(community, membership)
    html = render_to_string(
        "includes/_membership_actions.html",
        {
            "community": community,
            "viewer_membership": membership,
            "actions": actions,
            "stewardship": access.StewardshipLinks(
                manage=False, formalise=False, merge=False, decide_proposal=False
            ),
        },
    )
    is_kc = kind == Kind.KC
    expected = {
        "Join" if is_kc else "I practise here": actions.join,
        "Request to join": actions.request,
        "Cancel request": actions.cancel,
        "Accept invitation": actions.accept,
        "Decline": actions.decline,
        "Leave" if is_kc else "I no longer practise here": actions.leave,
    }
    buttons = shown_controls(html)
    for label, offered in expected.items():
        assert (label in buttons) == offered, label
    texts = {
        "archived": "Archived communities accept no new members.",
        "proposed": "People can join once a directory admin approves the proposal.",
        "removed": "A steward took you off this list.",
        "invite_only": "Membership is by invitation only.",
    }
    for reason, text in texts.items():
        assert (text in html) == getattr(actions, reason), reason
    assert ("Your last request was not approved" in html) == actions.denied_before


def test_invitation_only_card_names_the_stewards_to_contact():
    community = CommunityFactory(kind=Kind.KC, join_policy=Policy.INVITE)
    MembershipFactory(
        community=community, member=member_named("Stella Steward"), role=Membership.Role.STEWARD
    )
    community = Community.objects.with_leaders().get(pk=community.pk)
    html = render_to_string(
        "includes/_membership_actions.html",
        {"community": community, "actions": access.membership_actions(community, None)},
    )
    assert "To be considered, contact a steward:" in html
    assert "Stella Steward" in shown_controls(html)


@pytest.mark.parametrize(
    "fixture, needs_a_steward",
    [("open_kc", False), ("request_kc", True), ("invite_kc", True), ("cop", False)],
)
def test_the_leave_page_warns_only_where_coming_back_takes_a_steward(
    client, request, staff, fixture, needs_a_steward
):
    community = request.getfixturevalue(fixture)
    services.add_members(community=community, members=[staff.member], actor=None)
    client.force_login(staff)

    response = client.get(reverse("communities:membership_leave", args=[community.slug]))

    assert access.rejoining_needs_a_steward(community) is needs_a_steward
    warned = "Coming back later will need a steward's approval or invitation." in page_text(
        response
    )
    assert warned is needs_a_steward
