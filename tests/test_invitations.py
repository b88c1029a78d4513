"""Invitations: resent, withdrawn, and lapsing after ``INVITATION_EXPIRY_DAYS`` days.

The services first, then the manage page's rows (Approve / Deny for a request, Resend /
Withdraw for an invitation) for every role, the invitee's own page, and the
``lapse_invitations`` command.
"""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from communities import access, services
from communities.models import Community, Membership, MembershipEvent
from communities.services import MembershipError

from .factories import CommunityFactory, MemberFactory, MembershipFactory, member_named
from .pages import alerts, assert_sent_to_sign_in, inline_text, page_html, page_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action
Kind, Policy, Status = Community.Kind, Community.JoinPolicy, Community.Status

LAPSED_REFUSAL = (
    "Your invitation to Claims Turnaround lapsed: it was not accepted within 30 days. "
    "Ask a steward to invite you again."
)


# -- helpers ------------------------------------------------------------------------------


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def invite(community, member=None, *, days_ago: float = 0, name: str = "Ivo Invited"):
    """An invitation to ``community`` sent ``days_ago`` days ago (its ``decided_at``, as
    ``add_members`` writes it), and last saved then too."""
    member = member or member_named(name)
    membership = MembershipFactory(
        member=member, community=community, state=State.INVITED, role=Role.MEMBER
    )
    sent = ago(days_ago)
    Membership.objects.filter(pk=membership.pk).update(decided_at=sent, updated_at=sent)
    membership.refresh_from_db()
    return membership


def row_of(membership) -> tuple[str, str]:
    membership.refresh_from_db()
    return membership.state, membership.role


def events_of(membership) -> list[tuple[str, str, str, str]]:
    """(action, state before, state after, actor name) of every event about the row's
    person in its community, oldest first."""
    return list(
        MembershipEvent.objects.filter(community=membership.community, target=membership.member)
        .order_by("created_at", "pk")
        .values_list("action", "state_before", "state_after", "actor_name")
    )


def snapshot():
    return (
        sorted(Membership.objects.values_list("pk", "state", "role", "decided_at", "note")),
        MembershipEvent.objects.count(),
    )


def manage_url(community, **query) -> str:
    path = reverse("communities:community_manage", args=[community.slug])
    if query:
        path += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return path


def roster_row(response, membership) -> str:
    """The manage list's row for ``membership`` (its id is ``membership-<pk>``)."""
    match = re.search(rf'<tr id="membership-{membership.pk}">(.*?)</tr>', page_html(response), re.S)
    assert match, f"no row for membership {membership.pk}"
    return match.group(1)


def controls(fragment: str) -> list[tuple[str, str]]:
    """(visible text, aria-label) of every button and link in ``fragment``."""
    found = []
    for _tag, attributes, text in re.findall(r"<(button|a)\b([^>]*)>(.*?)</\1>", fragment, re.S):
        label = re.search(r'aria-label="([^"]*)"', attributes)
        found.append((inline_text(text), label.group(1) if label else ""))
    return found


# -- when an invitation lapses --------------------------------------------------------------


def test_an_invitation_lapses_after_the_configured_number_of_days(settings, open_kc):
    settings.INVITATION_EXPIRY_DAYS = 7
    old = invite(open_kc, days_ago=7.01, name="Old Invite")
    fresh = invite(open_kc, days_ago=6.9, name="Fresh Invite")

    assert old.invitation_has_lapsed() and not fresh.invitation_has_lapsed()
    assert list(Membership.objects.lapsed_invitations()) == [old]


def test_the_default_expiry_is_thirty_days(open_kc):
    assert invite(open_kc, days_ago=30.01, name="Old Invite").invitation_has_lapsed()
    assert not invite(open_kc, days_ago=29.9, name="Fresh Invite").invitation_has_lapsed()


def test_the_clock_runs_from_when_it_was_sent_not_from_the_rows_last_save(open_kc):
    membership = invite(open_kc, days_ago=40)
    Membership.objects.filter(pk=membership.pk).update(updated_at=timezone.now())
    membership.refresh_from_db()

    assert membership.invitation_has_lapsed()
    assert list(Membership.objects.lapsed_invitations()) == [membership]


def test_only_invitations_lapse(open_kc):
    for state in [State.ACTIVE, State.REQUESTED, State.LEFT]:
        membership = MembershipFactory(community=open_kc, state=state)
        Membership.objects.filter(pk=membership.pk).update(decided_at=ago(90), updated_at=ago(90))

    assert not Membership.objects.lapsed_invitations().exists()


