"""Membership pages and actions through the test client: every action for every role.

Roles: anonymous, an outsider, a member of the community, the steward of ANOTHER
community, the community's steward, and a directory admin. Every refusal also
checks that the roster and its history did not change.
"""

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from communities import services
from communities.models import Community, Membership, MembershipEvent, Purpose

from .factories import MemberFactory, MembershipFactory, PurposeFactory, led_kc, member_named
from .pages import alerts, assert_sent_to_sign_in, inline_text, page_text, visible_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action
DIRECTORY = reverse("communities:community_list")
MY_COMMUNITIES = reverse("members:my_communities")


# -- helpers --------------------------------------------------------------------------


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


def roster_snapshot():
    """Everything a refused request must leave alone: every membership row and the
    number of history events."""
    rows = sorted(
        Membership.objects.values_list(
            "pk", "community_id", "member_id", "role", "state", "note", "decided_by_id"
        )
    )
    return rows, MembershipEvent.objects.count(), Community.objects.count()


def sign_in(client, user):
    if user is not None:
        client.force_login(user)
    return client


def state_of(member, community) -> tuple[str, str] | None:
    membership = Membership.objects.filter(member=member, community=community).first()
    return (membership.state, membership.role) if membership else None


def membership_section(response) -> str:
    """The "Your membership" card of a community page."""
    match = re.search(
        r'<section class="card mb-3" aria-labelledby="membership-heading">(.*?)</section>',
        response.content.decode(),
        re.S,
    )
    assert match, "the community page has no membership card"
    return match.group(1)


def labels(pattern: str, fragment: str) -> list[str]:
    return [inline_text(label) for label in re.findall(pattern, fragment, re.S)]


def buttons_in(fragment: str) -> list[str]:
    return labels(r"<button[^>]*>(.*?)</button>", fragment)


def links_in(fragment: str) -> list[str]:
    return labels(r"<a [^>]*>(.*?)</a>", fragment)


def navbar(response) -> str:
    return re.search(r"<header>(.*?)</header>", response.content.decode(), re.S).group(1)


# -- the cast -------------------------------------------------------------------------

ROLES = ["anonymous", "outsider", "member", "other_steward", "steward", "directory_admin"]
SIGNED_IN_ROLES = ROLES[1:]
REFUSED_STEWARD_ROLES = ["anonymous", "outsider", "member", "other_steward"]
CURATORS = ["steward", "directory_admin"]


@pytest.fixture
def member(open_kc):
    """Mo Member, an active member of ``open_kc`` who joined through the service, so his
    history exists (the shared ``member``, with a history)."""
    mo = member_named("Mo Member", username="mo")
    services.join_community(community=open_kc, member=mo)
    return mo.user


@pytest.fixture
def cast(open_kc, request_kc, member, users_by_role):
    """``open_kc`` with an active member (Mo, ``member``) and a waiting request (Rhea); a
    request waiting in ``request_kc`` too; and one person for each role."""
    mo = member.member
    pending = MembershipFactory(
        member=member_named("Rhea Requester", username="rhea"),
        community=open_kc,
        state=State.REQUESTED,
    )
    other_pending = MembershipFactory(
        member=member_named("Otto Other"), community=request_kc, state=State.REQUESTED
    )
    return SimpleNamespace(
        community=open_kc,
        other_community=request_kc,
        mo=mo,
        mo_membership=Membership.objects.get(member=mo, community=open_kc),
        pending=pending,
        other_pending=other_pending,
        users=users_by_role,
    )


# -- steward actions: every role --------------------------------------------------------


@dataclass
class StewardAction:
    method: str
    path: object  # (cast) -> str
    data: object = None  # (cast) -> dict
    effect: object = None  # (cast, response) -> None: what the allowed request did

    def send(self, client, cast):
        path = self.path(cast)
        if self.method == "get":
            return client.get(path)
        return client.post(path, self.data(cast) if self.data else {})


def _manage_shows_requests_and_roster(cast, response):
    assert response.status_code == 200
    assert [m.member.display_name for m in response.context["waiting_page"]] == ["Rhea Requester"]
    roster = [m.member.display_name for m in response.context["roster_page"]]
    assert roster == ["Mo Member", "Rhea Requester", "Spencer Sponsor", "Stella Steward"]
    assert 'aria-label="Approve Rhea Requester"' in response.content.decode()


def _request_approved(cast, response):
    assert response.status_code == 302
    assert response.url == url("community_manage", cast.community.slug)
    cast.pending.refresh_from_db()
    assert cast.pending.state == State.ACTIVE
    assert MembershipEvent.objects.filter(
        target=cast.pending.member, action=Action.APPROVED
    ).exists()


def _search_finds_outsider(cast, response):
    assert response.status_code == 200
    assert [m.display_name for m in response.context["results"]] == ["Olive Outsider"]


def _outsider_added(cast, response):
    assert response.status_code == 200
    assert state_of(cast.users["outsider"].member, cast.community) == (State.ACTIVE, Role.MEMBER)
    assert "Added: 1 (Olive Outsider)" in page_text(response)


def _mo_made_steward(cast, response):
    assert response.status_code == 302
    assert state_of(cast.mo, cast.community) == (State.ACTIVE, Role.STEWARD)


def _remove_confirmation_shown(cast, response):
    assert response.status_code == 200
    assert "Remove Mo Member from Claims Turnaround?" in page_text(response)
    assert state_of(cast.mo, cast.community) == (State.ACTIVE, Role.MEMBER)


def _mo_removed(cast, response):
    assert response.status_code == 302
    assert state_of(cast.mo, cast.community) == (State.REMOVED, Role.MEMBER)


def _history_shown(cast, response):
    assert response.status_code == 200
    assert [e.target_name for e in response.context["page_obj"]] == ["Mo Member"]


