"""Membership services: every transition of the roster state machine and every refusal.

Each successful change must leave the membership in the state the docstring of
``communities/services`` promises and write exactly one ``MembershipEvent``
(two when appointing a sponsor demotes the previous one); each refusal raises
``MembershipError`` with a message that says why, and changes nothing at all.
The replay tests rebuild the roster from the history alone and compare it with
the ``Membership`` table.
"""

import random
from collections import Counter
from contextlib import contextmanager

import pytest
from django.db.models import Max

from communities import services
from communities.models import Community, Membership, MembershipEvent
from communities.services import BulkResult, MembershipError
from members.models import Member

from .factories import CommunityFactory, MemberFactory, led_kc, person_in

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action
Policy = Community.JoinPolicy
Status = Community.Status

LAST_STEWARD = r"is the last steward of .*Make someone else a steward first"


# -- helpers ---------------------------------------------------------------------------


def membership_of(community: Community, member: Member) -> Membership:
    return Membership.objects.get(community=community, member=member)


def steward_of(community: Community) -> Membership:
    return community.memberships.get(state=State.ACTIVE, role=Role.STEWARD)


def steward_of_first(community: Community) -> Member:
    """The steward ``led_kc`` made (the earliest active steward row)."""
    return (
        community.memberships.filter(state=State.ACTIVE, role=Role.STEWARD)
        .order_by("pk")
        .first()
        .member
    )


def last_event_pk() -> int:
    return MembershipEvent.objects.aggregate(last=Max("pk"))["last"] or 0


def events_since(pk: int, **filters) -> list[MembershipEvent]:
    return list(MembershipEvent.objects.filter(pk__gt=pk, **filters).order_by("created_at", "pk"))


def only_event_since(pk: int) -> MembershipEvent:
    events = events_since(pk)
    assert len(events) == 1, f"expected exactly one event, got {[e.action for e in events]}"
    return events[0]


def assert_event(
    event: MembershipEvent,
    *,
    community: Community,
    actor: Member,
    target: Member,
    action: str,
    state: tuple[str, str],
    role: tuple[str, str],
    note: str = "",
) -> None:
    """``state`` and ``role`` are (before, after) pairs."""
    actual = {
        "community": event.community_id,
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "target": event.target_id,
        "target_name": event.target_name,
        "action": event.action,
        "state": (event.state_before, event.state_after),
        "role": (event.role_before, event.role_after),
        "note": event.note,
    }
    expected = {
        "community": community.pk,
        "actor": actor.pk,
        "actor_name": actor.display_name,
        "target": target.pk,
        "target_name": target.display_name,
        "action": action,
        "state": state,
        "role": role,
        "note": note,
    }
    assert actual == expected


def membership_snapshot(community: Community) -> list[dict]:
    """Every column of every membership row (``updated_at`` shows any save)."""
    return list(Membership.objects.filter(community=community).order_by("pk").values())


@contextmanager
def refused(community: Community, match: str):
    """The block must raise ``MembershipError`` matching ``match`` and change nothing."""
    rows_before = membership_snapshot(community)
    events_before = MembershipEvent.objects.count()
    with pytest.raises(MembershipError, match=match):
        yield
    assert membership_snapshot(community) == rows_before
    assert MembershipEvent.objects.count() == events_before


def assert_history_replays_to_roster(community: Community) -> None:
    """Rebuild every (member, community) state and role from the events alone.

    Each event must start where the previous one for the same person ended
    (the first from nothing), and the last one must match the table.
    """
    replayed: dict[int, tuple[str, str]] = {}
    events = MembershipEvent.objects.filter(community=community).order_by("created_at", "pk")
    for event in events:
        before = replayed.get(event.target_id, ("", ""))
        assert (event.state_before, event.role_before) == before, (
            f"event {event.pk} ({event.action} {event.target_name}) does not follow on"
        )
        replayed[event.target_id] = (event.state_after, event.role_after)
    table = {m.member_id: (m.state, m.role) for m in Membership.objects.filter(community=community)}
    assert replayed == table


def community_through_services(
    admin: Member, *, kind: str = Community.Kind.KC, join_policy: str = Policy.OPEN
) -> Community:
    """A community whose whole roster was made by services, so its history is complete."""
    community = CommunityFactory(kind=kind, join_policy=join_policy)
    steward = MemberFactory()
    leaders = [steward]
    if kind == Community.Kind.KC:
        sponsor = MemberFactory()
        leaders.append(sponsor)
    services.add_members(community=community, members=leaders, actor=admin)
    services.change_role(
        community=community,
        membership=membership_of(community, steward),
        actor=admin,
        role=Role.STEWARD,
    )
    if kind == Community.Kind.KC:
        services.change_role(
            community=community,
            membership=membership_of(community, sponsor),
            actor=admin,
            role=Role.SPONSOR,
        )
    return community


@pytest.fixture
def admin(directory_admin) -> Member:
    return directory_admin.member


# -- join ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior_state", "prior_role"),
    [(None, ""), (State.LEFT, Role.STEWARD), (State.DENIED, Role.MEMBER)],
    ids=["new", "left-as-steward", "denied"],
)
def test_join_open_kc_makes_an_active_member_with_one_joined_event(
    open_kc, prior_state, prior_role
):
    person = person_in(open_kc, prior_state, prior_role or Role.MEMBER)
    since = last_event_pk()

    returned = services.join_community(community=open_kc, member=person)

    row = membership_of(open_kc, person)
    assert (row.pk, row.state, row.role) == (returned.pk, State.ACTIVE, Role.MEMBER)
    assert_event(
        only_event_since(since),
        community=open_kc,
        actor=person,
        target=person,
        action=Action.JOINED,
        state=(prior_state or "", State.ACTIVE),
        role=(prior_role, Role.MEMBER),
    )


def test_join_is_allowed_in_a_dormant_open_kc():
    kc = led_kc(join_policy=Policy.OPEN, status=Status.DORMANT)
    person = MemberFactory()

    services.join_community(community=kc, member=person)

    assert membership_of(kc, person).state == State.ACTIVE