# -- accepting, declining, joining after it lapsed ---------------------------------------------


def test_accepting_a_lapsed_invitation_is_refused_with_what_to_do(open_kc):
    membership = invite(open_kc, days_ago=31)
    before = snapshot()

    with pytest.raises(MembershipError) as refusal:
        services.accept_invitation(community=open_kc, member=membership.member)

    assert str(refusal.value) == LAPSED_REFUSAL
    assert snapshot() == before


def test_declining_a_lapsed_invitation_is_refused_too(open_kc):
    membership = invite(open_kc, days_ago=31)
    before = snapshot()

    with pytest.raises(MembershipError, match="lapsed"):
        services.decline_invitation(community=open_kc, member=membership.member)

    assert snapshot() == before


def test_an_invitation_is_accepted_until_it_lapses(open_kc):
    membership = invite(open_kc, days_ago=29.9)

    services.accept_invitation(community=open_kc, member=membership.member)

    assert row_of(membership) == (State.ACTIVE, Role.MEMBER)


def test_joining_an_open_kc_after_the_invitation_lapsed_records_the_lapse_first(open_kc):
    membership = invite(open_kc, days_ago=31)

    services.join_community(community=open_kc, member=membership.member)

    assert row_of(membership) == (State.ACTIVE, Role.MEMBER)
    assert events_of(membership) == [
        (Action.LAPSED, State.INVITED, State.LEFT, ""),
        (Action.JOINED, State.LEFT, State.ACTIVE, "Ivo Invited"),
    ]


def test_asking_to_join_after_the_invitation_lapsed_is_a_request(request_kc):
    membership = invite(request_kc, days_ago=31)

    services.request_membership(community=request_kc, member=membership.member, note="Still keen")

    assert row_of(membership) == (State.REQUESTED, Role.MEMBER)
    assert [event[0] for event in events_of(membership)] == [Action.LAPSED, Action.REQUESTED]


def test_a_live_invitation_still_stops_a_join(open_kc):
    membership = invite(open_kc, days_ago=1)

    with pytest.raises(MembershipError, match="accept the invitation instead"):
        services.join_community(community=open_kc, member=membership.member)


@pytest.mark.parametrize("policy", Policy.values)
@pytest.mark.parametrize("kind", Kind.values)
def test_a_lapsed_invitations_page_offers_what_the_services_accept(kind, policy):
    community = CommunityFactory(kind=kind, join_policy=policy)
    MembershipFactory(community=community, role=Role.STEWARD)
    membership = invite(community, days_ago=31)
    person = membership.member

    actions = access.membership_actions(community, membership)

    assert actions.invitation_lapsed
    assert not actions.accept and not actions.decline
    as_left = access.membership_actions(community, Membership(community=community, state="left"))
    assert (actions.join, actions.request, actions.invite_only) == (
        as_left.join,
        as_left.request,
        as_left.invite_only,
    )
    for offered, service in [
        (actions.join, services.join_community),
        (actions.request, services.request_membership),
    ]:
        if offered:
            service(community=community, member=person)
            break
    else:
        with pytest.raises(MembershipError):
            services.join_community(community=community, member=person)


# -- resending -------------------------------------------------------------------------------


def test_resending_emails_again_records_who_and_restarts_the_clock(
    open_kc, steward, mailoutbox, django_capture_on_commit_callbacks
):
    membership = invite(open_kc, days_ago=31)

    with django_capture_on_commit_callbacks(execute=True):
        services.resend_invitation(community=open_kc, membership=membership, actor=steward.member)

    membership.refresh_from_db()
    assert membership.state == State.INVITED
    assert membership.decided_by == steward.member
    assert timezone.now() - membership.decided_at < timedelta(minutes=1)
    assert not membership.invitation_has_lapsed()
    assert events_of(membership)[-1] == (
        Action.REINVITED,
        State.INVITED,
        State.INVITED,
        "Stella Steward",
    )
    assert [email.to for email in mailoutbox] == [[membership.member.user.email]]
    assert "Stella Steward invites you to join the knowledge community Claims Turnaround." in (
        mailoutbox[0].body
    )
    assert "lapses if it is not accepted within 30 days" in mailoutbox[0].body
    services.accept_invitation(community=open_kc, member=membership.member)
    assert row_of(membership) == (State.ACTIVE, Role.MEMBER)


