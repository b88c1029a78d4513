"""Botkin's model: communities of practice, proposals, formalisation, merging, the ladder.

Services first (what each one writes and what it refuses), then the pages through the
test client, walking the roles: anonymous, a participant of the CoP ("staff"), an
outsider, the CoP's coordinator (steward role), the steward of another community and a
directory admin. Every refusal also checks that nothing changed.
"""

import html
import re

import pytest
from django.urls import reverse

from communities import selectors, services
from communities.models import Community, Membership, MembershipEvent, Purpose, StageChange
from communities.services import CommunityError, MembershipError
from members.models import Member

from .factories import (
    CommunityFactory,
    DepartmentFactory,
    MembershipFactory,
    PurposeFactory,
    led_kc,
    member_named,
)
from .pages import assert_sent_to_sign_in, page_text, section_text, visible_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action
Status = Community.Status
Stage = Community.Stage
Kind = Community.Kind
SHAPE_FUTURE = Purpose.Orientation.SHAPE_FUTURE
SPREAD_PRACTICE = Purpose.Orientation.SPREAD_PRACTICE
MY_COMMUNITIES = reverse("members:my_communities")
DASHBOARD = reverse("communities:dashboard")
LADDER = reverse("communities:ladder")


# -- helpers --------------------------------------------------------------------------


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


def sign_in(client, user):
    if user is not None:
        client.force_login(user)
    return client


def snapshot():
    """Everything a refused action must leave alone."""
    return (
        sorted(
            Community.objects.values_list(
                "pk", "status", "stage", "merged_into_id", "declined_at", "join_policy"
            )
        ),
        sorted(Membership.objects.values_list("pk", "community_id", "member_id", "role", "state")),
        MembershipEvent.objects.count(),
        StageChange.objects.count(),
        Purpose.objects.count(),
    )


def memberships_of(community) -> dict[str, tuple[str, str]]:
    """{display name: (role, state)} for every membership row of ``community``."""
    return {
        m.member.display_name: (m.role, m.state)
        for m in community.memberships.select_related("member")
    }


def events_of(community) -> list[tuple[str, str]]:
    """(target name, action) for every event of ``community``, oldest first."""
    return list(community.events.order_by("created_at", "pk").values_list("target_name", "action"))


def future(statement: str = "Halve the time to a first answer") -> Purpose:
    return PurposeFactory(statement=statement, orientation=SHAPE_FUTURE)


def spread(statement: str = "Teach newcomers the query planner") -> Purpose:
    return PurposeFactory(statement=statement, orientation=SPREAD_PRACTICE)


# -- the cast -------------------------------------------------------------------------


@pytest.fixture
def boss(db) -> Member:
    """Someone to appoint as sponsor."""
    return member_named("Bea Boss", username="boss")


@pytest.fixture
def stu(db) -> Member:
    """Someone to appoint as steward."""
    return member_named("Stu Steward", username="stu")


@pytest.fixture
def coordinator(cop) -> Member:
    return cop.memberships.get(role=Role.STEWARD).member


@pytest.fixture
def practising(cop, staff):
    """``cop``, with two active participants (one of them ``staff``) and one who left,
    each through the services, so their history exists."""
    pia = member_named("Pia Participant", username="pia")
    for member in (staff.member, pia):
        services.join_community(community=cop, member=member)
    lenny = member_named("Lenny Left", username="lenny")
    services.join_community(community=cop, member=lenny)
    services.leave_community(community=cop, member=lenny)
    return cop


@pytest.fixture
def proposal(staff, boss):
    """A knowledge community ``staff`` proposed, suggesting ``boss`` as sponsor."""
    return services.propose_kc(
        actor=staff.member,
        name="Faster Claims Answers",
        purpose_statement="Answer every claim question within a day",
        summary="Customers wait too long.",
        suggested_sponsor=boss,
    )


ROLES = ["anonymous", "staff", "outsider", "coordinator", "other_steward", "admin"]


@pytest.fixture
def people(practising, staff, coordinator, outsider, steward, directory_admin):
    """A user per role: ``staff`` practises in ``cop``, ``coordinator`` is its steward,
    ``other_steward`` stewards ``open_kc``."""
    return {
        "anonymous": None,
        "staff": staff,
        "outsider": outsider,
        "coordinator": coordinator.user,
        "other_steward": steward,
        "admin": directory_admin,
    }


# == services ==========================================================================

# -- recording a CoP and finding similar ones ----------------------------------------


def test_recorded_cop_is_listed_at_once_with_the_recorder_as_its_coordinator(staff):
    cop = services.record_cop(
        actor=staff.member,
        name="Excel Wizards",
        summary="Spreadsheet tricks for underwriters.",
        cadence="Fridays at noon",
    )

    assert (cop.kind, cop.status, cop.stage) == (Kind.COP, Status.ACTIVE, Stage.SHARING)
    assert cop.slug == "excel-wizards"
    assert cop.cadence == "Fridays at noon"
    assert list(Community.objects.listed().filter(kind=Kind.COP)) == [cop]
    assert memberships_of(cop) == {"Sam Staff": (Role.STEWARD, State.ACTIVE)}
    event = cop.events.get()
    assert (event.action, event.actor, event.target, event.role_after) == (
        Action.PRACTISING,
        staff.member,
        staff.member,
        Role.STEWARD,
    )
    assert event.note == "Recorded the community: its first coordinator"
    assert not cop.purposes.exists()


def test_recorded_cop_without_practise_here_has_no_membership(staff):
    cop = services.record_cop(
        actor=staff.member, name="Excel Wizards", summary="Tricks.", practise_here=False
    )

    assert cop in Community.objects.listed()
    assert not cop.memberships.exists()
    assert not cop.events.exists()


def test_recording_a_cop_with_a_taken_name_gets_its_own_address(staff, cop):
    again = services.record_cop(
        actor=staff.member, name=cop.name, summary="Another one.", practise_here=False
    )

    assert again.slug == "sql-clinic-2"


def test_similar_communities_finds_a_shared_significant_word_in_name_or_summary(cop, open_kc):
    by_name = selectors.similar_communities("Clinic for spreadsheets")
    by_summary = selectors.similar_communities("Query doctors", "We tune a slow QUERY together")

    assert list(by_name) == [cop]
    assert list(by_summary) == [cop]
    assert list(selectors.similar_communities("Turnaround heroes")) == [open_kc]


def test_similar_communities_ignores_stop_words_and_short_words(cop, open_kc):
    CommunityFactory(name="Practice Group Team", summary="A community that works with data.")

    found = selectors.similar_communities("The community of practice", "A group or team with us")

    assert list(found) == []


def test_similar_communities_leaves_proposals_out(proposal):
    assert list(selectors.similar_communities("Claims answers")) == []


# -- participating in a CoP -------------------------------------------------------------


def test_participating_in_a_cop_needs_no_approval_and_records_practising(cop, outsider):
    assert cop.join_policy == Community.JoinPolicy.REQUEST  # ignored for a CoP

    membership = services.join_community(community=cop, member=outsider.member)

    assert (membership.role, membership.state) == (Role.PARTICIPANT, State.ACTIVE)
    event = cop.events.get(target=outsider.member)
    assert (event.action, event.actor, event.state_before, event.state_after) == (
        Action.PRACTISING,
        outsider.member,
        "",
        State.ACTIVE,
    )