@pytest.mark.parametrize("policy", [Policy.REQUEST, Policy.INVITE])
def test_join_is_refused_by_request_and_invite_kcs(policy):
    kc = led_kc(join_policy=policy)
    person = MemberFactory()

    with refused(kc, "does not take members directly"):
        services.join_community(community=kc, member=person)

    assert not Membership.objects.filter(member=person).exists()


@pytest.mark.parametrize(
    ("state", "match"),
    [
        (State.REMOVED, "A steward removed you"),
        (State.ACTIVE, "already a member"),
        (State.REQUESTED, "request is already waiting"),
        (State.INVITED, "accept the invitation instead"),
    ],
)
def test_join_is_refused_for_people_removed_or_already_on_the_list(open_kc, state, match):
    person = person_in(open_kc, state)

    with refused(open_kc, match):
        services.join_community(community=open_kc, member=person)


@pytest.mark.parametrize(
    ("status", "match"),
    [(Status.ARCHIVED, "archived and accepts no new members"), (Status.PROPOSED, "only proposed")],
)
@pytest.mark.parametrize("kind", [Community.Kind.KC, Community.Kind.COP])
def test_join_is_refused_by_archived_and_proposed_communities(status, match, kind):
    community = CommunityFactory(kind=kind, status=status, join_policy=Policy.OPEN)
    person = MemberFactory()

    with refused(community, match):
        services.join_community(community=community, member=person)


def test_join_cop_makes_an_active_participant_recorded_as_practising(cop):
    person = MemberFactory()
    since = last_event_pk()

    services.join_community(community=cop, member=person)

    row = membership_of(cop, person)
    assert (row.state, row.role) == (State.ACTIVE, Role.PARTICIPANT)
    assert_event(
        only_event_since(since),
        community=cop,
        actor=person,
        target=person,
        action=Action.PRACTISING,
        state=("", State.ACTIVE),
        role=("", Role.PARTICIPANT),
    )


def test_join_cop_is_refused_for_someone_already_practising(cop):
    person = person_in(cop, State.ACTIVE, Role.PARTICIPANT)

    with refused(cop, "already a member"):
        services.join_community(community=cop, member=person)


# -- request ---------------------------------------------------------------------------


@pytest.mark.parametrize("prior_state", [None, State.LEFT, State.DENIED, State.REMOVED])
def test_request_to_join_a_request_kc_waits_with_the_note_stored(request_kc, prior_state):
    person = person_in(request_kc, prior_state)
    since = last_event_pk()

    services.request_membership(community=request_kc, member=person, note="I price flood risk.")

    row = membership_of(request_kc, person)
    assert (row.state, row.role, row.note) == (State.REQUESTED, Role.MEMBER, "I price flood risk.")
    assert_event(
        only_event_since(since),
        community=request_kc,
        actor=person,
        target=person,
        action=Action.REQUESTED,
        state=(prior_state or "", State.REQUESTED),
        role=("" if prior_state is None else Role.MEMBER, Role.MEMBER),
        note="I price flood risk.",
    )


@pytest.mark.parametrize("policy", [Policy.OPEN, Policy.INVITE])
def test_request_is_refused_by_open_and_invite_kcs(policy):
    kc = led_kc(join_policy=policy)

    with refused(kc, "does not take requests"):
        services.request_membership(community=kc, member=MemberFactory(), note="Please")


def test_request_is_refused_by_a_cop(cop):
    with refused(cop, "Communities of practice have no membership list"):
        services.request_membership(community=cop, member=MemberFactory())


@pytest.mark.parametrize(
    ("state", "match"),
    [
        (State.ACTIVE, "already a member"),
        (State.REQUESTED, "request is already waiting"),
        (State.INVITED, "accept the invitation instead"),
    ],
)
def test_request_is_refused_for_people_already_on_the_list(request_kc, state, match):
    person = person_in(request_kc, state)

    with refused(request_kc, match):
        services.request_membership(community=request_kc, member=person, note="Again")


@pytest.mark.parametrize(
    ("status", "match"), [(Status.ARCHIVED, "archived"), (Status.PROPOSED, "only proposed")]
)
def test_request_is_refused_by_archived_and_proposed_kcs(status, match):
    kc = led_kc(join_policy=Policy.REQUEST, status=status)

    with refused(kc, match):
        services.request_membership(community=kc, member=MemberFactory())


# -- cancel ----------------------------------------------------------------------------


def test_cancel_request_leaves_with_one_cancelled_event(request_kc):
    person = person_in(request_kc, State.REQUESTED)
    since = last_event_pk()

    services.cancel_request(community=request_kc, member=person)

    assert membership_of(request_kc, person).state == State.LEFT
    assert_event(
        only_event_since(since),
        community=request_kc,
        actor=person,
        target=person,
        action=Action.CANCELLED,
        state=(State.REQUESTED, State.LEFT),
        role=(Role.MEMBER, Role.MEMBER),
    )


@pytest.mark.parametrize(
    "state", [None, State.ACTIVE, State.INVITED, State.LEFT, State.DENIED, State.REMOVED]
)
def test_cancel_request_is_refused_without_a_waiting_request(request_kc, state):
    person = person_in(request_kc, state)

    with refused(request_kc, "You have no request waiting here"):
        services.cancel_request(community=request_kc, member=person)


# -- accept and decline an invitation ---------------------------------------------------


def test_accept_invitation_makes_an_active_member(invite_kc):
    person = person_in(invite_kc, State.INVITED)
    since = last_event_pk()

    services.accept_invitation(community=invite_kc, member=person)

    row = membership_of(invite_kc, person)
    assert (row.state, row.role) == (State.ACTIVE, Role.MEMBER)
    assert_event(
        only_event_since(since),
        community=invite_kc,
        actor=person,
        target=person,
        action=Action.ACCEPTED,
        state=(State.INVITED, State.ACTIVE),
        role=(Role.MEMBER, Role.MEMBER),
    )