@pytest.mark.parametrize("state", [State.ACTIVE, State.REQUESTED, State.LEFT, State.REMOVED])
def test_resending_is_refused_for_someone_not_invited(open_kc, steward, state, mailoutbox):
    membership = MembershipFactory(
        member=member_named("Nina Notinvited"), community=open_kc, state=state
    )
    before = snapshot()

    with pytest.raises(MembershipError, match="Nina Notinvited has no invitation waiting"):
        services.resend_invitation(community=open_kc, membership=membership, actor=steward.member)

    assert snapshot() == before
    assert mailoutbox == []


def test_resending_to_an_archived_community_is_refused(open_kc, steward):
    membership = invite(open_kc, days_ago=3)
    Community.objects.filter(pk=open_kc.pk).update(status=Status.ARCHIVED)
    before = snapshot()

    with pytest.raises(MembershipError, match="archived"):
        services.resend_invitation(community=open_kc, membership=membership, actor=steward.member)

    assert snapshot() == before


def test_inviting_again_someone_whose_invitation_lapsed_sends_a_new_one(
    open_kc, steward, mailoutbox, django_capture_on_commit_callbacks
):
    membership = invite(open_kc, days_ago=31)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.add_members(
            community=open_kc, members=[membership.member], actor=steward.member, invite=True
        )

    assert (result.done, result.already) == ([membership.member], [])
    membership.refresh_from_db()
    assert not membership.invitation_has_lapsed()
    assert len(mailoutbox) == 1


def test_inviting_someone_already_invited_in_time_changes_nothing(open_kc, steward):
    membership = invite(open_kc, days_ago=3)
    before = snapshot()

    result = services.add_members(
        community=open_kc, members=[membership.member], actor=steward.member, invite=True
    )

    assert result.already == [membership.member]
    assert snapshot() == before


# -- withdrawing -----------------------------------------------------------------------------


def test_withdrawing_takes_the_invitation_back_with_the_reason(open_kc, steward):
    membership = invite(open_kc, days_ago=3)

    services.withdraw_invitation(
        community=open_kc, membership=membership, actor=steward.member, reason="Sent by mistake."
    )

    membership.refresh_from_db()
    assert (membership.state, membership.note, membership.decided_by) == (
        State.REMOVED,
        "Sent by mistake.",
        steward.member,
    )
    event = MembershipEvent.objects.get(action=Action.WITHDRAWN)
    assert (event.target, event.actor, event.state_before, event.state_after, event.note) == (
        membership.member,
        steward.member,
        State.INVITED,
        State.REMOVED,
        "Sent by mistake.",
    )
    with pytest.raises(MembershipError, match="You have no invitation to this community."):
        services.accept_invitation(community=open_kc, member=membership.member)


@pytest.mark.parametrize("state", [State.ACTIVE, State.REQUESTED, State.LEFT])
def test_withdrawing_is_refused_for_someone_not_invited(open_kc, steward, state):
    membership = MembershipFactory(
        member=member_named("Nina Notinvited"), community=open_kc, state=state
    )
    before = snapshot()

    with pytest.raises(MembershipError, match="Nina Notinvited has no invitation waiting"):
        services.withdraw_invitation(community=open_kc, membership=membership, actor=steward.member)

    assert snapshot() == before


# -- lapsing them all ------------------------------------------------------------------------


@pytest.fixture
def due(open_kc, invite_kc):
    """Two lapsed invitations in two communities, one fresh, one lapsed but sent again."""
    old = invite(open_kc, days_ago=45, name="Olga Old")
    older = invite(invite_kc, days_ago=300, name="Otis Older")
    fresh = invite(open_kc, days_ago=2, name="Fay Fresh")
    resent = invite(open_kc, days_ago=45, name="Rory Resent")
    services.resend_invitation(
        community=open_kc,
        membership=resent,
        actor=open_kc.memberships.get(role=Role.STEWARD).member,
    )
    return {"old": old, "older": older, "fresh": fresh, "resent": resent}


def test_lapse_invitations_ends_each_lapsed_one_with_a_history_event(due):
    result = services.lapse_invitations()

    assert (result.lapsed, result.communities) == (2, 2)
    assert {name: row_of(m)[0] for name, m in due.items()} == {
        "old": State.LEFT,
        "older": State.LEFT,
        "fresh": State.INVITED,
        "resent": State.INVITED,
    }
    lapsed = MembershipEvent.objects.filter(action=Action.LAPSED).order_by("target_name")
    assert [(e.target_name, e.actor, e.state_before, e.state_after, e.note) for e in lapsed] == [
        ("Olga Old", None, State.INVITED, State.LEFT, "Not answered within 30 days."),
        ("Otis Older", None, State.INVITED, State.LEFT, "Not answered within 30 days."),
    ]