STEWARD_ACTIONS = {
    "community_manage": StewardAction(
        "get",
        lambda c: url("community_manage", c.community.slug),
        effect=_manage_shows_requests_and_roster,
    ),
    "requests_decide": StewardAction(
        "post",
        lambda c: url("requests_decide", c.community.slug),
        lambda c: {"memberships": [c.pending.pk], "decision": "approve"},
        _request_approved,
    ),
    "members_add_search": StewardAction(
        "get",
        lambda c: url("members_add", c.community.slug) + "?q=olive",
        effect=_search_finds_outsider,
    ),
    "members_add": StewardAction(
        "post",
        lambda c: url("members_add", c.community.slug),
        lambda c: {"pasted": "outsider", "mode": "add"},
        _outsider_added,
    ),
    "membership_role": StewardAction(
        "post",
        lambda c: url("membership_role", c.community.slug, c.mo_membership.pk),
        lambda c: {"role": "steward"},
        _mo_made_steward,
    ),
    "membership_remove_confirm": StewardAction(
        "get",
        lambda c: url("membership_remove", c.community.slug, c.mo_membership.pk),
        effect=_remove_confirmation_shown,
    ),
    "membership_remove": StewardAction(
        "post",
        lambda c: url("membership_remove", c.community.slug, c.mo_membership.pk),
        lambda c: {"note": "Moved to another team."},
        _mo_removed,
    ),
    "community_history": StewardAction(
        "get", lambda c: url("community_history", c.community.slug), effect=_history_shown
    ),
}


@pytest.mark.parametrize("role", REFUSED_STEWARD_ROLES)
@pytest.mark.parametrize("action", list(STEWARD_ACTIONS))
def test_steward_action_is_refused_to_non_stewards_and_changes_nothing(client, cast, action, role):
    spec = STEWARD_ACTIONS[action]
    sign_in(client, cast.users[role])
    before = roster_snapshot()

    response = spec.send(client, cast)

    if role == "anonymous":
        assert_sent_to_sign_in(response, spec.path(cast))
    else:
        assert response.status_code == 403
    assert roster_snapshot() == before


@pytest.mark.parametrize("role", CURATORS)
@pytest.mark.parametrize("action", list(STEWARD_ACTIONS))
def test_steward_action_works_for_steward_and_directory_admin(client, cast, action, role):
    spec = STEWARD_ACTIONS[action]
    sign_in(client, cast.users[role])
    before = roster_snapshot()

    response = spec.send(client, cast)

    spec.effect(cast, response)
    if spec.method == "get":
        assert roster_snapshot() == before
    else:
        assert roster_snapshot() != before


# -- community_create: directory admins only --------------------------------------------


@pytest.fixture
def create_form_data(cast):
    future = PurposeFactory(statement="Price climate risk", orientation="shape_future")
    return {
        "name": "Fraud Analytics",
        "summary": "Finding fraud sooner.",
        "description": "",
        "join_policy": "request",
        "purposes": [future.pk],
        "sponsor": "outsider",
        "stewards": "mo",
        # Past the similar communities (Climate Risk Pricing): tests/test_similar_and_proposals.py
        "confirmed": "True",
    }


