"""Roster services under real concurrency: threads, each with its own connection.

Every service locks the community row before it reads the roster, so calls that
arrive together are serialised: whatever the interleaving, the database ends in
one consistent state, and the history holds exactly the changes that happened.
These tests need PostgreSQL (``DATABASE_URL``); they skip on SQLite.
"""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from communities import overlaps, services
from communities.models import Community, Membership, MembershipEvent
from communities.services import ServiceError
from members.models import Member

from .factories import CommunityFactory, MemberFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "Race tests need PostgreSQL (set DATABASE_URL): SQLite has no row locks "
            f"(select_for_update is a no-op) and its test database is in memory; "
            f"this run uses {connection.vendor}."
        )


def run_together(calls: list[Callable[[], object]]) -> list[tuple[str, object]]:
    """Run each call in its own thread, all released at once by a barrier.

    Returns one (outcome, value) per call, in order: ("done", result),
    ("refused", message) for a ServiceError, or ("error", repr) for anything else.
    """
    barrier = threading.Barrier(len(calls))
    outcomes: list[tuple[str, object]] = [("not run", None)] * len(calls)

    def work(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("done", call())
        except ServiceError as error:
            outcomes[index] = ("refused", str(error))
        except Exception as error:  # reported to the test below, not swallowed
            outcomes[index] = ("error", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    errors = [value for outcome, value in outcomes if outcome not in ("done", "refused")]
    assert errors == []
    return outcomes


def kinds(outcomes: list[tuple[str, object]]) -> list[str]:
    return sorted(outcome for outcome, _value in outcomes)


def events_of(community: Community) -> list[MembershipEvent]:
    return list(community.events.order_by("created_at", "pk"))


def assert_history_matches_roster(community: Community) -> None:
    """The last event for each person (if any) has their current state and role."""
    last: dict[int, tuple[str, str]] = {}
    for event in events_of(community):
        last[event.target_id] = (event.state_after, event.role_after)
    for member_id, state_and_role in last.items():
        membership = Membership.objects.get(community=community, member_id=member_id)
        assert (membership.state, membership.role) == state_and_role


def kc_with_stewards(*stewards: Member, join_policy: str = Community.JoinPolicy.OPEN):
    community = CommunityFactory(kind=Community.Kind.KC, join_policy=join_policy)
    MembershipFactory(community=community, role=Role.SPONSOR)
    for steward in stewards:
        MembershipFactory(community=community, member=steward, role=Role.STEWARD)
    return community


def test_twenty_simultaneous_joins_by_one_person_make_one_membership_and_one_event():
    community = kc_with_stewards(MemberFactory())
    person = MemberFactory()

    outcomes = run_together(
        [lambda: services.join_community(community=community, member=person)] * 20
    )

    assert kinds(outcomes) == ["done"] + ["refused"] * 19
    assert all("already" in value for outcome, value in outcomes if outcome == "refused")
    membership = Membership.objects.get(community=community, member=person)
    assert (membership.state, membership.role) == (State.ACTIVE, Role.MEMBER)
    joined = community.events.filter(target=person)
    assert [event.action for event in joined] == [Action.JOINED]


def test_ten_different_people_joining_at_once_all_become_members():
    community = kc_with_stewards(MemberFactory())
    people = [MemberFactory() for _ in range(10)]

    outcomes = run_together(
        [
            (lambda person=person: services.join_community(community=community, member=person))
            for person in people
        ]
    )

    assert kinds(outcomes) == ["done"] * 10
    joined = Membership.objects.filter(community=community, member__in=people)
    assert sorted(joined.values_list("state", flat=True)) == [State.ACTIVE] * 10
    events = community.events.filter(action=Action.JOINED)
    assert sorted(events.values_list("target", flat=True)) == sorted(p.pk for p in people)


# A race is won or lost by timing: a few attempts make a missing lock show reliably.
@pytest.mark.parametrize("attempt", range(3))
def test_the_only_two_stewards_removing_each_other_at_once_leave_one_steward(attempt):
    first, second = MemberFactory(), MemberFactory()
    community = kc_with_stewards(first, second)
    first_membership = Membership.objects.get(community=community, member=first)
    second_membership = Membership.objects.get(community=community, member=second)

    outcomes = run_together(
        [
            lambda: services.remove_member(
                community=community, membership=second_membership, actor=first
            ),
            lambda: services.remove_member(
                community=community, membership=first_membership, actor=second
            ),
        ]
    )

    assert kinds(outcomes) == ["done", "refused"]
    refusal = next(value for outcome, value in outcomes if outcome == "refused")
    assert "Make someone else a steward first" in refusal
    stewards = community.memberships.filter(state=State.ACTIVE, role=Role.STEWARD)
    assert stewards.count() == 1
    removed = community.memberships.get(state=State.REMOVED)
    assert {stewards.get().member_id, removed.member_id} == {first.pk, second.pk}
    events = events_of(community)
    assert [(e.action, e.target_id, e.actor_id) for e in events] == [
        (Action.REMOVED, removed.member_id, stewards.get().member_id)
    ]
    assert_history_matches_roster(community)


@pytest.mark.parametrize("attempt", range(3))
def test_approval_racing_a_cancellation_ends_in_one_decision(attempt):
    steward = MemberFactory()
    community = kc_with_stewards(steward, join_policy=Community.JoinPolicy.REQUEST)
    person = MemberFactory()
    request = services.request_membership(community=community, member=person, note="May I?")

    outcomes = run_together(
        [
            lambda: services.approve_request(
                community=community, membership=request, actor=steward
            ),
            lambda: services.cancel_request(community=community, member=person),
        ]
    )

    assert kinds(outcomes) == ["done", "refused"]
    approved = outcomes[0][0] == "done"
    membership = Membership.objects.get(community=community, member=person)
    assert membership.state == (State.ACTIVE if approved else State.LEFT)
    decisive = Action.APPROVED if approved else Action.CANCELLED
    assert [event.action for event in events_of(community)] == [Action.REQUESTED, decisive]
    assert_history_matches_roster(community)


def test_two_sponsor_appointments_at_once_leave_one_active_sponsor():
    admin, steward = MemberFactory(), MemberFactory()
    community = kc_with_stewards(steward)
    candidates = [
        MembershipFactory(community=community, role=Role.MEMBER),
        MembershipFactory(community=community, role=Role.MEMBER),
    ]

    outcomes = run_together(
        [
            (
                lambda membership=membership: services.change_role(
                    community=community, membership=membership, actor=admin, role=Role.SPONSOR
                )
            )
            for membership in candidates
        ]
    )

    assert kinds(outcomes) == ["done", "done"]
    sponsors = community.memberships.filter(state=State.ACTIVE, role=Role.SPONSOR)
    assert sponsors.count() == 1
    # Each appointment demoted the sponsor before it: four role changes in all.
    assert community.events.filter(action=Action.ROLE_CHANGED).count() == 4
    assert_history_matches_roster(community)


@pytest.mark.parametrize("attempt", range(3))
def test_import_racing_a_manual_removal_applies_one_consistent_roster(attempt):
    """An import previewed before a steward removes someone must not apply over
    that removal: either the import lands first (and the removal follows), or the
    removal lands first and the import is refused as stale. Never a mix."""
    steward, admin = MemberFactory(), MemberFactory()
    community = kc_with_stewards(steward)
    leaving = MembershipFactory(community=community, role=Role.MEMBER).member
    newcomers = [MemberFactory() for _ in range(5)]
    csv_text = "username,role\n" + "".join(f"{m.user.username},member\n" for m in newcomers)
    pending = services.preview_roster_import(
        community=community, actor=admin, file_name="race.csv", text=csv_text, remove_absent=False
    )
    removal = Membership.objects.get(community=community, member=leaving)

    outcomes = run_together(
        [
            lambda: services.apply_roster_import(roster_import=pending, actor=admin),
            lambda: services.remove_member(
                community=community, membership=removal, actor=steward, reason="race"
            ),
        ]
    )

    imported, removed = outcomes
    assert removed[0] == "done"  # the removal never waits on a stale preview
    added = Membership.objects.filter(
        community=community, member__in=newcomers, state=State.ACTIVE
    ).count()
    if imported[0] == "done":
        assert added == len(newcomers)
    else:
        assert "changed since this preview" in imported[1]
        assert added == 0
    assert Membership.objects.get(community=community, member=leaving).state == State.REMOVED
    assert_history_matches_roster(community)


@pytest.mark.parametrize("attempt", range(3))
def test_two_admins_formalising_the_same_cop_at_once_make_one_kc(attempt):
    from communities.models import Purpose

    cop = CommunityFactory(kind=Community.Kind.COP, name="Spreadsheet Sanity")
    participants = [MembershipFactory(community=cop, role=Role.PARTICIPANT) for _ in range(4)]
    purpose = Purpose.objects.create(
        statement=f"Trust every spreadsheet {attempt}",
        slug=f"trust-every-spreadsheet-{attempt}",
        orientation=Purpose.Orientation.SHAPE_FUTURE,
    )
    admins = [MemberFactory(), MemberFactory()]
    sponsor, steward = MemberFactory(), MemberFactory()

    def formalise(admin):
        return services.formalise_cop(
            cop=cop,
            actor=admin,
            name="Spreadsheet Standards",
            purposes=[purpose],
            sponsor=sponsor,
            stewards=[steward],
        )

    outcomes = run_together([lambda: formalise(admins[0]), lambda: formalise(admins[1])])

    assert kinds(outcomes) == ["done", "refused"]
    assert any("already formalised" in str(value) for _o, value in outcomes)
    kc = Community.objects.get(formed_from=cop)
    invited = kc.memberships.filter(state=State.INVITED).count()
    assert invited == len(participants)
    assert kc.memberships.filter(state=State.ACTIVE, role=Role.SPONSOR).count() == 1
    assert_history_matches_roster(kc)


# -- slugs: the name is checked, then inserted; others may take it in between ----------


@pytest.mark.parametrize("attempt", range(2))
def test_twenty_people_recording_the_same_cop_at_once_get_twenty_communities(attempt):
    people = [MemberFactory() for _ in range(20)]

    outcomes = run_together(
        [
            (
                lambda person=person: services.record_cop(
                    actor=person, name="Quilt Makers", summary="We quilt."
                )
            )
            for person in people
        ]
    )

    assert kinds(outcomes) == ["done"] * 20
    recorded = Community.objects.filter(name="Quilt Makers")
    slugs = list(recorded.values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs)) == 20
    assert "quilt-makers" in slugs
    assert all(slug.startswith("quilt-makers-") for slug in slugs if slug != "quilt-makers")
    # Each recorder practises in the community they recorded, nothing else was half-saved.
    assert sorted(
        Membership.objects.filter(community__in=recorded).values_list("member_id", flat=True)
    ) == sorted(person.pk for person in people)


def test_proposals_at_once_with_alike_purposes_share_a_statement_and_never_a_slug():
    from communities.models import Purpose

    # Five propose the same purpose; five others, statements that make the same slug.
    statements = ["Quilt more"] * 5 + [f"Quilt more{mark}" for mark in "!?.;:"]
    people = [MemberFactory() for _ in statements]

    outcomes = run_together(
        [
            (
                lambda person=person, statement=statement: services.propose_kc(
                    actor=person, name="Quilt Makers", purpose_statement=statement
                )
            )
            for person, statement in zip(people, statements, strict=True)
        ]
    )

    assert kinds(outcomes) == ["done"] * len(statements)
    purposes = Purpose.objects.filter(statement__startswith="Quilt more")
    assert sorted(purposes.values_list("statement", flat=True)) == sorted(set(statements))
    slugs = list(purposes.values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs)) == 6
    same = {proposal.purposes.get().pk for _o, proposal in outcomes[:5]}
    assert same == {Purpose.objects.get(statement="Quilt more").pk}
    assert Community.objects.filter(name="Quilt Makers").count() == len(statements)


def test_joins_and_leaves_in_communities_sharing_people_keep_the_stored_overlaps_exact():
    # Two communities everyone is in, and four more: each person joins or leaves one of
    # the four at once, so every call touches the same pairs (both ways round).
    shared_by_all = [CommunityFactory(join_policy=Community.JoinPolicy.OPEN) for _ in range(2)]
    others = [CommunityFactory(join_policy=Community.JoinPolicy.OPEN) for _ in range(4)]
    people = [MemberFactory() for _ in range(8)]
    for person in people:
        for community in shared_by_all:
            MembershipFactory(community=community, member=person)
    for person in people[::2]:
        MembershipFactory(community=others[0], member=person)

    calls = []
    for index, person in enumerate(people):
        community = others[index % 4]
        if community == others[0] and index % 2 == 0:
            calls.append(
                lambda c=community, p=person: services.leave_community(community=c, member=p)
            )
        else:
            calls.append(
                lambda c=community, p=person: services.join_community(community=c, member=p)
            )
    outcomes = run_together(calls)

    assert [outcome for outcome, _value in outcomes] == ["done"] * len(people)
    assert overlaps.stored() == overlaps.counted()