def test_lapse_invitations_run_again_changes_nothing(due):
    services.lapse_invitations()
    before = snapshot()

    result = services.lapse_invitations()

    assert (result.lapsed, result.communities) == (0, 0)
    assert snapshot() == before


def test_lapse_invitations_works_in_batches_and_reports_progress(due):
    calls = []

    result = services.lapse_invitations(batch_size=1, progress=lambda *done: calls.append(done))

    assert result.lapsed == 2
    assert calls == [(1, 2), (2, 2)]


def test_someone_whose_invitation_lapsed_can_be_invited_again_and_accept(due, open_kc, steward):
    services.lapse_invitations()
    olga = due["old"].member

    services.add_members(community=open_kc, members=[olga], actor=steward.member, invite=True)
    services.accept_invitation(community=open_kc, member=olga)

    assert row_of(due["old"]) == (State.ACTIVE, Role.MEMBER)


def test_the_command_says_what_it_did_and_is_safe_to_run_again(due):
    first, second, dry = StringIO(), StringIO(), StringIO()

    call_command("lapse_invitations", "--dry-run", stdout=dry)
    assert row_of(due["old"])[0] == State.INVITED
    call_command("lapse_invitations", stdout=first)
    call_command("lapse_invitations", stdout=second)

    assert "Invitations lapse after 30 days: 2 sent before" in dry.getvalue()
    assert "Dry run: nothing changed." in dry.getvalue()
    assert "2 of 2" in first.getvalue()
    assert "Lapsed 2 invitations in 2 communities" in first.getvalue()
    assert "0 sent before" in second.getvalue() and "Nothing to do." in second.getvalue()
    assert MembershipEvent.objects.filter(action=Action.LAPSED).count() == 2


# -- the manage page's rows ------------------------------------------------------------------


@pytest.fixture
def rows(open_kc, member):
    """On ``open_kc``'s list: Mo (active), Rhea (a request), Ivo (an invitation) and Lou
    (an invitation that lapsed)."""
    return {
        "mo": open_kc.memberships.get(member=member.member),
        "rhea": MembershipFactory(
            member=member_named("Rhea Requester"), community=open_kc, state=State.REQUESTED
        ),
        "ivo": invite(open_kc, days_ago=3, name="Ivo Invited"),
        "lou": invite(open_kc, days_ago=31, name="Lou Lapsed"),
    }