def test_decline_invitation_leaves(invite_kc):
    person = person_in(invite_kc, State.INVITED)
    since = last_event_pk()

    services.decline_invitation(community=invite_kc, member=person)

    assert membership_of(invite_kc, person).state == State.LEFT
    assert_event(
        only_event_since(since),
        community=invite_kc,
        actor=person,
        target=person,
        action=Action.DECLINED,
        state=(State.INVITED, State.LEFT),
        role=(Role.MEMBER, Role.MEMBER),
    )


@pytest.mark.parametrize("state", [None, State.ACTIVE, State.REQUESTED, State.LEFT, State.REMOVED])
@pytest.mark.parametrize(
    "answer", [services.accept_invitation, services.decline_invitation], ids=["accept", "decline"]
)
def test_answering_is_refused_without_an_invitation(invite_kc, state, answer):
    person = person_in(invite_kc, state)

    with refused(invite_kc, "You have no invitation to this community"):
        answer(community=invite_kc, member=person)


def test_accepting_an_invitation_to_an_archived_community_is_refused():
    kc = led_kc(join_policy=Policy.INVITE, status=Status.ARCHIVED)
    person = person_in(kc, State.INVITED)

    with refused(kc, "archived"):
        services.accept_invitation(community=kc, member=person)


# -- leave -----------------------------------------------------------------------------


def test_leave_community_leaves_and_keeps_the_role_for_history(open_kc):
    person = person_in(open_kc, State.ACTIVE)
    since = last_event_pk()

    services.leave_community(community=open_kc, member=person)

    row = membership_of(open_kc, person)
    assert (row.state, row.role) == (State.LEFT, Role.MEMBER)
    assert_event(
        only_event_since(since),
        community=open_kc,
        actor=person,
        target=person,
        action=Action.LEFT,
        state=(State.ACTIVE, State.LEFT),
        role=(Role.MEMBER, Role.MEMBER),
    )


@pytest.mark.parametrize(
    "state", [None, State.REQUESTED, State.INVITED, State.LEFT, State.REMOVED, State.DENIED]
)
def test_leave_is_refused_for_someone_not_active(open_kc, state):
    person = person_in(open_kc, state)

    with refused(open_kc, "You are not a member of this community"):
        services.leave_community(community=open_kc, member=person)


# -- the last steward --------------------------------------------------------------------


def _leave(community, membership, actor):
    return services.leave_community(community=community, member=membership.member)


def _remove(community, membership, actor):
    return services.remove_member(community=community, membership=membership, actor=actor)


def _demote(community, membership, actor):
    role = Role.MEMBER if community.is_kc else Role.PARTICIPANT
    return services.change_role(community=community, membership=membership, actor=actor, role=role)


STEWARD_EXITS = {"leave": _leave, "remove": _remove, "demote": _demote}


def expected_after_exit(exit_name: str, community: Community) -> tuple[str, str]:
    return {
        "leave": (State.LEFT, Role.STEWARD),
        "remove": (State.REMOVED, Role.STEWARD),
        "demote": (State.ACTIVE, Role.MEMBER if community.is_kc else Role.PARTICIPANT),
    }[exit_name]


# Said to the steward who tries to leave; said of them to whoever removes or demotes them.
LAST_STEWARD_REFUSALS = {
    "leave": r"^You are the only steward of Claims Turnaround\. Make someone else steward "
    r"first \(on the Manage membership page\), then you can leave\.$",
    "remove": rf"Stella Steward {LAST_STEWARD}",
    "demote": rf"Stella Steward {LAST_STEWARD}",
}


@pytest.mark.parametrize("exit_name", STEWARD_EXITS)
def test_last_steward_of_an_active_kc_cannot_leave_be_removed_or_be_demoted(
    open_kc, admin, exit_name
):
    last = steward_of(open_kc)

    with refused(open_kc, LAST_STEWARD_REFUSALS[exit_name]):
        STEWARD_EXITS[exit_name](open_kc, last, admin)

    assert steward_of(open_kc).pk == last.pk


@pytest.mark.parametrize("role", [Role.MEMBER, Role.SPONSOR])
def test_last_steward_of_an_active_kc_cannot_be_moved_to_another_role(open_kc, admin, role):
    with refused(open_kc, LAST_STEWARD):
        services.change_role(
            community=open_kc, membership=steward_of(open_kc), actor=admin, role=role
        )


def test_a_steward_who_left_does_not_count_as_another_steward(open_kc, admin):
    person_in(open_kc, State.LEFT, Role.STEWARD)
    person_in(open_kc, State.INVITED, Role.STEWARD)

    with refused(open_kc, LAST_STEWARD):
        services.remove_member(community=open_kc, membership=steward_of(open_kc), actor=admin)


@pytest.mark.parametrize("exit_name", STEWARD_EXITS)
def test_a_steward_can_step_down_when_another_steward_remains(open_kc, admin, exit_name):
    leaving = steward_of(open_kc)
    person_in(open_kc, State.ACTIVE, Role.STEWARD)
    since = last_event_pk()

    STEWARD_EXITS[exit_name](open_kc, leaving, admin)

    leaving.refresh_from_db()
    assert (leaving.state, leaving.role) == expected_after_exit(exit_name, open_kc)
    event = only_event_since(since)
    assert (event.target_id, event.state_before, event.role_before) == (
        leaving.member_id,
        State.ACTIVE,
        Role.STEWARD,
    )
    assert open_kc.memberships.filter(state=State.ACTIVE, role=Role.STEWARD).count() == 1


@pytest.mark.parametrize("exit_name", STEWARD_EXITS)
@pytest.mark.parametrize("status", [Status.DORMANT, Status.ARCHIVED])
def test_last_steward_can_step_down_from_a_kc_that_is_not_active(admin, status, exit_name):
    kc = led_kc(join_policy=Policy.OPEN, status=status)
    last = steward_of(kc)

    STEWARD_EXITS[exit_name](kc, last, admin)

    last.refresh_from_db()
    assert (last.state, last.role) == expected_after_exit(exit_name, kc)