def test_stopping_participating_in_a_cop_records_left_and_can_start_again(cop, outsider):
    services.join_community(community=cop, member=outsider.member)

    services.leave_community(community=cop, member=outsider.member)
    assert memberships_of(cop)["Olive Outsider"] == (Role.PARTICIPANT, State.LEFT)

    services.join_community(community=cop, member=outsider.member)
    assert memberships_of(cop)["Olive Outsider"] == (Role.PARTICIPANT, State.ACTIVE)
    assert [a for name, a in events_of(cop) if name == "Olive Outsider"] == [
        Action.PRACTISING,
        Action.LEFT,
        Action.PRACTISING,
    ]


def test_participating_twice_is_refused(cop, outsider):
    services.join_community(community=cop, member=outsider.member)
    before = snapshot()

    with pytest.raises(MembershipError, match="already"):
        services.join_community(community=cop, member=outsider.member)
    assert snapshot() == before


def test_the_last_coordinator_of_a_cop_may_stop_participating(cop, coordinator):
    services.leave_community(community=cop, member=coordinator)

    assert memberships_of(cop)["Cora Coordinator"] == (Role.STEWARD, State.LEFT)


# -- merging duplicates -----------------------------------------------------------------


@pytest.fixture
def duplicate(cop, coordinator):
    """SQL Surgery, a duplicate of ``cop``: Dan (only here), Cora (in both) and Lou (left).
    It pursues a purpose of its own and has its own history."""
    dup = CommunityFactory(kind=Kind.COP, name="SQL Surgery", slug="sql-surgery")
    dup.purposes.add(spread("Share query tuning tips"))
    for member in (member_named("Dan Duplicate", username="dan"), coordinator):
        services.join_community(community=dup, member=member)
    lou = member_named("Lou Left", username="lou")
    services.join_community(community=dup, member=lou)
    services.leave_community(community=dup, member=lou)
    return dup


def test_merge_moves_active_people_to_the_survivor_with_a_merged_event_each(
    cop, duplicate, directory_admin
):
    admin = directory_admin.member

    survivor = services.merge_communities(source=duplicate, target=cop, actor=admin)

    assert survivor == cop
    assert memberships_of(cop) == {
        "Cora Coordinator": (Role.STEWARD, State.ACTIVE),
        "Dan Duplicate": (Role.PARTICIPANT, State.ACTIVE),
    }
    merged = cop.events.filter(action=Action.MERGED)
    assert [(e.target_name, e.actor, e.note) for e in merged] == [
        ("Dan Duplicate", admin, "From SQL Surgery")
    ]


def test_merge_does_not_duplicate_people_already_in_the_survivor(cop, duplicate, directory_admin):
    services.merge_communities(source=duplicate, target=cop, actor=directory_admin.member)

    assert cop.memberships.filter(member__display_name="Cora Coordinator").count() == 1
    assert not cop.events.filter(action=Action.MERGED, target_name="Cora Coordinator").exists()
    assert not cop.memberships.filter(member__display_name="Lou Left").exists()


def test_merge_moves_history_and_purposes_and_archives_the_duplicate(
    cop, duplicate, directory_admin
):
    dup_event_ids = set(duplicate.events.values_list("pk", flat=True))
    cop.purposes.add(future())

    services.merge_communities(source=duplicate, target=cop, actor=directory_admin.member)

    assert dup_event_ids <= set(cop.events.values_list("pk", flat=True))
    assert not MembershipEvent.objects.filter(community=duplicate).exists()
    assert set(cop.purposes.values_list("statement", flat=True)) == {
        "Halve the time to a first answer",
        "Share query tuning tips",
    }
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == (Status.ARCHIVED, cop)
    assert not duplicate.memberships.exists()


def test_merge_into_itself_is_refused(cop, directory_admin):
    before = snapshot()

    with pytest.raises(CommunityError, match="different community"):
        services.merge_communities(source=cop, target=cop, actor=directory_admin.member)
    assert snapshot() == before


def test_merge_across_kinds_is_refused(cop, open_kc, directory_admin):
    before = snapshot()

    with pytest.raises(CommunityError, match="same kind"):
        services.merge_communities(source=cop, target=open_kc, actor=directory_admin.member)
    assert snapshot() == before


def test_merging_the_same_duplicate_twice_is_refused(cop, duplicate, directory_admin):
    other = CommunityFactory(kind=Kind.COP, name="Query Club")
    services.merge_communities(source=duplicate, target=cop, actor=directory_admin.member)
    before = snapshot()

    for target in (cop, other):
        with pytest.raises(CommunityError, match="already merged"):
            services.merge_communities(
                source=duplicate, target=target, actor=directory_admin.member
            )
    assert snapshot() == before


def test_merging_into_an_archived_community_is_refused(cop, duplicate, directory_admin):
    services.merge_communities(source=duplicate, target=cop, actor=directory_admin.member)
    third = CommunityFactory(kind=Kind.COP, name="SQL Doctors")
    services.join_community(community=third, member=member_named("Ned New"))

    with pytest.raises(CommunityError):
        services.merge_communities(source=third, target=duplicate, actor=directory_admin.member)


def test_merge_keeps_someone_who_had_left_the_survivor_but_is_active_in_the_duplicate(
    cop, duplicate, directory_admin
):
    dan = Member.objects.get(display_name="Dan Duplicate")
    services.join_community(community=cop, member=dan)
    services.leave_community(community=cop, member=dan)

    services.merge_communities(source=duplicate, target=cop, actor=directory_admin.member)

    assert memberships_of(cop)["Dan Duplicate"] == (Role.PARTICIPANT, State.ACTIVE)


# -- activation rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "missing"),
    [
        ("complete", []),
        ("no sponsor", ["a sponsor"]),
        ("sponsor is the only steward", ["at least one steward (other than the sponsor)"]),
        ("no steward", ["at least one steward (other than the sponsor)"]),
        ("only a spread-practice purpose", ["at least one purpose that shapes the future"]),
        (
            "nothing",
            [
                "a sponsor",
                "at least one steward (other than the sponsor)",
                "at least one purpose that shapes the future",
            ],
        ),
    ],
)
def test_activation_problems_name_what_an_active_kc_would_lack(boss, stu, case, missing):
    sponsor, stewards, purposes = boss, [stu], [spread(), future()]
    if case == "no sponsor":
        sponsor = None
    elif case == "sponsor is the only steward":
        stewards = [boss]
    elif case == "no steward":
        stewards = []
    elif case == "only a spread-practice purpose":
        purposes = [purposes[0]]
    elif case == "nothing":
        sponsor, stewards, purposes = None, [], []

    assert (
        services.activation_problems(sponsor=sponsor, stewards=stewards, purposes=purposes)
        == missing
    )


# -- proposals --------------------------------------------------------------------------


def test_proposed_kc_waits_outside_the_directory_with_a_future_shaping_purpose(
    proposal, staff, boss
):
    assert (proposal.kind, proposal.status) == (Kind.KC, Status.PROPOSED)
    assert (proposal.proposed_by, proposal.suggested_sponsor) == (staff.member, boss)
    assert proposal.declined_at is None
    assert proposal not in Community.objects.listed()
    purpose = proposal.purposes.get()
    assert (purpose.statement, purpose.orientation) == (
        "Answer every claim question within a day",
        SHAPE_FUTURE,
    )
    assert not proposal.memberships.exists()