@pytest.mark.parametrize("role", ["steward", "directory_admin"])
def test_each_row_offers_the_actions_that_fit_its_state(client, request, rows, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(manage_url(rows["mo"].community))

    assert controls(roster_row(response, rows["mo"]))[-1] == ("Remove", "Remove Mo Member")
    assert controls(roster_row(response, rows["rhea"])) == [
        ("Rhea Requester", ""),
        ("Approve", "Approve the request from Rhea Requester"),
        ("Deny", "Deny the request from Rhea Requester"),
    ]
    assert controls(roster_row(response, rows["ivo"])) == [
        ("Ivo Invited", ""),
        ("Resend invitation", "Resend invitation to Ivo Invited"),
        ("Withdraw invitation", "Withdraw invitation to Ivo Invited"),
    ]
    assert "Invited (lapsed)" in roster_row(response, rows["lou"])
    assert "Invited (lapsed)" not in roster_row(response, rows["ivo"])
    assert "Remove Rhea" not in page_text(response) and "Remove Ivo" not in page_text(response)


def test_approving_and_denying_from_a_row_decide_the_request(client, steward, rows, open_kc):
    client.force_login(steward)
    row = roster_row(client.get(manage_url(open_kc)), rows["rhea"])
    action = re.search(r'<form method="post" action="([^"]+)"', row).group(1)
    approve = re.search(r'name="one" value="(approve:\d+)"', row).group(1)

    response = client.post(action, {"one": approve}, follow=True)

    assert "Approved: Rhea Requester." in alerts(response)
    assert row_of(rows["rhea"]) == (State.ACTIVE, Role.MEMBER)
    assert events_of(rows["rhea"])[-1][0] == Action.APPROVED


def resend_url(membership) -> str:
    return reverse("communities:invitation_resend", args=[membership.community.slug, membership.pk])


def withdraw_url(membership) -> str:
    return reverse(
        "communities:invitation_withdraw", args=[membership.community.slug, membership.pk]
    )


REFUSED = ["anonymous", "staff", "outsider", "other_steward"]


def _sign_in(client, request, role):
    if role != "anonymous":
        client.force_login(request.getfixturevalue(role))


@pytest.mark.parametrize("role", REFUSED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_resend_and_withdraw_are_refused_to_non_curators(
    client, request, rows, mailoutbox, role, method
):
    _sign_in(client, request, role)
    before = snapshot()

    for path in [resend_url(rows["ivo"]), withdraw_url(rows["ivo"])]:
        response = getattr(client, method)(path)
        if role == "anonymous":
            assert_sent_to_sign_in(response, path)
        elif method == "get" and path == resend_url(rows["ivo"]):
            assert response.status_code == 405
        else:
            assert response.status_code == 403

    assert snapshot() == before
    assert mailoutbox == []


@pytest.mark.parametrize("role", ["steward", "directory_admin"])
def test_curators_resend_an_invitation_from_its_row(
    client, request, rows, role, mailoutbox, django_capture_on_commit_callbacks
):
    _sign_in(client, request, role)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend_url(rows["lou"]), follow=True)

    assert response.redirect_chain == [(manage_url(rows["lou"].community), 302)]
    assert "The invitation to Lou Lapsed is sent again; it lapses in 30 days." in alerts(response)
    assert not Membership.objects.get(pk=rows["lou"].pk).invitation_has_lapsed()
    assert "Invited (lapsed)" not in roster_row(response, rows["lou"])
    assert [email.to for email in mailoutbox] == [[rows["lou"].member.user.email]]


@pytest.mark.parametrize("role", ["steward", "directory_admin"])
def test_curators_withdraw_an_invitation_after_a_confirmation(client, request, rows, role):
    _sign_in(client, request, role)
    before = snapshot()

    page = client.get(withdraw_url(rows["ivo"]))

    assert page.status_code == 200
    assert "Withdraw the invitation to Ivo Invited?" in page_text(page)
    assert snapshot() == before

    response = client.post(withdraw_url(rows["ivo"]), {"note": "Wrong Ivo."}, follow=True)

    assert "The invitation to Ivo Invited is withdrawn." in alerts(response)
    ivo = Membership.objects.get(pk=rows["ivo"].pk)
    assert (ivo.state, ivo.note) == (State.REMOVED, "Wrong Ivo.")
    assert events_of(ivo)[-1][0] == Action.WITHDRAWN
    assert f'id="membership-{ivo.pk}"' not in page_html(response)  # off the list


def test_withdrawing_an_invitation_already_answered_is_a_message(client, steward, rows):
    client.force_login(steward)
    services.accept_invitation(community=rows["ivo"].community, member=rows["ivo"].member)
    before = snapshot()

    response = client.post(withdraw_url(rows["ivo"]), {"note": ""}, follow=True)

    assert any("Ivo Invited has no invitation waiting" in alert for alert in alerts(response))
    assert snapshot() == before


# -- the invitee's own page ------------------------------------------------------------------


def test_a_lapsed_invitation_is_not_offered_to_the_invitee(client, open_kc):
    membership = invite(open_kc, days_ago=31)
    client.force_login(membership.member.user)

    page = client.get(open_kc.get_absolute_url())

    card = page_text(page)
    assert "Your invitation lapsed: it was not accepted in time." in card
    assert "Accept invitation" not in card
    assert ">Join<" in page_html(page)  # an open KC: they may simply join

    response = client.post(
        reverse("communities:invitation_accept", args=[open_kc.slug]), follow=True
    )
    assert LAPSED_REFUSAL in alerts(response)
    assert row_of(membership) == (State.INVITED, Role.MEMBER)


def test_a_fresh_invitation_is_offered_to_the_invitee(client, invite_kc):
    membership = invite(invite_kc, MemberFactory(), days_ago=1)
    client.force_login(membership.member.user)

    page = page_text(client.get(invite_kc.get_absolute_url()))

    assert "Accept invitation" in page and "lapsed" not in page


def test_my_communities_offers_no_answer_to_a_lapsed_invitation(client, open_kc, invite_kc):
    person = MemberFactory()
    invite(open_kc, person, days_ago=31)
    invite(invite_kc, person, days_ago=2)
    client.force_login(person.user)

    section = page_html(client.get(reverse("members:my_communities")))
    section = re.search(r'aria-labelledby="invited-heading"(.*?)</section>', section, re.S)

    items = re.findall(r"<li[^>]*>(.*?)</li>", section.group(1), re.S)
    lapsed, fresh = sorted(items, key=lambda item: "Pricing Council" in item)
    assert "Claims Turnaround" in lapsed and "Lapsed: it was not accepted in time." in lapsed
    assert "Accept invitation" not in lapsed
    assert "Accept invitation" in fresh and "Lapsed" not in fresh