@pytest.mark.parametrize("exit_name", STEWARD_EXITS)
def test_last_steward_can_step_down_from_a_cop(cop, admin, exit_name):
    last = steward_of(cop)

    STEWARD_EXITS[exit_name](cop, last, admin)

    last.refresh_from_db()
    assert (last.state, last.role) == expected_after_exit(exit_name, cop)
    assert not cop.memberships.filter(state=State.ACTIVE, role=Role.STEWARD).exists()


# -- approve and deny ------------------------------------------------------------------


def test_approve_request_makes_an_active_member_decided_by_the_steward(request_kc):
    steward = steward_of(request_kc).member
    person = person_in(request_kc, State.REQUESTED)
    since = last_event_pk()

    services.approve_request(
        community=request_kc,
        membership=membership_of(request_kc, person),
        actor=steward,
        note="Welcome aboard",
    )

    row = membership_of(request_kc, person)
    assert (row.state, row.role, row.decided_by) == (State.ACTIVE, Role.MEMBER, steward)
    assert row.decided_at is not None
    assert_event(
        only_event_since(since),
        community=request_kc,
        actor=steward,
        target=person,
        action=Action.APPROVED,
        state=(State.REQUESTED, State.ACTIVE),
        role=(Role.MEMBER, Role.MEMBER),
        note="Welcome aboard",
    )


def test_deny_request_stores_the_reason_in_the_note(request_kc):
    steward = steward_of(request_kc).member
    person = person_in(request_kc, State.REQUESTED)
    since = last_event_pk()

    services.deny_request(
        community=request_kc,
        membership=membership_of(request_kc, person),
        actor=steward,
        reason="We are full until March.",
    )

    row = membership_of(request_kc, person)
    assert (row.state, row.note, row.decided_by) == (
        State.DENIED,
        "We are full until March.",
        steward,
    )
    assert_event(
        only_event_since(since),
        community=request_kc,
        actor=steward,
        target=person,
        action=Action.DENIED,
        state=(State.REQUESTED, State.DENIED),
        role=(Role.MEMBER, Role.MEMBER),
        note="We are full until March.",
    )


def _approve(community, membership, actor):
    return services.approve_request(community=community, membership=membership, actor=actor)


def _deny(community, membership, actor):
    return services.deny_request(
        community=community, membership=membership, actor=actor, reason="No"
    )


DECISIONS = {"approve": _approve, "deny": _deny}


@pytest.mark.parametrize(
    "state", [State.ACTIVE, State.INVITED, State.LEFT, State.DENIED, State.REMOVED]
)
@pytest.mark.parametrize("decision", DECISIONS)
def test_decisions_are_refused_unless_a_request_is_waiting(request_kc, state, decision):
    person = person_in(request_kc, state)

    with refused(request_kc, "has no request waiting"):
        DECISIONS[decision](
            request_kc, membership_of(request_kc, person), steward_of(request_kc).member
        )


def test_approving_twice_is_refused_and_changes_nothing(request_kc):
    steward = steward_of(request_kc).member
    membership = membership_of(request_kc, person_in(request_kc, State.REQUESTED))
    services.approve_request(community=request_kc, membership=membership, actor=steward)

    with refused(request_kc, "already decided or withdrawn"):
        services.approve_request(community=request_kc, membership=membership, actor=steward)

    assert membership_of(request_kc, membership.member).state == State.ACTIVE
    assert request_kc.events.filter(action=Action.APPROVED).count() == 1


def test_approving_in_an_archived_community_is_refused_and_the_request_waits():
    kc = led_kc(join_policy=Policy.REQUEST, status=Status.ARCHIVED)
    membership = membership_of(kc, person_in(kc, State.REQUESTED))

    with refused(kc, "archived"):
        services.approve_request(community=kc, membership=membership, actor=steward_of(kc).member)


@pytest.mark.parametrize(
    "act",
    [
        _approve,
        _deny,
        _remove,
        lambda c, m, a: services.change_role(community=c, membership=m, actor=a, role=Role.STEWARD),
    ],
    ids=["approve", "deny", "remove", "change_role"],
)
def test_acting_on_a_membership_of_another_community_is_refused(open_kc, request_kc, act):
    elsewhere = membership_of(request_kc, person_in(request_kc, State.REQUESTED))
    rows_elsewhere = membership_snapshot(request_kc)

    with refused(open_kc, "not on this community's list"):
        act(open_kc, elsewhere, steward_of(open_kc).member)

    assert membership_snapshot(request_kc) == rows_elsewhere


# -- the same row, again ---------------------------------------------------------------


def test_someone_who_left_and_joins_again_reuses_the_row_and_history_keeps_both(open_kc):
    person = MemberFactory()
    first = services.join_community(community=open_kc, member=person)
    services.leave_community(community=open_kc, member=person)
    again = services.join_community(community=open_kc, member=person)

    assert again.pk == first.pk
    assert Membership.objects.filter(community=open_kc, member=person).count() == 1
    history = events_since(0, target=person)
    assert [(e.action, e.state_before, e.state_after) for e in history] == [
        (Action.JOINED, "", State.ACTIVE),
        (Action.LEFT, State.ACTIVE, State.LEFT),
        (Action.JOINED, State.LEFT, State.ACTIVE),
    ]


def test_someone_denied_who_asks_again_reuses_the_row_and_history_keeps_both(request_kc):
    steward = steward_of(request_kc).member
    person = MemberFactory()
    first = services.request_membership(community=request_kc, member=person, note="First ask")
    services.deny_request(community=request_kc, membership=first, actor=steward, reason="Not yet")
    again = services.request_membership(community=request_kc, member=person, note="Second ask")
    services.approve_request(community=request_kc, membership=again, actor=steward)

    assert again.pk == first.pk
    row = membership_of(request_kc, person)
    assert (row.state, row.note) == (State.ACTIVE, "Second ask")
    history = events_since(0, target=person)
    assert [(e.action, e.state_after, e.note) for e in history] == [
        (Action.REQUESTED, State.REQUESTED, "First ask"),
        (Action.DENIED, State.DENIED, "Not yet"),
        (Action.REQUESTED, State.REQUESTED, "Second ask"),
        (Action.APPROVED, State.ACTIVE, ""),
    ]