def test_proposing_with_an_existing_future_purpose_reuses_it(staff, open_kc):
    existing = open_kc.purposes.get()

    kc = services.propose_kc(
        actor=staff.member, name="Two Day Claims", purpose_statement="Pay in two days"
    )
    kc2 = services.propose_kc(
        actor=staff.member, name="Claims Sprint", purpose_statement=existing.statement + "  "
    )

    assert (kc.purposes.get().statement, kc.purposes.get().orientation) == (
        "Pay in two days",
        SHAPE_FUTURE,
    )
    assert kc2.purposes.get() == existing
    assert Purpose.objects.filter(statement=existing.statement).count() == 1


def test_proposing_with_the_statement_of_a_spread_practice_purpose_is_refused_or_future(staff):
    taken = spread("Teach the query planner")

    try:
        kc = services.propose_kc(
            actor=staff.member, name="Planner", purpose_statement=taken.statement
        )
    except CommunityError:
        return
    assert kc.purposes.filter(orientation=SHAPE_FUTURE).exists()


def test_approving_a_proposal_activates_it_and_appoints_leaders_with_added_events(
    proposal, boss, stu, directory_admin, mailoutbox, django_capture_on_commit_callbacks
):
    admin = directory_admin.member

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_proposal(
            community=proposal,
            actor=admin,
            sponsor=boss,
            stewards=[stu, boss],
            join_policy=Community.JoinPolicy.OPEN,
        )

    proposal.refresh_from_db()
    assert (proposal.status, proposal.join_policy) == (Status.ACTIVE, Community.JoinPolicy.OPEN)
    assert proposal in Community.objects.listed()
    assert memberships_of(proposal) == {
        "Bea Boss": (Role.SPONSOR, State.ACTIVE),
        "Stu Steward": (Role.STEWARD, State.ACTIVE),
    }
    assert sorted(events_of(proposal)) == [
        ("Bea Boss", Action.ADDED),
        ("Stu Steward", Action.ADDED),
    ]
    assert set(proposal.events.values_list("actor", flat=True)) == {admin.pk}
    assert [(m.to, "now active" in m.body) for m in mailoutbox] == [(["staff@example.org"], True)]


@pytest.mark.parametrize(
    ("case", "missing"),
    [
        ("no sponsor", "a sponsor"),
        ("sponsor as only steward", "at least one steward (other than the sponsor)"),
        ("no future purpose", "at least one purpose that shapes the future"),
    ],
)
def test_approving_is_refused_with_a_message_naming_what_is_missing(
    proposal, boss, stu, directory_admin, case, missing
):
    sponsor, stewards = boss, [stu]
    if case == "no sponsor":
        sponsor = None
    elif case == "sponsor as only steward":
        stewards = [boss]
    else:
        proposal.purposes.set([spread()])
    before = snapshot()

    with pytest.raises(CommunityError) as refused:
        services.approve_proposal(
            community=proposal, actor=directory_admin.member, sponsor=sponsor, stewards=stewards
        )

    assert str(refused.value) == f"A knowledge community can only be active with {missing}."
    assert snapshot() == before


def test_approving_twice_is_refused(proposal, boss, stu, directory_admin):
    services.approve_proposal(
        community=proposal, actor=directory_admin.member, sponsor=boss, stewards=[stu]
    )
    before = snapshot()

    with pytest.raises(CommunityError, match="already decided"):
        services.approve_proposal(
            community=proposal, actor=directory_admin.member, sponsor=stu, stewards=[boss]
        )
    assert snapshot() == before


