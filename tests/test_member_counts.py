"""``Community.active_member_count`` is stored: after every kind of roster change it equals
the number of active memberships counted from the memberships themselves."""

import codecs
import csv
import io

import pytest
from django.core.management import call_command

from communities import services
from communities.models import Community, Membership, Purpose, active_member_counts
from communities.people_sync import parse_hr_csv, plan_sync
from members.models import Member

from .factories import PurposeFactory, coordinated_cop, led_kc, member_named

pytestmark = pytest.mark.django_db

State, Role = Membership.State, Membership.Role


def assert_counts_stored() -> None:
    """Every community's stored count is its active memberships, counted."""
    counted = active_member_counts()
    stored = dict(Community.objects.values_list("pk", "active_member_count"))
    assert stored == {pk: counted.get(pk, 0) for pk in stored}


def stored(community: Community) -> int:
    return Community.objects.get(pk=community.pk).active_member_count


def membership(community: Community, member: Member) -> Membership:
    return community.memberships.get(member=member)


def test_join_and_leave_keep_the_count(open_kc):
    ann = member_named("Ann Joiner")
    before = stored(open_kc)

    services.join_community(community=open_kc, member=ann)
    assert stored(open_kc) == before + 1
    assert_counts_stored()

    services.leave_community(community=open_kc, member=ann)
    assert stored(open_kc) == before
    assert_counts_stored()


def test_requests_count_only_once_approved(request_kc):
    steward = request_kc.memberships.get(role=Role.STEWARD).member
    rae, dee = member_named("Rae Requester"), member_named("Dee Denied")
    before = stored(request_kc)

    services.request_membership(community=request_kc, member=rae)
    services.request_membership(community=request_kc, member=dee)
    assert stored(request_kc) == before
    services.deny_request(
        community=request_kc, membership=membership(request_kc, dee), actor=steward
    )
    services.approve_request(
        community=request_kc, membership=membership(request_kc, rae), actor=steward
    )

    assert stored(request_kc) == before + 1
    assert_counts_stored()


def test_invitations_count_once_accepted(invite_kc):
    steward = invite_kc.memberships.get(role=Role.STEWARD).member
    ivan, nora = member_named("Ivan Invitee"), member_named("Nora Declines")

    services.add_members(community=invite_kc, members=[ivan, nora], actor=steward, invite=True)
    assert_counts_stored()
    before = stored(invite_kc)
    services.accept_invitation(community=invite_kc, member=ivan)
    services.decline_invitation(community=invite_kc, member=nora)

    assert stored(invite_kc) == before + 1
    assert_counts_stored()


def test_remove_and_role_changes_keep_the_count(open_kc):
    steward = open_kc.memberships.get(role=Role.STEWARD).member
    mo, max_ = member_named("Mo Member"), member_named("Max Member")
    services.add_members(community=open_kc, members=[mo, max_], actor=steward)
    before = stored(open_kc)

    services.change_role(
        community=open_kc, membership=membership(open_kc, mo), actor=steward, role=Role.STEWARD
    )
    assert stored(open_kc) == before
    services.remove_member(community=open_kc, membership=membership(open_kc, max_), actor=steward)

    assert stored(open_kc) == before - 1
    assert_counts_stored()


def test_adding_many_people_at_once_counts_them_once_each(open_kc):
    steward = open_kc.memberships.get(role=Role.STEWARD).member
    people = [member_named(f"Person {n}") for n in range(12)]
    services.join_community(community=open_kc, member=people[0])  # already a member
    before = stored(open_kc)

    result = services.add_members(community=open_kc, members=people, actor=steward)

    assert len(result.done) == 11 and len(result.already) == 1
    assert stored(open_kc) == before + 11
    assert_counts_stored()


def test_a_roster_import_keeps_the_count(open_kc):
    steward = open_kc.memberships.get(role=Role.STEWARD).member
    keeper, leaver = member_named("Kim Keeper"), member_named("Lou Leaver")
    services.add_members(community=open_kc, members=[keeper, leaver], actor=steward)
    newcomer = member_named("Nia Newcomer")
    leaders = open_kc.memberships.filter(role__in=[Role.SPONSOR, Role.STEWARD])
    lines = [f"{m.member.user.email},{m.role}," for m in leaders.select_related("member__user")]
    lines += [f"{keeper.user.email},member,", f"{newcomer.user.email},member,"]
    text = "\n".join(["email,role,note", *lines]) + "\n"

    pending = services.preview_roster_import(
        community=open_kc, actor=steward, file_name="roster.csv", text=text, remove_absent=True
    )
    services.apply_roster_import(roster_import=pending, actor=steward)

    assert membership(open_kc, leaver).state == State.REMOVED
    assert membership(open_kc, newcomer).state == State.ACTIVE
    assert stored(open_kc) == leaders.count() + 2
    assert_counts_stored()