# -- add and invite --------------------------------------------------------------------


def test_add_members_makes_people_active_and_reports_who_was_already(open_kc, admin):
    newcomer = MemberFactory()
    former_steward = person_in(open_kc, State.LEFT, Role.STEWARD)
    invitee = person_in(open_kc, State.INVITED)
    requester = person_in(open_kc, State.REQUESTED)
    removed = person_in(open_kc, State.REMOVED)
    active = person_in(open_kc, State.ACTIVE)
    since = last_event_pk()

    result = services.add_members(
        community=open_kc,
        members=[newcomer, former_steward, active, invitee, requester, removed],
        actor=admin,
    )

    assert isinstance(result, BulkResult)
    assert result.done == [newcomer, former_steward, invitee, requester, removed]
    assert result.already == [active]
    for person in result.done:
        row = membership_of(open_kc, person)
        assert (row.state, row.role, row.decided_by) == (State.ACTIVE, Role.MEMBER, admin)
    events = events_since(since)
    # Adding someone who asked to join is saying yes to them: "approved".
    assert [(e.target_id, e.action, e.actor_id) for e in events] == [
        (person.pk, Action.APPROVED if person == requester else Action.ADDED, admin.pk)
        for person in result.done
    ]
    assert [(e.state_before, e.role_before) for e in events] == [
        ("", ""),
        (State.LEFT, Role.STEWARD),
        (State.INVITED, Role.MEMBER),
        (State.REQUESTED, Role.MEMBER),
        (State.REMOVED, Role.MEMBER),
    ]


def test_add_members_to_a_cop_adds_participants(cop, admin):
    person = MemberFactory()
    since = last_event_pk()

    result = services.add_members(community=cop, members=[person], actor=admin)

    assert result.done == [person]
    assert membership_of(cop, person).role == Role.PARTICIPANT
    assert_event(
        only_event_since(since),
        community=cop,
        actor=admin,
        target=person,
        action=Action.ADDED,
        state=("", State.ACTIVE),
        role=("", Role.PARTICIPANT),
    )


def test_add_members_reports_a_person_listed_twice_as_already_the_second_time(open_kc, admin):
    person = MemberFactory()
    since = last_event_pk()

    result = services.add_members(community=open_kc, members=[person, person], actor=admin)

    assert (result.done, result.already) == ([person], [person])
    assert len(events_since(since)) == 1


def test_invite_members_invites_and_reports_who_was_already_on_the_list(invite_kc, admin):
    newcomer = MemberFactory()
    former = person_in(invite_kc, State.LEFT, Role.STEWARD)
    denied = person_in(invite_kc, State.DENIED)
    removed = person_in(invite_kc, State.REMOVED)
    invited = person_in(invite_kc, State.INVITED)
    active = person_in(invite_kc, State.ACTIVE)
    since = last_event_pk()

    result = services.add_members(
        community=invite_kc,
        members=[newcomer, invited, former, active, denied, removed],
        actor=admin,
        invite=True,
    )

    assert result.done == [newcomer, former, denied, removed]
    assert result.already == [invited, active]
    for person in result.done:
        row = membership_of(invite_kc, person)
        assert (row.state, row.role) == (State.INVITED, Role.MEMBER)
    events = events_since(since)
    assert [(e.target_id, e.action, e.state_after, e.role_after) for e in events] == [
        (person.pk, Action.INVITED, State.INVITED, Role.MEMBER) for person in result.done
    ]
    assert membership_of(invite_kc, active).state == State.ACTIVE


def test_inviting_someone_who_requested_approves_them(
    request_kc, admin, mailoutbox, django_capture_on_commit_callbacks
):
    requester = person_in(request_kc, State.REQUESTED)
    since = last_event_pk()

    with django_capture_on_commit_callbacks(execute=True):
        result = services.add_members(
            community=request_kc, members=[requester], actor=admin, invite=True
        )

    assert result.done == [requester]
    row = membership_of(request_kc, requester)
    assert (row.state, row.decided_by) == (State.ACTIVE, admin)
    assert_event(
        only_event_since(since),
        community=request_kc,
        actor=admin,
        target=requester,
        action=Action.APPROVED,
        state=(State.REQUESTED, State.ACTIVE),
        role=(Role.MEMBER, Role.MEMBER),
    )
    # They hear the decision, not an invitation to something they already asked for.
    assert [(email.to, "was approved" in email.body) for email in mailoutbox] == [
        ([requester.email], True)
    ]


@pytest.mark.parametrize("invite", [False, True], ids=["add", "invite"])
@pytest.mark.parametrize(
    ("status", "match"), [(Status.ARCHIVED, "archived"), (Status.PROPOSED, "only proposed")]
)
def test_add_members_is_refused_by_archived_and_proposed_communities(admin, invite, status, match):
    kc = led_kc(join_policy=Policy.OPEN, status=status)

    with refused(kc, match):
        services.add_members(community=kc, members=[MemberFactory()], actor=admin, invite=invite)


def test_an_accepted_invitation_to_a_cop_makes_a_participant(cop, admin):
    person = MemberFactory()

    services.add_members(community=cop, members=[person], actor=admin, invite=True)
    services.accept_invitation(community=cop, member=person)

    assert membership_of(cop, person).role == Role.PARTICIPANT


# -- remove ----------------------------------------------------------------------------