def test_approving_a_proposal_formed_from_a_cop_invites_its_participants(
    practising, coordinator, boss, directory_admin, mailoutbox, django_capture_on_commit_callbacks
):
    kc = services.propose_kc(
        actor=coordinator,
        name="Query Performance Board",
        purpose_statement="No report slower than a second",
        formed_from=practising,
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_proposal(
            community=kc, actor=directory_admin.member, sponsor=boss, stewards=[coordinator]
        )

    assert memberships_of(kc) == {
        "Bea Boss": (Role.SPONSOR, State.ACTIVE),
        "Cora Coordinator": (Role.STEWARD, State.ACTIVE),
        "Sam Staff": (Role.MEMBER, State.INVITED),
        "Pia Participant": (Role.MEMBER, State.INVITED),
    }
    invited = kc.events.filter(action=Action.INVITED)
    assert sorted(invited.values_list("target_name", "note")) == [
        ("Pia Participant", "Practised in SQL Clinic"),
        ("Sam Staff", "Practised in SQL Clinic"),
    ]
    assert {tuple(m.to) for m in mailoutbox if "invites you" in m.subject} == {
        ("staff@example.org",),
        ("pia@example.org",),
    }


def test_approving_a_second_proposal_for_an_already_formalised_cop_is_refused(
    cop, coordinator, boss, stu, directory_admin
):
    first, second = (
        services.propose_kc(
            actor=coordinator, name=name, purpose_statement="Faster reports", formed_from=cop
        )
        for name in ("Reports Board", "Reports Council")
    )
    services.approve_proposal(
        community=first, actor=directory_admin.member, sponsor=boss, stewards=[stu]
    )

    with pytest.raises(CommunityError):
        services.approve_proposal(
            community=second, actor=directory_admin.member, sponsor=boss, stewards=[stu]
        )


def test_declining_stores_the_reason_keeps_it_hidden_and_tells_the_proposer(
    proposal, directory_admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.decline_proposal(
            community=proposal, actor=directory_admin.member, reason="Claims Turnaround does this."
        )

    proposal.refresh_from_db()
    assert proposal.declined_at is not None
    assert proposal.decision_note == "Claims Turnaround does this."
    assert proposal.status == Status.PROPOSED
    assert proposal not in Community.objects.listed()
    assert not proposal.memberships.exists()
    [mail] = mailoutbox
    assert mail.to == ["staff@example.org"]
    assert "Faster Claims Answers" in mail.subject
    assert "was not approved" in mail.body
    assert "Claims Turnaround does this." in mail.body


def test_a_decided_proposal_cannot_be_decided_again(proposal, boss, stu, directory_admin):
    services.decline_proposal(community=proposal, actor=directory_admin.member, reason="No.")
    before = snapshot()

    with pytest.raises(CommunityError, match="already decided"):
        services.decline_proposal(community=proposal, actor=directory_admin.member)
    with pytest.raises(CommunityError, match="already decided"):
        services.approve_proposal(
            community=proposal, actor=directory_admin.member, sponsor=boss, stewards=[stu]
        )
    assert snapshot() == before


# -- formalising a CoP -------------------------------------------------------------------


def formalise(cop, admin, boss, stewards, **kwargs):
    if "purposes" not in kwargs:
        kwargs["purposes"] = [future("Settle every slow query in a week")]
    return services.formalise_cop(
        cop=cop,
        actor=admin,
        name="Query Performance Board",
        sponsor=boss,
        stewards=stewards,
        **kwargs,
    )


def test_formalising_makes_an_active_kc_formed_from_the_cop_and_invites_participants(
    practising, coordinator, boss, directory_admin, mailoutbox, django_capture_on_commit_callbacks
):
    cop = practising
    cop.cadence, cop.description = "Tuesdays", "We look at slow queries."
    cop.save()
    purposes = [future(), future("No report slower than a second")]

    with django_capture_on_commit_callbacks(execute=True):
        kc = formalise(cop, directory_admin.member, boss, [coordinator], purposes=purposes)

    assert (kc.kind, kc.status, kc.formed_from) == (Kind.KC, Status.ACTIVE, cop)
    # The KC's text is its own (none given here); where and how people meet carries over.
    assert (kc.summary, kc.description, kc.cadence, kc.stage) == ("", "", "Tuesdays", cop.stage)
    assert set(kc.purposes.all()) == set(purposes)
    assert memberships_of(kc) == {
        "Bea Boss": (Role.SPONSOR, State.ACTIVE),
        "Cora Coordinator": (Role.STEWARD, State.ACTIVE),
        "Sam Staff": (Role.MEMBER, State.INVITED),
        "Pia Participant": (Role.MEMBER, State.INVITED),
    }
    assert sorted(events_of(kc)) == [
        ("Bea Boss", Action.ADDED),
        ("Cora Coordinator", Action.ADDED),
        ("Pia Participant", Action.INVITED),
        ("Sam Staff", Action.INVITED),
    ]
    assert kc.events.count() == kc.memberships.count()
    cop.refresh_from_db()
    assert cop.status == Status.ACTIVE
    assert list(cop.formalised_as.all()) == [kc]
    assert sorted(m.to[0] for m in mailoutbox) == ["pia@example.org", "staff@example.org"]


def test_formalising_with_add_makes_the_participants_members(
    practising, coordinator, boss, directory_admin
):
    kc = formalise(
        practising, directory_admin.member, boss, [coordinator], invite_participants=False
    )

    assert memberships_of(kc)["Sam Staff"] == (Role.MEMBER, State.ACTIVE)
    assert memberships_of(kc)["Pia Participant"] == (Role.MEMBER, State.ACTIVE)
    assert "Lenny Left" not in memberships_of(kc)
    assert sorted(a for _name, a in events_of(kc)) == [Action.ADDED] * 4


def test_formalising_archives_the_cop_only_when_asked(cop, boss, stu, directory_admin):
    other = CommunityFactory(kind=Kind.COP, name="Excel Wizards")

    formalise(cop, directory_admin.member, boss, [stu], archive_cop=True)
    services.formalise_cop(
        cop=other,
        actor=directory_admin.member,
        name="Spreadsheet Board",
        purposes=[future("Retire risky spreadsheets")],
        sponsor=boss,
        stewards=[stu],
    )

    cop.refresh_from_db()
    other.refresh_from_db()
    assert (cop.status, other.status) == (Status.ARCHIVED, Status.ACTIVE)


def test_formalising_settles_open_proposals_from_the_cop(
    cop, coordinator, boss, stu, directory_admin
):
    waiting = services.propose_kc(
        actor=coordinator, name="Reports Board", purpose_statement="Fast", formed_from=cop
    )

    formalise(cop, directory_admin.member, boss, [stu])

    waiting.refresh_from_db()
    assert waiting.declined_at is not None
    assert waiting.decision_note == "Formalised as Query Performance Board"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("a knowledge community", "Only a community of practice"),
        ("an archived cop", "archived"),
        ("an already formalised cop", "already formalised"),
        ("no sponsor", "a sponsor"),
        ("sponsor as only steward", "at least one steward"),
        ("no future purpose", "purpose that shapes the future"),
    ],
)
def test_formalising_is_refused_and_creates_nothing(
    practising, open_kc, boss, stu, directory_admin, case, message
):
    source, sponsor, stewards, purposes = practising, boss, [stu], [future()]
    if case == "a knowledge community":
        source = open_kc
    elif case == "an archived cop":
        source.status = Status.ARCHIVED
        source.save()
    elif case == "an already formalised cop":
        formalise(source, directory_admin.member, boss, [stu])
    elif case == "no sponsor":
        sponsor = None
    elif case == "sponsor as only steward":
        stewards = [boss]
    else:
        purposes = [spread()]
    before = snapshot()

    with pytest.raises(CommunityError, match=message):
        services.formalise_cop(
            cop=source,
            actor=directory_admin.member,
            name="Another Board",
            purposes=purposes,
            sponsor=sponsor,
            stewards=stewards,
        )

    assert snapshot() == before
    assert not Community.objects.filter(name="Another Board").exists()


def test_formalising_with_a_new_purpose_creates_it_with_the_kc(
    practising, boss, stu, directory_admin
):
    chosen = future()

    kc = formalise(
        practising,
        directory_admin.member,
        boss,
        [stu],
        purposes=[chosen],
        new_purpose="Answer every slow query in a day",
    )

    assert sorted(kc.purposes.values_list("statement", "orientation")) == [
        ("Answer every slow query in a day", SHAPE_FUTURE),
        (chosen.statement, SHAPE_FUTURE),
    ]


def test_formalising_refused_with_a_new_purpose_creates_no_purpose_either(
    practising, boss, stu, directory_admin
):
    formalise(practising, directory_admin.member, boss, [stu])
    before = snapshot()

    with pytest.raises(CommunityError, match="already formalised"):
        services.formalise_cop(
            cop=practising,
            actor=directory_admin.member,
            name="Another Board",
            purposes=[],
            new_purpose="A purpose nobody should see",
            sponsor=boss,
            stewards=[stu],
        )

    assert snapshot() == before
    assert not Purpose.objects.filter(statement="A purpose nobody should see").exists()


def test_proposing_to_formalise_keeps_every_purpose_and_decides_nothing(
    practising, coordinator, boss
):
    chosen = future()

    kc = services.propose_formalisation(
        cop=practising,
        actor=coordinator,
        name="Query Performance Board",
        purposes=[chosen],
        new_purpose="Answer every slow query in a day",
        suggested_sponsor=boss,
    )

    assert (kc.status, kc.formed_from, kc.proposed_by, kc.suggested_sponsor) == (
        Status.PROPOSED,
        practising,
        coordinator,
        boss,
    )
    assert kc.summary == ""  # the CoP's text is not the KC's
    assert sorted(kc.purposes.values_list("statement", flat=True)) == sorted(
        [chosen.statement, "Answer every slow query in a day"]
    )
    assert not kc.memberships.exists()


@pytest.mark.parametrize("new_purpose", ["", "Teach newcomers the query planner"])
def test_proposing_to_formalise_without_a_future_purpose_is_refused(
    practising, coordinator, new_purpose
):
    spread()  # "Teach newcomers the query planner" spreads practice
    before = snapshot()

    with pytest.raises(CommunityError):
        services.propose_formalisation(
            cop=practising,
            actor=coordinator,
            name="Query Performance Board",
            purposes=[],
            new_purpose=new_purpose,
        )

    assert snapshot() == before


# -- the ladder -------------------------------------------------------------------------


