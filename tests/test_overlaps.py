"""The stored overlaps (``CommunityOverlap``: the people two communities share) always
equal a count from scratch, after every kind of roster change; pages read them."""

import random
from importlib import import_module

import pytest
from django.core.management import call_command
from django.db import connection

from communities import insights, overlaps, selectors, services
from communities.models import Community, CommunityOverlap, Membership

from .factories import CommunityFactory, MembershipFactory, led_kc, member_named

pytestmark = pytest.mark.django_db

State = Membership.State


def assert_stored_equals_counted():
    assert overlaps.stored() == overlaps.counted()


def shared(a: Community, b: Community) -> int:
    row = CommunityOverlap.objects.filter(community=a, other=b).first()
    return row.shared if row else 0


@pytest.fixture
def people():
    return [member_named(f"Person {n}", username=f"p{n}") for n in range(6)]


@pytest.fixture
def around(open_kc, request_kc, invite_kc, cop, people):
    """Everyone of ``people`` is in the CoP; the first three in the open KC too."""
    for person in people:
        MembershipFactory(community=cop, member=person, role=Membership.Role.PARTICIPANT)
    for person in people[:3]:
        MembershipFactory(community=open_kc, member=person)
    assert_stored_equals_counted()
    return {"open": open_kc, "request": request_kc, "invite": invite_kc, "cop": cop}


def test_join_and_leave_add_and_take_the_person_both_ways(around, people):
    newcomer = people[4]
    services.join_community(community=around["open"], member=newcomer)
    assert shared(around["open"], around["cop"]) == shared(around["cop"], around["open"]) == 4
    assert_stored_equals_counted()

    services.leave_community(community=around["open"], member=newcomer)
    assert shared(around["open"], around["cop"]) == 3
    assert_stored_equals_counted()


def test_the_last_shared_person_leaving_deletes_the_pair(around, people):
    lone = member_named("Lone Person")
    other = led_kc(name="Elsewhere", join_policy=Community.JoinPolicy.OPEN)
    services.join_community(community=other, member=lone)
    services.join_community(community=around["open"], member=lone)
    assert shared(other, around["open"]) == 1

    services.leave_community(community=other, member=lone)

    assert not CommunityOverlap.objects.filter(community=other).exists()
    assert not CommunityOverlap.objects.filter(other=other).exists()
    assert_stored_equals_counted()


def test_request_approve_deny_and_cancel(around, people, other_steward):
    community = around["request"]
    asked = services.request_membership(community=community, member=people[0])
    assert_stored_equals_counted()
    services.approve_request(community=community, membership=asked, actor=other_steward.member)
    assert shared(community, around["cop"]) == 1
    assert_stored_equals_counted()

    denied = services.request_membership(community=community, member=people[1])
    services.deny_request(community=community, membership=denied, actor=other_steward.member)
    services.request_membership(community=community, member=people[2])
    services.cancel_request(community=community, member=people[2])
    assert shared(community, around["cop"]) == 1
    assert_stored_equals_counted()


def test_invitation_accepted_and_member_removed(around, people):
    community = around["invite"]
    ian = community.memberships.get(role=Membership.Role.STEWARD).member
    services.add_members(community=community, members=people[:2], actor=ian, invite=True)
    assert shared(community, around["cop"]) == 0
    services.accept_invitation(community=community, member=people[0])
    assert shared(community, around["cop"]) == 1
    assert_stored_equals_counted()

    services.remove_member(
        community=community, membership=community.memberships.get(member=people[0]), actor=ian
    )
    services.withdraw_invitation(
        community=community, membership=community.memberships.get(member=people[1]), actor=ian
    )
    assert shared(community, around["cop"]) == 0
    assert_stored_equals_counted()


def test_bulk_add(around, people, other_steward):
    services.add_members(community=around["request"], members=people, actor=other_steward.member)
    assert shared(around["request"], around["cop"]) == 6
    assert shared(around["request"], around["open"]) == 3
    assert_stored_equals_counted()