def test_remove_member_takes_an_active_member_off_with_the_reason(open_kc, admin):
    person = person_in(open_kc, State.ACTIVE)
    since = last_event_pk()

    services.remove_member(
        community=open_kc,
        membership=membership_of(open_kc, person),
        actor=admin,
        reason="Left the company",
    )

    row = membership_of(open_kc, person)
    assert (row.state, row.note, row.decided_by) == (State.REMOVED, "Left the company", admin)
    assert_event(
        only_event_since(since),
        community=open_kc,
        actor=admin,
        target=person,
        action=Action.REMOVED,
        state=(State.ACTIVE, State.REMOVED),
        role=(Role.MEMBER, Role.MEMBER),
        note="Left the company",
    )


@pytest.mark.parametrize("state", [State.INVITED, State.REQUESTED])
def test_remove_member_withdraws_an_invitation_or_a_request(request_kc, admin, state):
    person = person_in(request_kc, state)
    since = last_event_pk()

    services.remove_member(
        community=request_kc, membership=membership_of(request_kc, person), actor=admin
    )

    assert membership_of(request_kc, person).state == State.REMOVED
    assert_event(
        only_event_since(since),
        community=request_kc,
        actor=admin,
        target=person,
        action=Action.REMOVED,
        state=(state, State.REMOVED),
        role=(Role.MEMBER, Role.MEMBER),
    )
    with refused(request_kc, "accept the invitation|does not take members directly"):
        services.join_community(community=request_kc, member=person)


@pytest.mark.parametrize("state", [State.LEFT, State.REMOVED, State.DENIED])
def test_remove_member_is_refused_for_someone_not_on_the_list(open_kc, admin, state):
    person = person_in(open_kc, state)

    with refused(open_kc, "is not on the list"):
        services.remove_member(
            community=open_kc, membership=membership_of(open_kc, person), actor=admin
        )


# -- change role -----------------------------------------------------------------------


def test_change_role_makes_a_member_a_steward(open_kc, admin):
    person = person_in(open_kc, State.ACTIVE)
    since = last_event_pk()

    services.change_role(
        community=open_kc,
        membership=membership_of(open_kc, person),
        actor=admin,
        role=Role.STEWARD,
    )

    row = membership_of(open_kc, person)
    assert (row.state, row.role, row.decided_by) == (State.ACTIVE, Role.STEWARD, admin)
    assert_event(
        only_event_since(since),
        community=open_kc,
        actor=admin,
        target=person,
        action=Action.ROLE_CHANGED,
        state=(State.ACTIVE, State.ACTIVE),
        role=(Role.MEMBER, Role.STEWARD),
    )


def test_change_role_makes_a_second_steward_a_member(open_kc, admin):
    second = person_in(open_kc, State.ACTIVE, Role.STEWARD)
    since = last_event_pk()

    services.change_role(
        community=open_kc, membership=membership_of(open_kc, second), actor=admin, role=Role.MEMBER
    )

    assert membership_of(open_kc, second).role == Role.MEMBER
    assert only_event_since(since).role_before == Role.STEWARD


def test_appointing_a_sponsor_demotes_the_previous_sponsor_with_two_events(open_kc, admin):
    previous = open_kc.memberships.get(role=Role.SPONSOR).member
    person = person_in(open_kc, State.ACTIVE)
    since = last_event_pk()

    services.change_role(
        community=open_kc,
        membership=membership_of(open_kc, person),
        actor=admin,
        role=Role.SPONSOR,
    )

    assert membership_of(open_kc, person).role == Role.SPONSOR
    assert membership_of(open_kc, previous).role == Role.MEMBER
    assert list(
        open_kc.memberships.filter(state=State.ACTIVE, role=Role.SPONSOR).values_list(
            "member", flat=True
        )
    ) == [person.pk]
    demoted, appointed = events_since(since)
    common = {"community": open_kc, "actor": admin, "action": Action.ROLE_CHANGED}
    assert_event(
        demoted,
        target=previous,
        state=(State.ACTIVE, State.ACTIVE),
        role=(Role.SPONSOR, Role.MEMBER),
        **common,
    )
    assert_event(
        appointed,
        target=person,
        state=(State.ACTIVE, State.ACTIVE),
        role=(Role.MEMBER, Role.SPONSOR),
        **common,
    )


def test_appointing_a_sponsor_where_there_is_none_writes_one_event(admin):
    kc = CommunityFactory(kind=Community.Kind.KC, status=Status.DORMANT)
    person = person_in(kc, State.ACTIVE)
    since = last_event_pk()

    services.change_role(
        community=kc, membership=membership_of(kc, person), actor=admin, role=Role.SPONSOR
    )

    assert only_event_since(since).role_after == Role.SPONSOR


def test_change_role_makes_a_cop_participant_a_steward(cop, admin):
    person = person_in(cop, State.ACTIVE, Role.PARTICIPANT)

    services.change_role(
        community=cop, membership=membership_of(cop, person), actor=admin, role=Role.STEWARD
    )

    assert membership_of(cop, person).role == Role.STEWARD


@pytest.mark.parametrize(
    ("kind", "current", "role", "match"),
    [
        (Community.Kind.KC, Role.MEMBER, Role.PARTICIPANT, "have members, not participants"),
        (Community.Kind.COP, Role.PARTICIPANT, Role.SPONSOR, "have no sponsor"),
        (Community.Kind.KC, Role.MEMBER, Role.MEMBER, "is already a Member"),
        (Community.Kind.KC, Role.MEMBER, "chief", "Unknown role"),
    ],
    ids=["participant-in-kc", "sponsor-in-cop", "same-role", "unknown-role"],
)
def test_change_role_is_refused_for_roles_the_community_cannot_have(
    admin, kind, current, role, match
):
    community = CommunityFactory(kind=kind)
    membership = membership_of(community, person_in(community, State.ACTIVE, current))

    with refused(community, match):
        services.change_role(community=community, membership=membership, actor=admin, role=role)