def test_set_stage_records_the_step_and_moves_the_community(cop, coordinator):
    change = services.set_stage(
        community=cop, actor=coordinator, stage=Stage.COMMUNITY, note="We meet every week now."
    )

    cop.refresh_from_db()
    assert cop.stage == Stage.COMMUNITY
    stored = StageChange.objects.get()
    assert stored == change
    assert (
        stored.community,
        stored.stage_before,
        stored.stage_after,
        stored.note,
        stored.changed_by,
        stored.changed_by_name,
    ) == (
        cop,
        Stage.COOPERATION,
        Stage.COMMUNITY,
        "We meet every week now.",
        coordinator,
        "Cora Coordinator",
    )


@pytest.mark.parametrize(
    ("stage", "message"),
    [(Stage.COOPERATION, "already at that stage"), ("wisdom", "Unknown stage")],
)
def test_set_stage_refuses_the_same_or_an_unknown_stage(cop, coordinator, stage, message):
    before = snapshot()

    with pytest.raises(CommunityError, match=message):
        services.set_stage(community=cop, actor=coordinator, stage=stage)
    assert snapshot() == before


# == views =============================================================================

# -- recording a CoP ----------------------------------------------------------------------


def test_record_cop_page_needs_sign_in(client):
    path = url("cop_record")

    assert_sent_to_sign_in(client.get(path), path)
    assert_sent_to_sign_in(client.post(path, {"name": "X", "summary": "Y"}), path)
    assert not Community.objects.exists()


def test_record_cop_saves_at_once_when_nothing_is_similar(client, staff):
    sign_in(client, staff)

    form = client.get(url("cop_record"))
    response = client.post(
        url("cop_record"),
        {"name": "Excel Wizards", "summary": "Spreadsheet tricks.", "practise_here": "on"},
    )

    assert "I practise here" in visible_text(form)
    cop = Community.objects.get(name="Excel Wizards")
    assert response.status_code == 302
    assert response.url == cop.get_absolute_url()
    assert memberships_of(cop) == {"Sam Staff": (Role.STEWARD, State.ACTIVE)}
    page = client.get(response.url)
    assert "Excel Wizards is now in the directory." in visible_text(page)
    assert "People who practise here" in visible_text(page)


def test_record_cop_asks_about_similar_communities_then_saves_when_confirmed(client, staff, cop):
    sign_in(client, staff)
    data = {"name": "Clinic for Excel", "summary": "Spreadsheet tricks.", "practise_here": "on"}

    first = client.post(url("cop_record"), data)

    assert first.status_code == 200
    similar = section_text(first, "similar-heading")
    assert similar.startswith("Is it one of these?")
    assert "SQL Clinic" in similar
    assert f'href="{cop.get_absolute_url()}"' in first.content.decode()
    assert 'name="confirmed" value="True"' in first.content.decode()
    assert 'value="Clinic for Excel"' in first.content.decode()
    assert "Save it anyway" in visible_text(first)
    assert Community.objects.count() == 1

    second = client.post(url("cop_record"), {**data, "confirmed": "True"})

    recorded = Community.objects.get(name="Clinic for Excel")
    assert second.url == recorded.get_absolute_url()
    assert recorded.kind == Kind.COP
    assert memberships_of(recorded) == {"Sam Staff": (Role.STEWARD, State.ACTIVE)}


def test_record_cop_without_i_practise_here_adds_no_one(client, outsider):
    sign_in(client, outsider)

    client.post(url("cop_record"), {"name": "Excel Wizards", "summary": "Spreadsheet tricks."})

    assert not Community.objects.get(name="Excel Wizards").memberships.exists()


def test_record_cop_needs_a_name_and_what_is_practised(client, outsider):
    sign_in(client, outsider)

    response = client.post(url("cop_record"), {"name": "", "summary": ""})

    assert response.status_code == 200
    assert "This field is required." in visible_text(response)
    assert not Community.objects.exists()


# -- proposing a KC ---------------------------------------------------------------------


def test_propose_kc_page_needs_sign_in(client):
    path = url("kc_propose")

    assert_sent_to_sign_in(client.get(path), path)
    assert_sent_to_sign_in(client.post(path, {"name": "X", "purpose": "Y"}), path)
    assert not Community.objects.exists()


def test_staff_proposal_shows_on_the_dashboard_and_my_communities_not_the_directory(
    client, staff, boss, directory_admin
):
    sign_in(client, staff)

    assert client.get(url("kc_propose")).status_code == 200
    response = client.post(
        url("kc_propose"),
        {
            "name": "Faster Claims Answers",
            "purpose": "Answer every claim question within a day",
            "summary": "Customers wait too long.",
            "suggested_sponsor": "boss",
        },
    )

    assert response.status_code == 302
    assert response.url == MY_COMMUNITIES
    kc = Community.objects.get(name="Faster Claims Answers")
    assert (kc.status, kc.proposed_by, kc.suggested_sponsor) == (
        Status.PROPOSED,
        staff.member,
        boss,
    )
    assert kc.purposes.get().orientation == SHAPE_FUTURE
    mine = client.get(MY_COMMUNITIES)
    assert "directory admins will look at your proposal" in visible_text(mine)
    assert "Faster Claims Answers Waiting for a directory admin" in section_text(
        mine, "proposals-heading"
    )
    assert "Faster Claims Answers" not in visible_text(client.get(url("community_list")))
    # The proposer may open it; anyone else who is not a directory admin may not.
    assert client.get(kc.get_absolute_url()).status_code == 200
    sign_in(client, member_named("Nosy Neighbour", username="nosy").user)
    assert client.get(kc.get_absolute_url()).status_code == 404

    sign_in(client, directory_admin)
    proposals = section_text(client.get(DASHBOARD), "proposals-heading")
    assert proposals.startswith("Proposed knowledge communities 1")
    assert "Faster Claims Answers by Sam Staff" in proposals


def test_propose_kc_with_an_unknown_sponsor_shows_the_error_and_saves_nothing(client, staff):
    sign_in(client, staff)

    response = client.post(
        url("kc_propose"), {"name": "Faster", "purpose": "Faster", "suggested_sponsor": "nobody"}
    )

    assert response.status_code == 200
    assert "No one matches: nobody." in visible_text(response)
    assert not Community.objects.exists()


def test_the_proposer_can_open_their_proposal_from_my_communities(client, staff, proposal):
    sign_in(client, staff)

    assert client.get(proposal.get_absolute_url()).status_code == 200


# -- deciding a proposal -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "coordinator", "other_steward"])
def test_only_directory_admins_may_decide_a_proposal(client, people, proposal, role):
    path = url("proposal_decide", proposal.slug)
    sign_in(client, people[role])
    before = snapshot()

    get = client.get(path)
    post = client.post(path, {"decision": "approve", "sponsor": "boss", "stewards": "stu"})
    decline = client.post(path, {"decision": "decline", "reason": "No."})

    if role == "anonymous":
        assert_sent_to_sign_in(get, path)
        assert_sent_to_sign_in(post, path)
    else:
        assert (get.status_code, post.status_code, decline.status_code) == (403, 403, 403)
    assert snapshot() == before


def test_admin_sees_the_proposal_with_the_suggested_sponsor_filled_in(
    client, directory_admin, proposal
):
    sign_in(client, directory_admin)

    response = client.get(url("proposal_decide", proposal.slug))

    assert response.status_code == 200
    text = visible_text(response)
    assert "Proposal: Faster Claims Answers" in text
    assert "Answer every claim question within a day Shape the future" in text
    assert "Suggested sponsor Bea Boss" in text
    assert re.search(r'name="sponsor" value="boss"', response.content.decode())