@pytest.mark.parametrize("role", ["anonymous", "outsider", "member", "other_steward", "steward"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_community_create_is_refused_to_everyone_but_directory_admins(
    client, cast, create_form_data, role, method
):
    sign_in(client, cast.users[role])
    before = roster_snapshot()
    path = url("community_create")

    response = getattr(client, method)(path, create_form_data if method == "post" else None)

    if role == "anonymous":
        assert_sent_to_sign_in(response, path)
    else:
        assert response.status_code == 403
    assert roster_snapshot() == before
    assert not Community.objects.filter(name="Fraud Analytics").exists()


def test_directory_admin_sees_the_create_form(client, cast):
    sign_in(client, cast.users["directory_admin"])

    response = client.get(url("community_create"))

    assert response.status_code == 200
    assert "New knowledge community" in page_text(response)
    assert set(response.context["form"].fields) >= {"name", "purposes", "sponsor", "stewards"}


def test_directory_admin_creates_a_knowledge_community_with_sponsor_and_steward(
    client, cast, create_form_data
):
    sign_in(client, cast.users["directory_admin"])
    events_before = MembershipEvent.objects.count()

    response = client.post(url("community_create"), create_form_data)

    community = Community.objects.get(name="Fraud Analytics")
    assert response.status_code == 302
    assert response.url == community.get_absolute_url()
    assert (community.kind, community.status, community.join_policy) == ("kc", "active", "request")
    roles = sorted(community.memberships.values_list("member__user__username", "role", "state"))
    assert roles == [("mo", "steward", "active"), ("outsider", "sponsor", "active")]
    assert MembershipEvent.objects.count() == events_before + 2


def test_community_create_without_a_future_shaping_purpose_creates_nothing(
    client, cast, create_form_data
):
    sign_in(client, cast.users["directory_admin"])
    spread = PurposeFactory(orientation=Purpose.Orientation.SPREAD_PRACTICE)
    before = roster_snapshot()

    response = client.post(url("community_create"), {**create_form_data, "purposes": [spread.pk]})

    assert response.status_code == 200
    assert "at least one purpose that shapes the future" in page_text(response)
    assert roster_snapshot() == before


# -- member_history: the person and directory admins ------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_member_history_is_visible_only_to_the_person_and_directory_admins(client, cast, role):
    sign_in(client, cast.users[role])
    path = reverse("members:member_history", args=["mo"])
    before = roster_snapshot()

    response = client.get(path)

    if role == "anonymous":
        assert_sent_to_sign_in(response, path)
    elif role in ("member", "directory_admin"):
        assert response.status_code == 200
        assert "Membership history of Mo Member" in page_text(response)
        assert [(e.community.name, e.action) for e in response.context["page_obj"]] == [
            ("Claims Turnaround", Action.JOINED)
        ]
    else:
        assert response.status_code == 403
    assert roster_snapshot() == before


def test_member_history_of_an_unknown_person_is_not_found(client, cast):
    sign_in(client, cast.users["directory_admin"])

    response = client.get(reverse("members:member_history", args=["nobody-here"]))

    assert response.status_code == 404


# -- staff actions: anyone signed in, on their own membership ---------------------------


@dataclass
class StaffAction:
    target: str  # which of the target communities
    before: str | None  # the person's membership state before (None: no row)
    after: str
    event: str
    data: dict


STAFF_ACTIONS = {
    "membership_join": StaffAction("open", None, State.ACTIVE, Action.JOINED, {}),
    "membership_request": StaffAction(
        "request", None, State.REQUESTED, Action.REQUESTED, {"note": "I price flood risk."}
    ),
    "membership_cancel": StaffAction("request", State.REQUESTED, State.LEFT, Action.CANCELLED, {}),
    "invitation_accept": StaffAction("invite", State.INVITED, State.ACTIVE, Action.ACCEPTED, {}),
    "invitation_decline": StaffAction("invite", State.INVITED, State.LEFT, Action.DECLINED, {}),
    "membership_leave": StaffAction("open", State.ACTIVE, State.LEFT, Action.LEFT, {}),
}
POST_ONLY_STAFF_ACTIONS = [name for name in STAFF_ACTIONS if name != "membership_leave"]


@pytest.fixture
def targets(cast):
    """One KC per join policy that no one in the cast belongs to, each with a bystander
    in the same state the acting person starts in (so we can see only their row moves)."""
    communities = {}
    for policy in ("open", "request", "invite"):
        communities[policy] = led_kc(
            name=f"Target {policy}",
            slug=f"target-{policy}",
            join_policy=policy,
        )
    bystander_states = {"open": State.ACTIVE, "request": State.REQUESTED, "invite": State.INVITED}
    for policy, state in bystander_states.items():
        MembershipFactory(
            member=member_named(f"Bea {policy}"), community=communities[policy], state=state
        )
    return communities


def prepare_staff_action(targets, action: str, member):
    spec = STAFF_ACTIONS[action]
    community = targets[spec.target]
    if spec.before is not None:
        MembershipFactory(member=member, community=community, state=spec.before)
    return spec, community, url(action, community.slug)


@pytest.mark.parametrize("action", list(STAFF_ACTIONS))
def test_anonymous_staff_action_is_sent_to_sign_in_and_changes_nothing(client, targets, action):
    spec, community, path = prepare_staff_action(targets, action, MemberFactory())
    before = roster_snapshot()

    response = client.post(path, spec.data)

    assert_sent_to_sign_in(response, path)
    assert roster_snapshot() == before


@pytest.mark.parametrize("role", SIGNED_IN_ROLES)
@pytest.mark.parametrize("action", list(STAFF_ACTIONS))
def test_any_signed_in_person_can_act_on_their_own_membership(client, cast, targets, action, role):
    user = cast.users[role]
    spec, community, path = prepare_staff_action(targets, action, user.member)
    others_before = list(
        community.memberships.exclude(member=user.member).values_list("pk", "state", "role")
    )
    sign_in(client, user)

    response = client.post(path, spec.data)

    assert response.status_code == 302
    assert response.url == community.get_absolute_url()
    membership = Membership.objects.get(member=user.member, community=community)
    assert membership.state == spec.after
    event = community.events.get()  # exactly one history entry, about this person
    assert (event.action, event.actor, event.target) == (spec.event, user.member, user.member)
    assert event.note == spec.data.get("note", "")
    assert membership.note == spec.data.get("note", "")
    others_after = list(
        community.memberships.exclude(member=user.member).values_list("pk", "state", "role")
    )
    assert others_after == others_before


@pytest.mark.parametrize("action", POST_ONLY_STAFF_ACTIONS)
def test_get_on_a_post_only_staff_action_is_405_and_changes_nothing(client, staff, targets, action):
    _spec, _community, path = prepare_staff_action(targets, action, staff.member)
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.get(path)

    assert response.status_code == 405
    assert roster_snapshot() == before


@pytest.mark.parametrize(
    "action", ["requests_decide", "membership_role"], ids=["requests_decide", "membership_role"]
)
def test_get_on_a_post_only_steward_action_is_405_and_changes_nothing(
    client, cast, steward, action
):
    path = STEWARD_ACTIONS[action].path(cast)
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.get(path)

    assert response.status_code == 405
    assert roster_snapshot() == before


def test_leave_get_asks_for_confirmation_and_changes_nothing(client, cast):
    sign_in(client, cast.users["member"])
    before = roster_snapshot()

    response = client.get(url("membership_leave", cast.community.slug))

    assert response.status_code == 200
    assert "Leave Claims Turnaround?" in page_text(response)
    assert buttons_in(response.content.decode().split("<main", 1)[1]) == ["Leave"]
    assert roster_snapshot() == before


# -- CSRF ---------------------------------------------------------------------------------


def csrf_client_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token(client) -> str:
    client.get(DIRECTORY)  # any page with a form sets the cookie
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize("action", list(STAFF_ACTIONS))
def test_staff_action_without_csrf_token_is_refused_and_changes_nothing(staff, targets, action):
    spec, community, path = prepare_staff_action(targets, action, staff.member)
    client = csrf_client_for(staff)
    before = roster_snapshot()

    response = client.post(path, spec.data)

    assert response.status_code == 403
    assert roster_snapshot() == before
    # The same request with the token goes through: the token was the only thing missing.
    response = client.post(path, {**spec.data, "csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code == 302
    assert state_of(staff.member, community)[0] == spec.after


@pytest.mark.parametrize(
    "action", [name for name, spec in STEWARD_ACTIONS.items() if spec.method == "post"]
)
def test_steward_action_without_csrf_token_is_refused_and_changes_nothing(cast, action):
    spec = STEWARD_ACTIONS[action]
    client = csrf_client_for(cast.users["steward"])
    before = roster_snapshot()

    response = client.post(spec.path(cast), spec.data(cast))

    assert response.status_code == 403
    assert roster_snapshot() == before
    response = client.post(
        spec.path(cast), {**spec.data(cast), "csrfmiddlewaretoken": csrf_token(client)}
    )
    spec.effect(cast, response)


def test_community_create_without_csrf_token_creates_nothing(cast, create_form_data):
    client = csrf_client_for(cast.users["directory_admin"])
    before = roster_snapshot()

    response = client.post(url("community_create"), create_form_data)

    assert response.status_code == 403
    assert roster_snapshot() == before


# -- IDOR: another community's memberships through this community's URL --------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_steward_cannot_remove_another_communitys_member_through_their_own_slug(
    client, cast, steward, method
):
    sign_in(client, steward)
    foreign = cast.other_community.memberships.get(role=Role.SPONSOR)
    before = roster_snapshot()

    response = getattr(client, method)(
        url("membership_remove", cast.community.slug, foreign.pk), {"note": "gone"}
    )

    assert response.status_code == 404
    assert roster_snapshot() == before


def test_steward_cannot_change_role_of_another_communitys_member_through_their_own_slug(
    client, cast, steward
):
    sign_in(client, steward)
    foreign = cast.other_community.memberships.get(role=Role.SPONSOR)
    before = roster_snapshot()

    response = client.post(
        url("membership_role", cast.community.slug, foreign.pk), {"role": "member"}
    )

    assert response.status_code == 404
    assert roster_snapshot() == before


@pytest.mark.parametrize("how", ["bulk", "row_button"])
def test_steward_cannot_decide_another_communitys_request_through_their_own_slug(
    client, cast, steward, how
):
    sign_in(client, steward)
    foreign = cast.other_pending.pk
    data = (
        {"memberships": [foreign], "decision": "approve"}
        if how == "bulk"
        else {"one": f"approve:{foreign}"}
    )
    before = roster_snapshot()

    response = client.post(url("requests_decide", cast.community.slug), data, follow=True)

    assert response.status_code == 200
    assert roster_snapshot() == before
    assert any("already decided or withdrawn" in alert for alert in alerts(response))


@pytest.mark.parametrize(
    "pk, message",
    [
        *((pk, "already decided or withdrawn") for pk in (str(2**63), "9" * 40, "0", "-1")),
        *((pk, "is not a valid value") for pk in ("1e3", "0x10")),
    ],
)
@pytest.mark.parametrize("how", ["bulk", "row_button"])
def test_request_ids_out_of_any_range_are_refused_calmly(client, cast, steward, how, pk, message):
    sign_in(client, steward)
    data = (
        {"memberships": [pk], "decision": "approve"} if how == "bulk" else {"one": f"approve:{pk}"}
    )
    before = roster_snapshot()

    response = client.post(url("requests_decide", cast.community.slug), data, follow=True)

    assert response.status_code == 200
    assert roster_snapshot() == before
    assert any(message in alert for alert in alerts(response))


@pytest.mark.parametrize(
    "pk, message",
    [
        *((pk, "Select a valid choice") for pk in (str(2**63), "9" * 40, "-1")),
        ("1e3", "is not a valid value"),
    ],
)
def test_people_ids_out_of_any_range_are_refused_calmly(client, cast, steward, pk, message):
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.post(
        url("members_add", cast.community.slug), {"people": [pk], "mode": "add"}, follow=True
    )

    assert response.status_code == 200
    assert roster_snapshot() == before
    assert message in page_text(response)


# -- mass assignment ----------------------------------------------------------------------

EXTRA_FIELDS = {"role": "sponsor", "state": "active", "is_staff": "1", "decided_by": "1"}


def test_join_ignores_role_state_community_and_is_staff_fields(client, staff, open_kc, request_kc):
    sign_in(client, staff)

    client.post(url("membership_join", open_kc.slug), {**EXTRA_FIELDS, "community": request_kc.pk})

    assert state_of(staff.member, open_kc) == (State.ACTIVE, Role.MEMBER)
    assert state_of(staff.member, request_kc) is None
    staff.refresh_from_db()
    assert staff.is_staff is False
    assert open_kc.memberships.get(state=State.ACTIVE, role=Role.SPONSOR).member.display_name == (
        "Spencer Sponsor"
    )


def test_request_ignores_role_state_community_and_is_staff_fields(
    client, staff, open_kc, request_kc
):
    sign_in(client, staff)

    client.post(
        url("membership_request", request_kc.slug),
        {**EXTRA_FIELDS, "community": open_kc.pk, "note": "Please"},
    )

    assert state_of(staff.member, request_kc) == (State.REQUESTED, Role.MEMBER)
    assert state_of(staff.member, open_kc) is None
    staff.refresh_from_db()
    assert staff.is_staff is False


# -- the one right action on a community page ------------------------------------------------


@pytest.mark.parametrize(
    "community_name, state, buttons, links, hint",
    [
        ("open_kc", None, ["Join"], [], ""),
        ("request_kc", None, ["Request to join"], [], "Note to the stewards"),
        ("invite_kc", None, [], ["Ian Steward"], "contact a steward"),
        ("request_kc", State.REQUESTED, ["Cancel request"], [], "waiting for a steward"),
        ("invite_kc", State.INVITED, ["Accept invitation", "Decline"], [], "You are invited"),
        ("open_kc", State.ACTIVE, [], ["Leave"], "You are a member of this community."),
        ("request_kc", State.DENIED, ["Request to join"], [], "not approved"),
        ("open_kc", State.REMOVED, [], [], "A steward took you off this list"),
        ("cop", None, ["I practise here"], [], ""),
        ("cop", State.ACTIVE, [], ["I no longer practise here"], "You practise here."),
        ("cop", State.REMOVED, [], [], "A steward took you off this list"),
    ],
    ids=[
        "open",
        "request",
        "invite-only",
        "requested",
        "invited",
        "active",
        "denied",
        "removed",
        "cop",
        "cop-active",
        "cop-removed",
    ],
)
def test_community_page_offers_the_one_right_action(
    request, client, staff, invite_kc, community_name, state, buttons, links, hint
):
    community = request.getfixturevalue(community_name)
    if state is not None:
        role = Role.PARTICIPANT if community.is_cop else Role.MEMBER
        MembershipFactory(member=staff.member, community=community, state=state, role=role)
    sign_in(client, staff)

    response = client.get(community.get_absolute_url())

    section = membership_section(response)
    assert buttons_in(section) == buttons
    assert links_in(section) == links
    assert hint in html.unescape(section)


@pytest.mark.parametrize("community_name", ["open_kc", "request_kc", "cop"])
def test_archived_community_page_offers_no_way_in(request, client, staff, community_name):
    community = request.getfixturevalue(community_name)
    Community.objects.filter(pk=community.pk).update(status=Community.Status.ARCHIVED)
    sign_in(client, staff)

    response = client.get(community.get_absolute_url())

    section = membership_section(response)
    assert buttons_in(section) == []
    assert "accept no new members" in section


def test_joining_an_archived_community_shows_a_message_and_changes_nothing(client, staff, open_kc):
    Community.objects.filter(pk=open_kc.pk).update(status=Community.Status.ARCHIVED)
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(url("membership_join", open_kc.slug), follow=True)

    assert response.status_code == 200
    assert any("archived" in alert for alert in alerts(response))
    assert roster_snapshot() == before


def test_joining_a_proposed_community_is_not_found_for_staff(client, staff):
    proposed = led_kc(status="proposed", join_policy="open")
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(url("membership_join", proposed.slug))

    assert response.status_code == 404
    assert roster_snapshot() == before


def test_steward_sees_manage_and_history_links_and_staff_do_not(client, steward, staff, open_kc):
    manage, history = url("community_manage", open_kc.slug), url("community_history", open_kc.slug)

    as_steward = sign_in(client, steward).get(open_kc.get_absolute_url()).content.decode()
    as_staff = sign_in(Client(), staff).get(open_kc.get_absolute_url()).content.decode()

    assert f'href="{manage}"' in as_steward and f'href="{history}"' in as_steward
    assert manage not in as_staff and history not in as_staff


# -- service refusals are messages, not error pages ----------------------------------------


def test_last_steward_cannot_leave_and_is_told_why(client, steward, open_kc):
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.post(url("membership_leave", open_kc.slug), follow=True)

    assert response.status_code == 200
    assert response.redirect_chain == [(open_kc.get_absolute_url(), 302)]
    assert (
        "You are the only steward of Claims Turnaround. Make someone else steward first "
        "(on the Manage membership page), then you can leave." in alerts(response)
    )
    assert state_of(steward.member, open_kc) == (State.ACTIVE, Role.STEWARD)
    assert roster_snapshot() == before


def test_leaving_when_not_a_member_is_a_message(client, staff, open_kc):
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(url("membership_leave", open_kc.slug), follow=True)

    assert response.status_code == 200
    assert "You are not a member of this community." in alerts(response)
    assert roster_snapshot() == before


def test_cancelling_without_a_request_is_a_message(client, staff, request_kc):
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(url("membership_cancel", request_kc.slug), follow=True)

    assert "You have no request waiting here." in alerts(response)
    assert roster_snapshot() == before


def test_requesting_an_open_community_is_a_message(client, staff, open_kc):
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(url("membership_request", open_kc.slug), follow=True)

    assert "This knowledge community does not take requests." in alerts(response)
    assert roster_snapshot() == before


def test_request_note_over_1000_characters_is_refused_with_a_message(client, staff, request_kc):
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(
        url("membership_request", request_kc.slug), {"note": "x" * 1001}, follow=True
    )

    assert any("too long" in alert for alert in alerts(response))
    assert roster_snapshot() == before


def test_removed_person_cannot_join_again_on_their_own(client, staff, open_kc):
    MembershipFactory(member=staff.member, community=open_kc, state=State.REMOVED)
    sign_in(client, staff)
    before = roster_snapshot()

    response = client.post(url("membership_join", open_kc.slug), follow=True)

    assert any("removed you" in alert for alert in alerts(response))
    assert roster_snapshot() == before


def test_steward_leaving_when_another_steward_remains(client, steward, open_kc):
    MembershipFactory(member=member_named("Second Steward"), community=open_kc, role=Role.STEWARD)
    sign_in(client, steward)

    response = client.post(url("membership_leave", open_kc.slug), follow=True)

    assert "You left Claims Turnaround." in alerts(response)
    assert state_of(steward.member, open_kc) == (State.LEFT, Role.STEWARD)


# -- deciding requests -------------------------------------------------------------------


@pytest.fixture
def requesters(request_kc):
    """Four people waiting to join ``request_kc``, asked through the service."""
    people = []
    for name in ("Ann Able", "Ben Baker", "Cat Cole", "Dan Dale"):
        member = member_named(name)
        services.request_membership(community=request_kc, member=member, note=f"{name} asks")
        people.append(Membership.objects.get(member=member, community=request_kc))
    return people


@pytest.fixture
def rex(other_steward):
    """Rex Steward, who stewards ``request_kc``."""
    return other_steward


def test_bulk_approve_approves_all_three_selected_requests(
    client, rex, request_kc, requesters, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in(client, rex)
    chosen, left_waiting = requesters[:3], requesters[3]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("requests_decide", request_kc.slug),
            {"memberships": [m.pk for m in chosen], "decision": "approve", "reason": ""},
            follow=True,
        )

    for membership in chosen:
        membership.refresh_from_db()
        assert membership.state == State.ACTIVE
        assert membership.decided_by == rex.member
    left_waiting.refresh_from_db()
    assert left_waiting.state == State.REQUESTED
    approvals = request_kc.events.filter(action=Action.APPROVED)
    assert sorted(approvals.values_list("target_name", "actor_name")) == [
        ("Ann Able", "Rex Steward"),
        ("Ben Baker", "Rex Steward"),
        ("Cat Cole", "Rex Steward"),
    ]
    assert "Approved: Ann Able, Ben Baker, Cat Cole." in alerts(response)
    assert sorted(mail.to[0] for mail in mailoutbox) == sorted(m.member.user.email for m in chosen)
    assert all("was approved" in mail.body for mail in mailoutbox)


def test_deny_with_reason_stores_the_reason_and_emails_it(
    client, rex, request_kc, requesters, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in(client, rex)
    denied = requesters[0]
    reason = "We are full until the spring review."

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("requests_decide", request_kc.slug),
            {"memberships": [denied.pk], "decision": "deny", "reason": reason},
            follow=True,
        )

    denied.refresh_from_db()
    assert (denied.state, denied.note, denied.decided_by) == (State.DENIED, reason, rex.member)
    event = request_kc.events.get(action=Action.DENIED)
    assert (event.target_name, event.note) == ("Ann Able", reason)
    assert "Denied: Ann Able." in alerts(response)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [denied.member.user.email]
    assert "not approved" in mailoutbox[0].body
    assert reason in mailoutbox[0].body
    assert request_kc.memberships.filter(state=State.REQUESTED).count() == 3


@pytest.mark.parametrize("decision, state", [("approve", State.ACTIVE), ("deny", State.DENIED)])
def test_row_button_decides_only_its_own_request_even_with_others_ticked(
    client, rex, request_kc, requesters, decision, state
):
    sign_in(client, rex)
    target = requesters[1]

    client.post(
        url("requests_decide", request_kc.slug),
        {"memberships": [m.pk for m in requesters], "one": f"{decision}:{target.pk}"},
    )

    states = {m.member.display_name: m.state for m in request_kc.memberships.filter(role="member")}
    assert states == {
        "Ann Able": State.REQUESTED,
        "Ben Baker": state,
        "Cat Cole": State.REQUESTED,
        "Dan Dale": State.REQUESTED,
    }


@pytest.mark.parametrize(
    "data, message",
    [
        ({"decision": "approve"}, "Choose at least one request."),
        ({"decision": "shred", "memberships": ["__first__"]}, "Select a valid choice."),
        ({"one": "approve:not-a-number"}, "is not a valid value"),
    ],
    ids=["nothing-selected", "unknown-decision", "garbled-row-button"],
)
def test_bad_decision_shows_a_message_and_changes_nothing(
    client, rex, request_kc, requesters, data, message
):
    data = {
        key: [requesters[0].pk] if value == ["__first__"] else value for key, value in data.items()
    }
    sign_in(client, rex)
    before = roster_snapshot()

    response = client.post(url("requests_decide", request_kc.slug), data, follow=True)

    assert response.status_code == 200
    assert any(message in alert for alert in alerts(response))
    assert roster_snapshot() == before


def test_deny_reason_over_1000_characters_is_refused_with_a_message(
    client, rex, request_kc, requesters
):
    sign_in(client, rex)
    before = roster_snapshot()

    response = client.post(
        url("requests_decide", request_kc.slug),
        {"memberships": [requesters[0].pk], "decision": "deny", "reason": "x" * 1001},
        follow=True,
    )

    assert roster_snapshot() == before
    assert any("1000" in alert for alert in alerts(response))


def test_deciding_an_already_decided_request_is_a_message(client, rex, request_kc, requesters):
    approved = requesters[0]
    services.approve_request(community=request_kc, membership=approved, actor=rex.member)
    sign_in(client, rex)
    before = roster_snapshot()

    response = client.post(
        url("requests_decide", request_kc.slug), {"one": f"deny:{approved.pk}"}, follow=True
    )

    assert any("already decided or withdrawn" in alert for alert in alerts(response))
    assert roster_snapshot() == before


# -- adding and inviting ---------------------------------------------------------------


@pytest.fixture
def ada(db):
    return member_named("Ada Adder", username="ada", user__email="a@example.org")


@pytest.mark.parametrize(
    "mode, state, word", [("add", "active", "Added"), ("invite", "invited", "Invited")]
)
def test_pasted_list_summary_names_added_already_listed_and_unmatched(
    client, cast, steward, ada, mode, state, word
):
    sign_in(client, steward)

    response = client.post(
        url("members_add", cast.community.slug),
        {"pasted": "a@example.org, unknown@nowhere, mo", "mode": mode},
    )

    assert response.status_code == 200
    assert state_of(ada, cast.community) == (state, Role.MEMBER)
    assert state_of(cast.mo, cast.community) == (State.ACTIVE, Role.MEMBER)
    summary = page_text(response)
    assert f"{word}: 1 (Ada Adder)" in summary
    assert "Already on the list: 1 (Mo Member)" in summary
    assert "Matched no one: 1 (unknown@nowhere)" in summary
    event = cast.community.events.get(target=ada)
    assert (event.action, event.actor) == (
        Action.ADDED if mode == "add" else Action.INVITED,
        steward.member,
    )


def test_inviting_emails_the_invited_person(
    client, cast, steward, ada, mailoutbox, django_capture_on_commit_callbacks
):
    sign_in(client, steward)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("members_add", cast.community.slug), {"pasted": "ada", "mode": "invite"})

    assert [mail.to for mail in mailoutbox] == [["a@example.org"]]
    assert "Claims Turnaround" in mailoutbox[0].subject


def test_inviting_someone_who_asked_already_approves_them(client, cast, steward):
    sign_in(client, steward)

    client.post(url("members_add", cast.community.slug), {"pasted": "rhea", "mode": "invite"})

    assert state_of(cast.pending.member, cast.community) == (State.ACTIVE, Role.MEMBER)
    assert cast.community.events.filter(action=Action.APPROVED).count() == 1


def test_search_then_add_chosen_people(client, cast, steward, ada):
    sign_in(client, steward)

    search = client.get(url("members_add", cast.community.slug), {"q": "ada"})
    response = client.post(
        url("members_add", cast.community.slug) + "?q=ada",
        {"people": [m.pk for m in search.context["results"]], "mode": "add"},
    )

    assert [m.display_name for m in search.context["results"]] == ["Ada Adder"]
    assert f'name="people" value="{ada.pk}"' in search.content.decode()
    assert state_of(ada, cast.community) == (State.ACTIVE, Role.MEMBER)
    assert "Added: 1 (Ada Adder)" in page_text(response)


def test_search_leaves_out_people_already_on_the_list(client, cast, steward):
    sign_in(client, steward)

    response = client.get(url("members_add", cast.community.slug), {"q": "Mo Member"})

    assert response.context["results"] == []
    assert "No one who is not already a member matches." in page_text(response)


def test_adding_nobody_is_a_form_error_and_changes_nothing(client, cast, steward):
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.post(url("members_add", cast.community.slug), {"pasted": "", "mode": "add"})

    assert response.status_code == 200
    assert "Choose people from the search or paste a list." in page_text(response)
    assert roster_snapshot() == before


@pytest.mark.parametrize(
    "data, error",
    [
        ({"people": ["999999"], "mode": "add"}, "Select a valid choice."),
        ({"pasted": "x" * 200_001, "mode": "add"}, "at most 200000 characters"),
    ],
    ids=["unknown-person", "paste-too-long"],
)
def test_members_add_shows_what_was_wrong_with_the_input(client, cast, steward, data, error):
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.post(url("members_add", cast.community.slug), data)

    assert response.status_code == 200
    assert roster_snapshot() == before
    assert error in page_text(response)
    assert "Choose people from the search or paste a list." not in page_text(response)


def test_inviting_to_a_community_of_practice_makes_a_participant(client, cop):
    pat = member_named("Pat Person", username="pat")
    sign_in(client, cop.memberships.get(role=Role.STEWARD).member.user)

    client.post(url("members_add", cop.slug), {"pasted": "pat", "mode": "invite"})
    sign_in(client, pat.user)
    client.post(url("invitation_accept", cop.slug))

    assert state_of(pat, cop) == (State.ACTIVE, Role.PARTICIPANT)


def test_adding_to_an_archived_community_is_a_message(client, cast, steward, ada):
    Community.objects.filter(pk=cast.community.pk).update(status=Community.Status.ARCHIVED)
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.post(
        url("members_add", cast.community.slug), {"pasted": "ada", "mode": "add"}
    )

    assert response.status_code == 200
    assert any("archived" in alert for alert in alerts(response))
    assert roster_snapshot() == before


# -- roles and removal ------------------------------------------------------------------


def test_making_someone_sponsor_makes_the_previous_sponsor_a_member(client, cast, steward):
    sign_in(client, steward)
    spencer = cast.community.memberships.get(role=Role.SPONSOR)

    response = client.post(
        url("membership_role", cast.community.slug, cast.mo_membership.pk),
        {"role": "sponsor", "replacing": spencer.pk},  # as the confirmation page sends it
        follow=True,
    )

    assert (
        "Mo Member is now Sponsor. Spencer Sponsor, the previous sponsor, is now a member."
        in alerts(response)
    )
    roles = dict(
        cast.community.memberships.filter(state=State.ACTIVE).values_list(
            "member__display_name", "role"
        )
    )
    assert roles == {
        "Mo Member": Role.SPONSOR,
        "Spencer Sponsor": Role.MEMBER,
        "Stella Steward": Role.STEWARD,
    }
    changes = cast.community.events.filter(action=Action.ROLE_CHANGED)
    assert sorted(changes.values_list("target_name", "role_before", "role_after")) == [
        ("Mo Member", "member", "sponsor"),
        ("Spencer Sponsor", "sponsor", "member"),
    ]


def test_demoting_the_last_steward_is_refused_with_a_message(client, cast, steward):
    sign_in(client, steward)
    own = cast.community.memberships.get(member=steward.member)
    before = roster_snapshot()

    response = client.post(
        url("membership_role", cast.community.slug, own.pk), {"role": "member"}, follow=True
    )

    assert response.status_code == 200
    assert any("last steward" in alert for alert in alerts(response))
    assert roster_snapshot() == before


@pytest.mark.parametrize("role", ["overlord", ""])
def test_unknown_role_is_a_message_and_changes_nothing(client, cast, steward, role):
    sign_in(client, steward)
    before = roster_snapshot()

    response = client.post(
        url("membership_role", cast.community.slug, cast.mo_membership.pk),
        {"role": role},
        follow=True,
    )

    assert "Choose a role." in alerts(response)
    assert roster_snapshot() == before


def test_remove_stores_the_reason_in_membership_and_history(client, cast, steward):
    sign_in(client, steward)

    response = client.post(
        url("membership_remove", cast.community.slug, cast.mo_membership.pk),
        {"note": "Moved to another team."},
        follow=True,
    )

    cast.mo_membership.refresh_from_db()
    assert (cast.mo_membership.state, cast.mo_membership.note) == (
        State.REMOVED,
        "Moved to another team.",
    )
    event = cast.community.events.get(action=Action.REMOVED)
    assert (event.target, event.actor, event.note) == (
        cast.mo,
        steward.member,
        "Moved to another team.",
    )
    assert "Mo Member is off the list." in alerts(response)
    detail = client.get(cast.community.get_absolute_url())
    assert "Mo Member" not in [m.member.display_name for m in detail.context["roster_page"]]


def test_removing_the_last_steward_is_refused_with_a_message(client, cast, directory_admin):
    sign_in(client, directory_admin)
    stella = cast.community.memberships.get(role=Role.STEWARD)
    before = roster_snapshot()

    response = client.post(
        url("membership_remove", cast.community.slug, stella.pk), {"note": ""}, follow=True
    )

    assert any("last steward" in alert for alert in alerts(response))
    assert roster_snapshot() == before


def test_manage_page_offers_remove_only_for_people_on_the_list(client, cast, steward):
    MembershipFactory(member=member_named("Lee Left"), community=cast.community, state="left")
    sign_in(client, steward)

    response = client.get(url("community_manage", cast.community.slug), {"state": "left"})

    assert [m.member.display_name for m in response.context["roster_page"]] == ["Lee Left"]
    assert "Remove Lee Left" not in page_text(response)


# -- navbar and My communities -----------------------------------------------------------


def waiting_badge(response) -> str | None:
    """The count shown on the navbar's "My communities" link, if any."""
    link = re.search(r'href="/me/communities/">(.*?)</a>', navbar(response), re.S).group(1)
    badge = re.search(r'<span class="badge[^"]*"[^>]*>(\d+)<span class="visually-hidden">', link)
    return badge.group(1) if badge else None


def test_navbar_shows_a_steward_the_number_of_requests_waiting_for_them(
    client, cast, steward, request_kc
):
    MembershipFactory(
        member=member_named("Second Asker"), community=cast.community, state="requested"
    )
    sign_in(client, steward)

    response = client.get(DIRECTORY)

    # Two here; Otto's request to request_kc is someone else's to decide.
    assert waiting_badge(response) == "2"
    assert "requests waiting for you" in navbar(response)


def test_navbar_shows_a_directory_admin_every_waiting_request(client, cast, directory_admin):
    sign_in(client, directory_admin)

    assert waiting_badge(client.get(DIRECTORY)) == "2"  # Rhea and Otto


@pytest.mark.parametrize("role", ["outsider", "member"])
def test_navbar_shows_no_badge_to_staff(client, cast, role):
    sign_in(client, cast.users[role])

    response = client.get(DIRECTORY)

    assert waiting_badge(response) is None
    assert "requests waiting for you" not in navbar(response)


def test_my_communities_shows_memberships_requests_with_age_and_invitations(
    client, staff, open_kc, request_kc, invite_kc, cop
):
    member = staff.member
    MembershipFactory(member=member, community=open_kc)
    MembershipFactory(member=member, community=cop, role=Role.PARTICIPANT)
    asked = MembershipFactory(member=member, community=request_kc, state=State.REQUESTED)
    invited = MembershipFactory(member=member, community=invite_kc, state=State.INVITED)
    now = timezone.now()
    Membership.objects.filter(pk=asked.pk).update(updated_at=now - timedelta(days=3))
    Membership.objects.filter(pk=invited.pk).update(updated_at=now - timedelta(days=2))
    sign_in(client, staff)

    response = client.get(MY_COMMUNITIES)

    page = visible_text(response)
    assert re.search(r"Where I belong.*Claims Turnaround.*Member.*SQL Clinic.*Participant", page)
    assert re.search(r"Waiting for a steward.*Climate Risk Pricing requested 3 days ago", page)
    assert re.search(r"Invitations to answer.*Pricing Council invited 2 days ago", page)
    assert "Requests waiting for you" not in page


def test_my_communities_shows_a_steward_the_requests_waiting_for_them(client, cast, steward):
    Membership.objects.filter(pk=cast.pending.pk).update(
        updated_at=timezone.now() - timedelta(days=4)
    )
    sign_in(client, steward)

    response = client.get(MY_COMMUNITIES)

    page = visible_text(response)
    assert "Requests waiting for you" in page
    assert "Rhea Requester asks to join Claims Turnaround (4 days)" in page
    assert "Otto Other" not in page
    assert f'href="{url("community_manage", cast.community.slug)}"' in response.content.decode()


def test_my_communities_empty_state_says_what_to_do(client, outsider):
    sign_in(client, outsider)

    response = client.get(MY_COMMUNITIES)

    assert "You are not in any community yet." in page_text(response)
    assert "Browse the directory" in page_text(response)


# -- history pages -------------------------------------------------------------------------


def make_events(community, target, count: int, *, action=Action.JOINED, start=None):
    """``count`` events, one minute apart, oldest first; their notes number them."""
    start = start or timezone.now() - timedelta(days=10)
    return MembershipEvent.objects.bulk_create(
        MembershipEvent(
            community=community,
            target=target,
            target_name=target.display_name,
            action=action,
            state_after=State.ACTIVE,
            note=f"event {n}",
            created_at=start + timedelta(minutes=n),
        )
        for n in range(count)
    )


@pytest.fixture
def history(cast):
    """Mixed events in open_kc and one in request_kc, at known times."""
    MembershipEvent.objects.all().delete()
    start = timezone.now() - timedelta(days=5)
    for n, (community, action) in enumerate(
        [
            (cast.community, Action.JOINED),
            (cast.community, Action.REQUESTED),
            (cast.other_community, Action.JOINED),
            (cast.community, Action.ROLE_CHANGED),
            (cast.community, Action.JOINED),
        ]
    ):
        MembershipEvent.objects.create(
            community=community,
            target=cast.mo,
            target_name="Mo Member",
            action=action,
            note=f"step {n}",
            created_at=start + timedelta(hours=n),
        )
    return cast


@pytest.mark.parametrize("page", ["community", "member"])
def test_history_is_newest_first(client, history, directory_admin, page):
    path = (
        url("community_history", history.community.slug)
        if page == "community"
        else reverse("members:member_history", args=["mo"])
    )
    sign_in(client, directory_admin)

    response = client.get(path)

    notes = [e.note for e in response.context["page_obj"]]
    expected = ["step 4", "step 3", "step 1", "step 0"]
    if page == "member":  # a person's history spans communities
        expected = ["step 4", "step 3", "step 2", "step 1", "step 0"]
    assert notes == expected
    rendered = re.findall(r"step \d", response.content.decode())
    assert rendered == expected


@pytest.mark.parametrize("page", ["community", "member"])
def test_history_action_filter_narrows(client, history, directory_admin, page):
    path = (
        url("community_history", history.community.slug)
        if page == "community"
        else reverse("members:member_history", args=["mo"])
    )
    sign_in(client, directory_admin)

    response = client.get(path, {"action": "joined"})

    events = list(response.context["page_obj"])
    assert {e.action for e in events} == {Action.JOINED}
    assert [e.note for e in events] == (
        ["step 4", "step 0"] if page == "community" else ["step 4", "step 2", "step 0"]
    )
    assert "step 3" not in response.content.decode()


def test_unknown_history_action_filter_shows_everything(client, history, steward):
    sign_in(client, steward)

    response = client.get(url("community_history", history.community.slug), {"action": "bogus"})

    assert response.status_code == 200
    assert len(response.context["page_obj"]) == 4


@pytest.mark.parametrize("page", ["community", "member"])
def test_history_is_paginated_by_50(client, cast, directory_admin, page):
    MembershipEvent.objects.all().delete()
    make_events(cast.community, cast.mo, 53)
    path = (
        url("community_history", cast.community.slug)
        if page == "community"
        else reverse("members:member_history", args=["mo"])
    )
    sign_in(client, directory_admin)

    first = client.get(path)
    second = client.get(path, {"page": 2})

    assert [e.note for e in first.context["page_obj"]][:2] == ["event 52", "event 51"]
    assert len(first.context["page_obj"]) == 50
    assert 'href="?page=2"' in first.content.decode()
    assert [e.note for e in second.context["page_obj"]] == ["event 2", "event 1", "event 0"]
    assert "Showing 51–53 of 53" in page_text(second)


def test_history_pagination_keeps_the_action_filter(client, cast, steward):
    MembershipEvent.objects.all().delete()
    make_events(cast.community, cast.mo, 51, action=Action.LEFT)
    make_events(cast.community, cast.mo, 5, action=Action.JOINED)
    sign_in(client, steward)

    response = client.get(url("community_history", cast.community.slug), {"action": "left"})

    assert response.context["page_obj"].paginator.count == 51
    assert "action=left" in html.unescape(
        re.search(r'href="([^"]*page=2[^"]*)"', response.content.decode()).group(1)
    )


def test_the_roster_changes_made_through_the_pages_appear_in_history(client, cast, steward):
    sign_in(client, steward)
    client.post(url("requests_decide", cast.community.slug), {"one": f"approve:{cast.pending.pk}"})
    client.post(
        url("membership_role", cast.community.slug, cast.mo_membership.pk), {"role": "steward"}
    )

    response = client.get(url("community_history", cast.community.slug))

    rows = [(e.action, e.target_name, e.actor_name) for e in response.context["page_obj"]]
    assert rows == [
        (Action.ROLE_CHANGED, "Mo Member", "Stella Steward"),
        (Action.APPROVED, "Rhea Requester", "Stella Steward"),
        (Action.JOINED, "Mo Member", "Mo Member"),
    ]