def test_roster_import_adds_changes_and_removes(around, people, steward):
    community = around["open"]
    text = (
        "username,role\np0,steward\np3,member\np4,member\n"
        "steward,steward\nspencer.sponsor,sponsor\n"
    )
    pending = services.preview_roster_import(
        community=community,
        actor=steward.member,
        file_name="roster.csv",
        text=text,
        remove_absent=True,
    )

    services.apply_roster_import(roster_import=pending, actor=steward.member)

    # p0 becomes a steward, p3 and p4 join, p1 and p2 (absent from the file) are removed.
    assert shared(community, around["cop"]) == 3  # p0, p3, p4
    active = set(community.memberships.filter(state=State.ACTIVE).values_list("member", flat=True))
    in_cop = set(
        around["cop"].memberships.filter(state=State.ACTIVE).values_list("member", flat=True)
    )
    assert shared(community, around["cop"]) == len(active & in_cop)
    assert_stored_equals_counted()


def test_merge_moves_the_overlaps_to_the_survivor(around, people, directory_admin):
    duplicate = led_kc(name="Claims Turnaround Team", join_policy=Community.JoinPolicy.OPEN)
    for person in people[2:5]:
        services.join_community(community=duplicate, member=person)
    assert shared(duplicate, around["open"]) == 1

    services.merge_communities(
        source=duplicate, target=around["open"], actor=directory_admin.member
    )

    assert not CommunityOverlap.objects.filter(community=duplicate).exists()
    assert shared(around["open"], around["cop"]) == 5  # p0-p4
    assert_stored_equals_counted()


def test_formalise_adds_the_participants(around, people, directory_admin):
    kc_ = services.formalise_cop(
        cop=around["cop"],
        actor=directory_admin.member,
        name="SQL Council",
        purposes=[],
        new_purpose="Every query reviewed by 2030",
        sponsor=people[0],
        stewards=[people[1]],
        invite_participants=False,
        archive_cop=True,
    )

    assert shared(kc_, around["cop"]) == 7  # six people and the coordinator
    assert shared(kc_, around["open"]) == 3
    assert_stored_equals_counted()


def test_people_leaving_the_organisation_leave_every_pair(around, people):
    for person in people[:2]:
        person.user.is_active = False
        person.user.save()

    services.end_memberships_of(member_ids={people[0].pk, people[1].pk})

    assert shared(around["open"], around["cop"]) == 1
    assert_stored_equals_counted()