def test_admin_approves_a_proposal_naming_sponsor_and_stewards_by_username(
    client, directory_admin, proposal, stu
):
    sign_in(client, directory_admin)

    response = client.post(
        url("proposal_decide", proposal.slug),
        {"decision": "approve", "sponsor": "boss", "stewards": "stu", "join_policy": "open"},
    )

    assert response.status_code == 302
    assert response.url == proposal.get_absolute_url()
    proposal.refresh_from_db()
    assert (proposal.status, proposal.join_policy) == (Status.ACTIVE, "open")
    assert memberships_of(proposal) == {
        "Bea Boss": (Role.SPONSOR, State.ACTIVE),
        "Stu Steward": (Role.STEWARD, State.ACTIVE),
    }
    page = client.get(response.url)
    assert "Faster Claims Answers is active." in visible_text(page)
    assert client.get(url("proposal_decide", proposal.slug)).status_code == 404


@pytest.mark.parametrize(
    ("case", "data", "says"),
    [
        (
            "no future purpose",
            {"sponsor": "boss", "stewards": "stu"},
            "A knowledge community can only be active with at least one purpose that shapes "
            "the future.",
        ),
        ("no stewards", {"sponsor": "boss", "stewards": ""}, "This field is required."),
        (
            "sponsor as steward",
            {"sponsor": "boss", "stewards": "boss"},
            "The sponsor cannot also be a steward.",
        ),
        ("unknown steward", {"sponsor": "boss", "stewards": "stu ghost"}, "No one matches: ghost."),
    ],
)
def test_approval_form_says_what_is_missing_and_changes_nothing(
    client, directory_admin, proposal, stu, case, data, says
):
    if case == "no future purpose":
        proposal.purposes.set([spread()])
    sign_in(client, directory_admin)
    before = snapshot()

    response = client.post(
        url("proposal_decide", proposal.slug),
        {"decision": "approve", "join_policy": "request", **data},
    )

    assert response.status_code == 200
    assert says in visible_text(response)
    assert snapshot() == before


def test_admin_declines_a_proposal_with_a_reason_the_proposer_sees(
    client,
    directory_admin,
    staff,
    proposal,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    sign_in(client, directory_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("proposal_decide", proposal.slug),
            {"decision": "decline", "reason": "Claims Turnaround does this already."},
        )

    assert response.status_code == 302
    assert response.url == DASHBOARD
    proposal.refresh_from_db()
    assert proposal.declined_at is not None
    assert proposal.decision_note == "Claims Turnaround does this already."
    assert "No proposals are waiting." in visible_text(client.get(DASHBOARD))
    assert [m.to for m in mailoutbox] == [["staff@example.org"]]
    assert "Claims Turnaround does this already." in mailoutbox[0].body

    sign_in(client, staff)
    assert "Declined: Claims Turnaround does this already." in section_text(
        client.get(MY_COMMUNITIES), "proposals-heading"
    )


# -- formalising a CoP (view) -------------------------------------------------------------


def formalise_data(**overrides):
    data = {
        "name": "Query Performance Board",
        "new_purpose": "No report slower than a second",
        "sponsor": "boss",
        "stewards": "cora.coordinator",
        "join_policy": "request",
        "participants": "invite",
    }
    return {**data, **overrides}


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "other_steward"])
def test_formalise_is_refused_to_all_but_admins_and_coordinators(client, people, cop, boss, role):
    path = url("community_formalise", cop.slug)
    sign_in(client, people[role])
    before = snapshot()

    get = client.get(path)
    post = client.post(path, formalise_data())

    if role == "anonymous":
        assert_sent_to_sign_in(get, path)
        assert_sent_to_sign_in(post, path)
    else:
        assert (get.status_code, post.status_code) == (403, 403)
    assert snapshot() == before


def test_formalise_form_for_an_admin_offers_participants_and_archiving(
    client, directory_admin, cop
):
    sign_in(client, directory_admin)

    response = client.get(url("community_formalise", cop.slug))

    assert response.status_code == 200
    text = visible_text(response)
    assert "Formalise SQL Clinic as a knowledge community" in text
    for label in (
        "Or a new future-shaping purpose",
        "Sponsor",
        "Stewards",
        "The CoP's participants",
    ):
        assert label in text
    assert "Archive the community of practice afterwards" in text
    assert 'value="SQL Clinic"' not in response.content.decode()  # the KC needs its own name
    assert "As its coordinator you propose this" not in text


def test_admin_formalises_a_cop_at_once_and_both_pages_show_the_lineage(
    client, directory_admin, practising, boss
):
    cop = practising
    sign_in(client, directory_admin)

    response = client.post(url("community_formalise", cop.slug), formalise_data())

    kc = Community.objects.get(name="Query Performance Board")
    assert response.status_code == 302
    assert response.url == kc.get_absolute_url()
    assert (kc.kind, kc.status, kc.formed_from) == (Kind.KC, Status.ACTIVE, cop)
    assert kc.purposes.get().statement == "No report slower than a second"
    assert memberships_of(kc)["Sam Staff"] == (Role.MEMBER, State.INVITED)
    assert memberships_of(kc)["Bea Boss"] == (Role.SPONSOR, State.ACTIVE)
    kc_page = client.get(kc.get_absolute_url())
    assert "Query Performance Board is formed from SQL Clinic." in visible_text(kc_page)
    assert re.search(
        rf'<dt>Formed from</dt><dd><a href="{cop.get_absolute_url()}">SQL Clinic</a>',
        page_text(kc_page),
    )
    cop_page = client.get(cop.get_absolute_url())
    assert re.search(
        rf'<dt>Formalised as</dt>\s*<dd><a href="{kc.get_absolute_url()}">Query Performance '
        "Board</a>",
        page_text(cop_page),
    )
    cop.refresh_from_db()
    assert cop.status == Status.ACTIVE


def test_admin_can_formalise_adding_participants_and_archiving_the_cop(
    client, directory_admin, practising, boss
):
    sign_in(client, directory_admin)
    purpose = future()

    client.post(
        url("community_formalise", practising.slug),
        formalise_data(new_purpose="", purposes=[purpose.pk], participants="add", archive_cop="on"),
    )

    kc = Community.objects.get(name="Query Performance Board")
    assert list(kc.purposes.all()) == [purpose]
    assert memberships_of(kc)["Pia Participant"] == (Role.MEMBER, State.ACTIVE)
    practising.refresh_from_db()
    assert practising.status == Status.ARCHIVED