def test_a_merge_moves_the_count_to_the_survivor(directory_admin):
    survivor = coordinated_cop(name="SQL Clinic", slug="sql-clinic")
    duplicate = coordinated_cop(name="SQL Clinic Too", slug="sql-clinic-too")
    for name in ("Dan Duplicate", "Eve Both"):
        services.join_community(community=duplicate, member=member_named(name))
    services.join_community(community=survivor, member=Member.objects.get(display_name="Eve Both"))
    assert_counts_stored()

    services.merge_communities(source=duplicate, target=survivor, actor=directory_admin.member)

    assert stored(duplicate) == 0
    assert (
        stored(survivor)
        == Membership.objects.filter(community=survivor, state=State.ACTIVE).count()
    )
    assert_counts_stored()


def test_recording_creating_and_formalising_keep_the_count(directory_admin):
    admin = directory_admin.member
    cora, boss, stew = member_named("Cora"), member_named("Boss"), member_named("Stew")
    cop = services.record_cop(actor=cora, name="Query Clinic", summary="Slow queries.")
    services.join_community(community=cop, member=member_named("Pia Participant"))
    kc = services.create_community(
        actor=admin,
        name="Pricing Board",
        purposes=[PurposeFactory(orientation=Purpose.Orientation.SHAPE_FUTURE)],
        sponsor=boss,
        stewards=[stew],
    )
    assert stored(cop) == 2 and stored(kc) == 2

    formed = services.formalise_cop(
        cop=cop,
        actor=admin,
        name="Query Performance Board",
        purposes=[PurposeFactory(orientation=Purpose.Orientation.SHAPE_FUTURE)],
        sponsor=boss,
        stewards=[stew],
        invite_participants=False,
        archive_cop=True,
    )

    assert stored(formed) == Membership.objects.filter(community=formed, state=State.ACTIVE).count()
    assert stored(formed) >= 3  # the sponsor, the steward and the CoP's people
    assert stored(cop) == 2  # archiving keeps who was there
    assert_counts_stored()


def test_an_approved_proposal_counts_its_leaders(directory_admin):
    proposer, boss, stew = member_named("Pat"), member_named("Boss"), member_named("Stew")
    proposal = services.propose_kc(
        actor=proposer, name="Claims of Tomorrow", purpose_statement="Claims paid in a day"
    )
    assert stored(proposal) == 0

    services.approve_proposal(
        community=proposal, actor=directory_admin.member, sponsor=boss, stewards=[stew]
    )

    assert stored(proposal) == 2
    assert_counts_stored()


def hr_extract(members) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = ["username", "email", "first_name", "last_name", "display_name", "department"]
    writer.writerow(columns)
    for person in members:
        user = person.user
        writer.writerow(
            [user.username, user.email, user.first_name, user.last_name, person.display_name]
            + [person.department.name if person.department else ""]
        )
    return codecs.BOM_UTF8 + out.getvalue().encode()


def test_people_leaving_the_organisation_leave_the_counts(open_kc, request_kc, cop):
    leaver = member_named("Lee Leaver")
    for community in (open_kc, cop):
        services.join_community(community=community, member=leaver)
    services.request_membership(community=request_kc, member=leaver)
    before = {c.pk: stored(c) for c in (open_kc, request_kc, cop)}
    everyone_else = Member.objects.select_related("user", "department").exclude(pk=leaver.pk)

    services.sync_people(plan=plan_sync(parse_hr_csv(hr_extract(everyone_else)).rows), force=True)

    assert not Member.objects.get(pk=leaver.pk).user.is_active
    assert stored(open_kc) == before[open_kc.pk] - 1
    assert stored(cop) == before[cop.pk] - 1
    assert stored(request_kc) == before[request_kc.pk]
    assert_counts_stored()


def test_the_directory_shows_and_sorts_by_the_stored_count(client, staff):
    small = led_kc(name="Small Circle", slug="small-circle")
    big = led_kc(name="Big Circle", slug="big-circle")
    steward = big.memberships.get(role=Role.STEWARD).member
    services.add_members(
        community=big, members=[member_named(f"Fan {n}") for n in range(3)], actor=steward
    )
    client.force_login(staff)

    html = client.get("/?sort=members").content.decode()

    assert html.index("Big Circle") < html.index("Small Circle")
    assert "5 members" in html and "2 members" in html
    assert stored(small) == 2


def test_the_recount_command_repairs_counts_changed_outside_the_services(open_kc, cop):
    Community.objects.filter(pk=open_kc.pk).update(active_member_count=99)
    out = io.StringIO()

    call_command("recount_members", stdout=out)

    assert out.getvalue().strip() == "Member counts: 1 corrected."
    assert_counts_stored()
    out = io.StringIO()
    call_command("recount_members", stdout=out)
    assert out.getvalue().strip() == "Member counts: all correct."