@pytest.mark.parametrize(
    "state", [State.REQUESTED, State.INVITED, State.LEFT, State.REMOVED, State.DENIED]
)
def test_change_role_is_refused_for_someone_not_active(open_kc, admin, state):
    membership = membership_of(open_kc, person_in(open_kc, state))

    with refused(open_kc, "Only active members can have a role"):
        services.change_role(
            community=open_kc, membership=membership, actor=admin, role=Role.STEWARD
        )


# -- emails ----------------------------------------------------------------------------


@pytest.fixture
def base_url(settings) -> str:
    settings.KCDIR_SITE_URL = "https://kcdir.example.org/"
    return "https://kcdir.example.org"


def test_stewards_and_only_active_stewards_are_emailed_about_a_new_request(
    request_kc, base_url, mailoutbox, django_capture_on_commit_callbacks
):
    second = person_in(request_kc, State.ACTIVE, Role.STEWARD)
    person_in(request_kc, State.LEFT, Role.STEWARD)
    person = MemberFactory(display_name="Quinn Query")

    with django_capture_on_commit_callbacks(execute=True):
        services.request_membership(community=request_kc, member=person, note="I model floods.")

    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert sorted(email.to) == sorted([steward_of_first(request_kc).email, second.email])
    assert email.subject == "Quinn Query asks to join Climate Risk Pricing"
    assert "I model floods." in email.body
    assert f"{base_url}{request_kc.get_absolute_url()}manage/" in email.body


def test_request_email_waits_for_the_commit(
    request_kc, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.request_membership(community=request_kc, member=MemberFactory())

    assert len(callbacks) == 1
    assert mailoutbox == []


def test_requester_is_emailed_the_approval(
    request_kc, base_url, mailoutbox, django_capture_on_commit_callbacks
):
    person = person_in(request_kc, State.REQUESTED)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(
            community=request_kc,
            membership=membership_of(request_kc, person),
            actor=steward_of(request_kc).member,
        )

    assert [email.to for email in mailoutbox] == [[person.email]]
    assert mailoutbox[0].subject == "Your request to join Climate Risk Pricing"
    assert "was approved" in mailoutbox[0].body
    assert f"{base_url}{request_kc.get_absolute_url()}" in mailoutbox[0].body


def test_requester_is_emailed_the_denial_with_the_reason(
    request_kc, mailoutbox, django_capture_on_commit_callbacks
):
    person = person_in(request_kc, State.REQUESTED)

    with django_capture_on_commit_callbacks(execute=True):
        services.deny_request(
            community=request_kc,
            membership=membership_of(request_kc, person),
            actor=steward_of(request_kc).member,
            reason="We are full until March.",
        )

    assert [email.to for email in mailoutbox] == [[person.email]]
    body = mailoutbox[0].body
    assert "was not approved" in body
    assert "We are full until March." in body


def test_invitee_is_emailed_an_invitation_with_the_community_link(
    invite_kc, admin, base_url, mailoutbox, django_capture_on_commit_callbacks
):
    person = MemberFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.add_members(community=invite_kc, members=[person], actor=admin, invite=True)

    assert [email.to for email in mailoutbox] == [[person.email]]
    assert mailoutbox[0].subject == f"{admin.display_name} invites you to join {invite_kc.name}"
    assert f"{base_url}{invite_kc.get_absolute_url()}" in mailoutbox[0].body


def test_an_invitation_to_a_cop_does_not_call_it_a_knowledge_community(
    cop, admin, mailoutbox, django_capture_on_commit_callbacks
):
    person = MemberFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.add_members(community=cop, members=[person], actor=admin, invite=True)

    assert [email.to for email in mailoutbox] == [[person.email]]
    assert "knowledge community" not in mailoutbox[0].body


def test_a_refused_request_sends_no_email(
    request_kc, mailoutbox, django_capture_on_commit_callbacks
):
    person = person_in(request_kc, State.ACTIVE)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(MembershipError),
    ):
        services.request_membership(community=request_kc, member=person)

    assert callbacks == []
    assert mailoutbox == []


# -- replaying the history ---------------------------------------------------------------


def test_history_replays_to_the_roster_after_a_scripted_sequence(admin):
    kc = community_through_services(admin, join_policy=Policy.REQUEST)
    cop = community_through_services(admin, kind=Community.Kind.COP)
    a, b, c, d, e, f = (MemberFactory() for _ in range(6))

    def decide(service, person, **kwargs):
        return service(community=kc, membership=membership_of(kc, person), actor=admin, **kwargs)

    for person in (a, b, c):
        services.request_membership(community=kc, member=person, note="hello")
    decide(services.approve_request, a)
    decide(services.deny_request, b, reason="later")
    services.cancel_request(community=kc, member=c)
    services.request_membership(community=kc, member=b, note="now?")
    services.add_members(community=kc, members=[b, d, e, a], actor=admin, invite=True)
    services.accept_invitation(community=kc, member=d)
    services.decline_invitation(community=kc, member=e)
    decide(services.change_role, d, role=Role.STEWARD)
    decide(services.change_role, a, role=Role.SPONSOR)
    first_steward = kc.memberships.filter(role=Role.STEWARD).exclude(member=d).get().member
    services.leave_community(community=kc, member=first_steward)
    decide(services.remove_member, b, reason="moved on")
    services.add_members(community=kc, members=[b, f, c], actor=admin)
    services.request_membership(community=kc, member=e)
    decide(services.change_role, f, role=Role.SPONSOR)
    services.leave_community(community=kc, member=a)
    with pytest.raises(MembershipError, match=LAST_STEWARD):
        decide(services.remove_member, d)

    for person in (a, b, c):
        services.join_community(community=cop, member=person)
    services.change_role(
        community=cop, membership=membership_of(cop, b), actor=admin, role=Role.STEWARD
    )
    services.leave_community(community=cop, member=a)
    services.join_community(community=cop, member=a)
    services.remove_member(community=cop, membership=membership_of(cop, c), actor=admin)

    assert_history_replays_to_roster(kc)
    assert_history_replays_to_roster(cop)
    people = {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "first steward": first_steward}
    final = {name: membership_of(kc, person) for name, person in people.items()}
    assert {name: (m.state, m.role) for name, m in final.items()} == {
        "a": (State.LEFT, Role.MEMBER),
        "b": (State.ACTIVE, Role.MEMBER),
        "c": (State.ACTIVE, Role.MEMBER),
        "d": (State.ACTIVE, Role.STEWARD),
        "e": (State.REQUESTED, Role.MEMBER),
        "f": (State.ACTIVE, Role.SPONSOR),
        "first steward": (State.LEFT, Role.STEWARD),
    }