def test_deleting_a_person_in_the_admin_keeps_pairs_and_counts_exact(around, people, admin_client):
    """A superuser's repair deletes the person and, with them, their memberships."""
    gone = people[0].user
    around["cop"].refresh_from_db()
    cop_before = around["cop"].active_member_count
    response = admin_client.post(
        f"/admin/auth/user/{gone.pk}/delete/", {"post": "yes"}, follow=False
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(member__user_id=gone.pk).exists()

    assert shared(around["open"], around["cop"]) == 2
    assert_stored_equals_counted()
    for community in around.values():
        community.refresh_from_db()
        assert (
            community.active_member_count
            == community.memberships.filter(state=State.ACTIVE).count()
        )
    assert around["cop"].active_member_count == cop_before - 1


def test_deleting_a_community_in_the_admin_takes_its_pairs(around, admin_client):
    cop = around["cop"]
    response = admin_client.post(f"/admin/communities/community/{cop.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not CommunityOverlap.objects.filter(other_id=cop.pk).exists()
    assert_stored_equals_counted()


def test_archiving_changes_no_overlap_but_profiles_leave_it_out(around, people):
    services.join_community(community=around["open"], member=people[5])
    loner = member_named("Only In Cop")
    MembershipFactory(community=around["cop"], member=loner)
    assert [c.name for c in selectors.connected_communities(loner)] == [around["open"].name]

    Community.objects.filter(pk=around["open"].pk).update(status=Community.Status.ARCHIVED)

    assert_stored_equals_counted()
    assert selectors.connected_communities(loner) == []


def test_connected_communities_add_up_the_overlaps_of_each_of_yours(around, people):
    services.join_community(community=around["open"], member=people[5])
    third = led_kc(name="Third Place", join_policy=Community.JoinPolicy.OPEN)
    for person in people[:2]:
        services.join_community(community=third, member=person)

    connected = selectors.connected_communities(people[5])  # in the CoP and the open KC

    # Third Place shares p0 and p1 with the CoP and with the open KC: 2 + 2.
    assert [(c.name, c.shared) for c in connected][:1] == [("Third Place", 4)]


def test_random_roster_changes_keep_the_overlaps_exact(around, people, directory_admin):
    admin = directory_admin.member
    chooser = random.Random(2026)
    communities = [around["open"], around["request"], around["invite"], around["cop"]]
    everyone = [*people, *(member_named(f"Extra {n}") for n in range(4))]
    for _step in range(80):
        community = chooser.choice(communities)
        person = chooser.choice(everyone)
        membership = community.memberships.filter(member=person).first()
        action = chooser.choice(["join", "add", "leave", "remove", "invite", "accept"])
        try:
            if action == "join":
                services.join_community(community=community, member=person)
            elif action == "add":
                services.add_members(community=community, members=[person], actor=admin)
            elif action == "invite":
                services.add_members(
                    community=community, members=[person], actor=admin, invite=True
                )
            elif action == "accept":
                services.accept_invitation(community=community, member=person)
            elif action == "leave":
                services.leave_community(community=community, member=person)
            elif membership is not None:
                services.remove_member(community=community, membership=membership, actor=admin)
        except services.ServiceError:
            pass
        assert_stored_equals_counted()


def test_rebuild_repairs_the_store_and_check_reports_differences(around, capsys):
    expected = overlaps.counted()
    CommunityOverlap.objects.filter(community=around["cop"]).update(shared=99)

    call_command("rebuild_overlaps", "--check")
    assert "differ" in capsys.readouterr().out
    assert overlaps.stored() != expected

    call_command("rebuild_overlaps")

    assert overlaps.stored() == expected
    call_command("rebuild_overlaps", "--check")
    assert "0 differ" in capsys.readouterr().out


def test_the_migration_fills_the_store_as_counted(around):
    fill = import_module("communities.migrations.0017_community_overlap").FILL
    expected = overlaps.counted()
    CommunityOverlap.objects.all().delete()

    with connection.cursor() as cursor:
        cursor.execute(fill)

    assert overlaps.stored() == expected


def test_the_map_links_are_the_stored_pairs_of_live_communities(around, people):
    MembershipFactory(community=around["request"], member=people[0])
    Community.objects.filter(pk=around["request"].pk).update(status=Community.Status.ARCHIVED)
    live = set(Community.objects.filter(status__in=selectors.LIVE).values_list("pk", flat=True))
    expected = sorted(
        ((a, b, n) for (a, b), n in overlaps.counted().items() if a < b and {a, b} <= live),
        key=lambda pair: (-pair[2], pair[0], pair[1]),
    )

    assert insights.shared_people_pairs(limit=50) == expected
    assert insights.shared_people_pairs(kind=Community.Kind.COP, limit=50) == []


def test_deleting_a_community_deletes_its_pairs(around):
    around["open"].delete()

    assert not CommunityOverlap.objects.filter(community=around["open"].pk).exists()
    assert not CommunityOverlap.objects.filter(other=around["open"].pk).exists()
    assert_stored_equals_counted()


@pytest.mark.django_db(transaction=True)
def test_rebuild_outside_any_transaction_makes_its_own(people):
    """A loader or a test in autocommit (a live server's data) calls it bare: on
    PostgreSQL its table lock needs a transaction, which it opens itself."""
    community = CommunityFactory()
    other = CommunityFactory()
    Membership.objects.bulk_create(
        [
            Membership(member=people[0], community=c, state=Membership.State.ACTIVE)
            for c in (community, other)
        ]
    )

    assert overlaps.rebuild() == 2
    assert overlaps.stored() == overlaps.counted()