def test_coordinator_formalising_makes_a_proposal_for_admins(
    client, coordinator, practising, boss, directory_admin
):
    cop = practising
    sign_in(client, coordinator.user)

    form = client.get(url("community_formalise", cop.slug))
    response = client.post(url("community_formalise", cop.slug), formalise_data())

    assert "As its coordinator you propose this; a directory admin decides." in visible_text(form)
    assert "Archive the community of practice afterwards" not in visible_text(form)
    assert response.status_code == 302
    assert response.url == cop.get_absolute_url()
    kc = Community.objects.get(name="Query Performance Board")
    assert (kc.status, kc.formed_from, kc.proposed_by, kc.suggested_sponsor) == (
        Status.PROPOSED,
        cop,
        coordinator,
        boss,
    )
    assert kc.purposes.get().orientation == SHAPE_FUTURE
    assert not kc.memberships.exists()
    assert "Proposed: directory admins will decide." in visible_text(client.get(response.url))

    sign_in(client, directory_admin)
    proposals = section_text(client.get(DASHBOARD), "proposals-heading")
    assert "Query Performance Board by Cora Coordinator · from SQL Clinic" in proposals


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_formalise_without_a_purpose_shows_the_error_and_creates_nothing(
    client, people, cop, boss, role
):
    sign_in(client, people[role])
    before = snapshot()

    response = client.post(url("community_formalise", cop.slug), formalise_data(new_purpose=""))

    assert response.status_code == 200
    assert "Choose or write at least one purpose that shapes the future." in visible_text(response)
    assert snapshot() == before


def test_formalise_refused_by_the_service_creates_no_purpose_either(
    client, directory_admin, cop, boss, stu
):
    formalise(cop, directory_admin.member, boss, [stu])
    sign_in(client, directory_admin)
    before = snapshot()

    response = client.post(
        url("community_formalise", cop.slug),
        formalise_data(name="Second Board", confirmed="True"),  # past the similar ones
    )

    assert response.status_code == 200
    assert "SQL Clinic was already formalised as Query Performance Board." in visible_text(response)
    assert snapshot() == before


def test_coordinator_cannot_propose_formalising_an_already_formalised_cop(
    client, coordinator, cop, boss, stu, directory_admin
):
    formalise(cop, directory_admin.member, boss, [stu])
    sign_in(client, coordinator.user)

    client.post(url("community_formalise", cop.slug), formalise_data(name="Second Board"))

    assert not Community.objects.filter(name="Second Board").exists()


def test_formalising_a_knowledge_community_is_forbidden(client, directory_admin, open_kc):
    sign_in(client, directory_admin)

    assert client.get(url("community_formalise", open_kc.slug)).status_code == 403


def test_formalise_button_shows_for_coordinators_and_admins_only(client, people, practising):
    page_for = {}
    for role in ("staff", "coordinator", "admin"):
        sign_in(client, people[role])
        page_for[role] = visible_text(client.get(practising.get_absolute_url()))

    assert "Formalise as knowledge community" not in page_for["staff"]
    assert "You practise here." in page_for["staff"]
    assert "Formalise as knowledge community" in page_for["coordinator"]
    assert "Merge into another" not in page_for["coordinator"]
    assert "Formalise as knowledge community" in page_for["admin"]
    assert "Merge into another" in page_for["admin"]


# -- stage --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_stage_set_by_role(client, people, cop, role):
    path = url("stage_set", cop.slug)
    sign_in(client, people[role])
    before = snapshot()

    response = client.post(path, {"stage": "community", "note": "Weekly now."})

    cop.refresh_from_db()
    if role in ("coordinator", "admin"):
        assert response.status_code == 302
        assert response.url == cop.get_absolute_url()
        assert cop.stage == Stage.COMMUNITY
        change = cop.stage_changes.get()
        assert (change.stage_before, change.stage_after, change.note) == (
            Stage.COOPERATION,
            Stage.COMMUNITY,
            "Weekly now.",
        )
        assert change.changed_by.user == people[role]
        page = visible_text(client.get(cop.get_absolute_url()))
        assert "Stage updated." in page
        assert "Cooperation → Community" in page
    else:
        if role == "anonymous":
            assert_sent_to_sign_in(response, path)
        else:
            assert response.status_code == 403
        assert cop.stage == Stage.COOPERATION
        assert snapshot() == before


def test_stage_set_is_post_only(client, coordinator, cop):
    sign_in(client, coordinator.user)

    assert client.get(url("stage_set", cop.slug)).status_code == 405
    cop.refresh_from_db()
    assert cop.stage == Stage.COOPERATION


@pytest.mark.parametrize(
    ("data", "says"),
    [({"stage": "cooperation"}, "already at that stage"), ({"stage": "wisdom"}, "Choose a stage.")],
)
def test_stage_set_refusals_are_shown_and_change_nothing(client, coordinator, cop, data, says):
    sign_in(client, coordinator.user)
    before = snapshot()

    response = client.post(url("stage_set", cop.slug), data, follow=True)

    assert says in visible_text(response)
    assert snapshot() == before


def test_stage_form_shows_only_to_those_who_may_set_it(client, people, cop):
    shown = {}
    for role in ("staff", "other_steward", "coordinator", "admin"):
        sign_in(client, people[role])
        shown[role] = "Move to stage" in visible_text(client.get(cop.get_absolute_url()))

    assert shown == {"staff": False, "other_steward": False, "coordinator": True, "admin": True}


# -- merge --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "staff", "outsider", "coordinator", "other_steward"])
def test_only_directory_admins_may_merge(client, people, cop, role):
    dup = CommunityFactory(kind=Kind.COP, name="SQL Surgery", slug="sql-surgery")
    path = url("community_merge", dup.slug)
    sign_in(client, people[role])
    before = snapshot()

    get = client.get(path)
    post = client.post(path, {"target": cop.slug})

    if role == "anonymous":
        assert_sent_to_sign_in(get, path)
        assert_sent_to_sign_in(post, path)
    else:
        assert (get.status_code, post.status_code) == (403, 403)
    assert snapshot() == before


def confirm_merge(client, source, target, *, keep_roles=False):
    """Preview the merge (GET), then confirm exactly that plan (POST)."""
    path = url("community_merge", source.slug)
    preview = client.get(
        path, {"target": target.pk, **({"keep_roles": "on"} if keep_roles else {})}
    )
    assert preview.status_code == 200
    fingerprint = re.search(r'name="fingerprint" value="(\w+)"', preview.content.decode())[1]
    data = {"target": target.pk, "fingerprint": fingerprint}
    if keep_roles:
        data["keep_roles"] = "True"
    return client.post(path, data)


def test_admin_merges_a_duplicate_into_the_survivor(client, directory_admin, cop, duplicate):
    sign_in(client, directory_admin)

    response = confirm_merge(client, duplicate, cop)

    assert response.status_code == 302
    assert response.url == cop.get_absolute_url()
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == (Status.ARCHIVED, cop)
    assert "Dan Duplicate" in memberships_of(cop)
    assert "SQL Surgery is merged into SQL Clinic." in visible_text(client.get(response.url))
    old_page = page_text(client.get(duplicate.get_absolute_url()))
    assert (
        f'This community was merged into <a class="alert-link" href="{cop.get_absolute_url()}">'
        "SQL Clinic</a>."
    ) in (old_page)


def test_merge_form_refusals_are_shown_and_change_nothing(
    client, directory_admin, cop, open_kc, duplicate
):
    sign_in(client, directory_admin)
    before = snapshot()
    path = url("community_merge", duplicate.slug)

    unknown = client.get(path, {"target": "999999"})
    across = client.get(path, {"target": open_kc.pk})
    posted = client.post(path, {"target": open_kc.pk, "fingerprint": "x" * 64}, follow=True)

    for page in (unknown, across, posted):
        assert "That community cannot take this one in" in visible_text(page)
    assert snapshot() == before