def _takes_joins(community: Community) -> bool:
    return community.is_cop or community.join_policy == Policy.OPEN


def _takes_requests(community: Community) -> bool:
    return community.is_kc and community.join_policy == Policy.REQUEST


def _any(community: Community) -> bool:
    return True


# For each random action: the communities and the states in which it usually succeeds.
RANDOM_ACTIONS = {
    "join": (_takes_joins, {State.LEFT, State.DENIED}),
    "request": (_takes_requests, {State.LEFT, State.DENIED, State.REMOVED}),
    "cancel": (_takes_requests, {State.REQUESTED}),
    "approve": (_takes_requests, {State.REQUESTED}),
    "deny": (_takes_requests, {State.REQUESTED}),
    "accept": (_any, {State.INVITED}),
    "decline": (_any, {State.INVITED}),
    "leave": (_any, {State.ACTIVE}),
    "remove": (_any, {State.ACTIVE, State.INVITED, State.REQUESTED}),
    "role": (_any, {State.ACTIVE}),
    "add": (_any, set()),
}


def _random_action(
    rng: random.Random,
    name: str,
    communities: list[Community],
    people: list[Member],
    admin: Member,
):
    """A random call of service ``name``, valid or not.

    Most of the time it is about a membership whose state fits the action (so valid
    moves are about as common as refused ones); otherwise about anyone, anywhere.
    Returns (community, membership, call).
    """
    suits, states = RANDOM_ACTIONS[name]
    by_pk = {community.pk: community for community in communities}
    fitting = list(
        Membership.objects.filter(
            community__in=[c for c in communities if suits(c)], state__in=states
        )
        .select_related("member")
        .order_by("pk")
    )
    if fitting and rng.random() < 0.8:
        membership = rng.choice(fitting)
        community, person = by_pk[membership.community_id], membership.member
    else:
        community = rng.choice(communities)
        membership = rng.choice(list(community.memberships.select_related("member").order_by("pk")))
        person = rng.choice([*people, membership.member])

    def on(service, **kwargs):
        return lambda: service(community=community, **kwargs)

    calls = {
        "join": lambda: on(services.join_community, member=person),
        "request": lambda: on(services.request_membership, member=person, note=f"{rng.random()}"),
        "cancel": lambda: on(services.cancel_request, member=person),
        "accept": lambda: on(services.accept_invitation, member=person),
        "decline": lambda: on(services.decline_invitation, member=person),
        "leave": lambda: on(services.leave_community, member=person),
        "approve": lambda: on(services.approve_request, membership=membership, actor=admin),
        "deny": lambda: on(services.deny_request, membership=membership, actor=admin, reason="no"),
        "remove": lambda: on(services.remove_member, membership=membership, actor=admin),
        "role": lambda: on(
            services.change_role,
            membership=membership,
            actor=admin,
            role=rng.choice(Role.values),
        ),
        "add": lambda: on(
            services.add_members,
            members=rng.sample(people, rng.randint(1, 3)),
            actor=admin,
            invite=rng.random() < 0.5,
        ),
    }
    return community, membership, calls[name]()


def _assert_roster_rules(community: Community) -> None:
    active = community.memberships.filter(state=State.ACTIVE)
    assert active.filter(role=Role.SPONSOR).count() <= (1 if community.is_kc else 0)
    if community.is_kc:
        assert not community.memberships.filter(role=Role.PARTICIPANT).exists()
        if community.status == Status.ACTIVE:
            assert active.filter(role=Role.STEWARD).exists()


def test_history_replays_to_the_roster_after_200_random_actions(admin):
    rng = random.Random(7)
    communities = [
        community_through_services(admin, join_policy=policy)
        for policy in (Policy.OPEN, Policy.REQUEST, Policy.INVITE)
    ]
    for status in (Status.DORMANT, Status.ARCHIVED):
        later = community_through_services(admin, join_policy=Policy.OPEN)
        Community.objects.filter(pk=later.pk).update(status=status)
        later.refresh_from_db()
        communities.append(later)
    communities.append(community_through_services(admin, kind=Community.Kind.COP))
    people = [MemberFactory() for _ in range(6)]
    outcomes = Counter()

    for _step in range(200):
        name = rng.choice(list(RANDOM_ACTIONS))
        community, membership, call = _random_action(rng, name, communities, people, admin)
        rows_before = membership_snapshot(community)
        since = last_event_pk()
        other_sponsors = (
            community.memberships.filter(state=State.ACTIVE, role=Role.SPONSOR)
            .exclude(pk=membership.pk)
            .count()
        )
        try:
            result = call()
        except MembershipError:
            outcomes[name, "refused"] += 1
            assert membership_snapshot(community) == rows_before, name
            assert last_event_pk() == since, name
        else:
            outcomes[name, "done"] += 1
            if isinstance(result, BulkResult):
                expected = len(result.done)
            elif name == "role" and result.role == Role.SPONSOR:
                expected = 1 + other_sponsors
            else:
                expected = 1
            assert len(events_since(since)) == expected, name
        _assert_roster_rules(community)

    for community in communities:
        assert_history_replays_to_roster(community)
    # The walk must really exercise the machine: every service both succeeded and refused.
    names = {name for name, _outcome in outcomes}
    assert {name for name in names if outcomes[name, "done"]} == names, sorted(outcomes.items())
    assert {name for name in names if outcomes[name, "refused"]} == names, sorted(outcomes.items())