def test_merge_page_for_a_community_without_significant_words(client, directory_admin):
    dup = CommunityFactory(kind=Kind.COP, name="The Team", summary="A group.")
    sign_in(client, directory_admin)

    response = client.get(url("community_merge", dup.slug))

    assert response.status_code == 200
    assert "Merge The Team into another community" in visible_text(response)


def test_merge_page_lists_likely_duplicates(client, directory_admin, cop, duplicate):
    sign_in(client, directory_admin)

    response = client.get(url("community_merge", duplicate.slug))

    assert response.status_code == 200
    assert re.search(
        rf'<input [^>]*type="radio" name="target" id="target-{cop.pk}" value="{cop.pk}"',
        response.content.decode(),
    )
    assert "Likely duplicates SQL Clinic" in visible_text(response)


# -- the ladder ---------------------------------------------------------------------------


def ladder_steps(response) -> dict[str, tuple[int, list[str]]]:
    """{stage: (count badge, community names listed)} as the ladder page shows them."""
    steps = {}
    for stage, body in re.findall(
        r'<section[^>]*aria-labelledby="step-(\w+)">(.*?)</section>',
        response.content.decode(),
        re.S,
    ):
        count = int(re.search(r'<span class="badge text-bg-secondary">(\d+)</span>', body)[1])
        names = [html.unescape(n) for n in re.findall(r'<a href="/c/[^"]+/">([^<]+)</a>', body)]
        steps[stage] = (count, names)
    return steps


@pytest.fixture
def ladder_world(cop, open_kc, request_kc, staff):
    """cop (cooperation), request_kc (cooperation), open_kc (community), a dormant CoP at
    sharing, and neither a proposal nor an archived community."""
    CommunityFactory(
        kind=Kind.COP, name="Actuarial Tea", status=Status.DORMANT, stage=Stage.SHARING
    )
    CommunityFactory(name="Old Archive", status=Status.ARCHIVED, stage=Stage.SHARING)
    services.propose_kc(actor=staff.member, name="Proposed Thing", purpose_statement="Soon")


def test_ladder_needs_sign_in(client):
    assert_sent_to_sign_in(client.get(LADDER), LADDER)


def test_ladder_lists_each_listed_live_community_under_its_stage_with_counts(
    client, outsider, ladder_world
):
    sign_in(client, outsider)

    response = client.get(LADDER)

    assert response.status_code == 200
    assert ladder_steps(response) == {
        "sharing": (1, ["Actuarial Tea"]),
        # CoPs first, then KCs, each by name
        "cooperation": (2, ["SQL Clinic", "Climate Risk Pricing"]),
        "community": (1, ["Claims Turnaround"]),
        "common_good": (0, []),
    }
    text = visible_text(response)
    assert "Proposed Thing" not in text
    assert "Old Archive" not in text
    assert "No community here yet." in text


def test_ladder_filters_by_kind_department_and_purpose(
    client, outsider, ladder_world, open_kc, cop
):
    claims = DepartmentFactory(name="Claims", slug="claims")
    MembershipFactory(community=cop, member=member_named("Carl Claims", department=claims))
    sign_in(client, outsider)

    by_kind = ladder_steps(client.get(LADDER, {"kind": "kc"}))
    by_department = ladder_steps(client.get(LADDER, {"department": "claims"}))
    by_purpose = ladder_steps(client.get(LADDER, {"purpose": "cut-claim-turnaround"}))

    assert by_kind["cooperation"] == (1, ["Climate Risk Pricing"])
    assert by_kind["community"] == (1, ["Claims Turnaround"])
    assert by_kind["sharing"] == (0, [])
    assert {s: v for s, v in by_department.items() if v[0]} == {"cooperation": (1, ["SQL Clinic"])}
    assert {s: v for s, v in by_purpose.items() if v[0]} == {
        "community": (1, ["Claims Turnaround"])
    }


def test_ladder_shows_how_many_more_when_a_step_is_long(client, outsider, monkeypatch):
    from communities import views

    monkeypatch.setattr(views, "LADDER_STEP_LIMIT", 2)
    for n in range(5):
        CommunityFactory(name=f"Sharer {n}", stage=Stage.SHARING)
    sign_in(client, outsider)

    response = client.get(LADDER)

    assert ladder_steps(response)["sharing"] == (5, ["Sharer 0", "Sharer 1"])
    assert "and 3 more; narrow with the filters" in visible_text(response)


# Session, user, permissions (2), member, navbar count, department and purpose choices,
# the per-stage counts and one query per stage; a filter adds its own look-up.
LADDER_QUERY_BUDGET = 13


@pytest.mark.parametrize("count", [5, 60])
def test_ladder_query_count_does_not_grow_with_communities(
    client, outsider, count, django_assert_max_num_queries
):
    stages = list(Stage.values)
    department = DepartmentFactory()
    for n in range(count):
        if n % 2:
            community = led_kc(
                sponsor=member_named(f"Sponsor {n}", department=department),
                steward=member_named(f"Steward {n}", department=department),
                stage=stages[n % 4],
            )
        else:
            community = CommunityFactory(kind=Kind.COP, stage=stages[n % 4])
        community.purposes.add(PurposeFactory())
    sign_in(client, outsider)
    client.get(LADDER)  # the session and Member exist after a first visit

    for query, budget in [
        ({}, LADDER_QUERY_BUDGET),
        ({"kind": "kc", "department": department.slug}, LADDER_QUERY_BUDGET + 1),
    ]:
        with django_assert_max_num_queries(budget):
            response = client.get(LADDER, query)
        assert response.status_code == 200
    assert sum(c for c, _names in ladder_steps(client.get(LADDER)).values()) == count


def test_ladder_shows_a_newly_formalised_kc(client, outsider, cop, boss, stu, directory_admin):
    kc = formalise(cop, directory_admin.member, boss, [stu])
    sign_in(client, outsider)

    steps = ladder_steps(client.get(LADDER))

    assert kc.stage == Stage.COOPERATION
    assert steps["cooperation"] == (2, ["SQL Clinic", "Query Performance Board"])


# -- participating through the pages -------------------------------------------------------


def test_i_practise_here_and_i_no_longer_practise_here_through_the_pages(client, outsider, cop):
    sign_in(client, outsider)

    before = visible_text(client.get(cop.get_absolute_url()))
    joined = client.post(url("membership_join", cop.slug), follow=True)
    left = client.post(url("membership_leave", cop.slug), follow=True)

    assert "Do you practise here?" in before
    assert "I practise here" in before
    assert "You now practise in SQL Clinic." in visible_text(joined)
    assert "I no longer practise here" in visible_text(joined)
    assert "You left SQL Clinic." in visible_text(left)
    assert [a for name, a in events_of(cop) if name == "Olive Outsider"] == [
        Action.PRACTISING,
        Action.LEFT,
    ]


def test_declined_proposal_stays_declined_and_hidden_from_the_ladder(
    client, outsider, proposal, directory_admin
):
    services.decline_proposal(community=proposal, actor=directory_admin.member, reason="No.")
    sign_in(client, outsider)

    assert "Faster Claims Answers" not in visible_text(client.get(LADDER))
    assert "Faster Claims Answers" not in visible_text(client.get(url("community_list")))
