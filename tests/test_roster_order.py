"""Rosters in order (sponsor, stewards, then by name) from ``Membership.sort_name``, which
database triggers keep equal to the member's name (migration 0008)."""

import pytest
from django.conf import settings
from django.db import connection

from communities import selectors
from communities.models import Membership
from members.models import Member

from .factories import MembershipFactory, member_named

pytestmark = pytest.mark.django_db


def stored_sort_names(community) -> dict[str, str]:
    return dict(
        Membership.objects.filter(community=community).values_list(
            "member__display_name", "sort_name"
        )
    )


def roster_names(community) -> list[str]:
    return [m.member.display_name for m in selectors.roster_page(community, "", 1)]


def test_a_new_membership_gets_its_members_name(open_kc):
    MembershipFactory(community=open_kc, member=member_named("Zed Zimmer"))

    names = stored_sort_names(open_kc)
    assert names and all(name == sort_name for name, sort_name in names.items())


def test_renaming_a_member_renames_their_memberships_and_moves_them(open_kc):
    amy = member_named("Amy Archer")
    zoe = member_named("Zoe Zander")
    for person in (zoe, amy):
        MembershipFactory(community=open_kc, member=person)
    assert roster_names(open_kc)[-2:] == ["Amy Archer", "Zoe Zander"]

    Member.objects.filter(pk=amy.pk).update(display_name="Zara Zenith")

    assert roster_names(open_kc)[-2:] == ["Zara Zenith", "Zoe Zander"]
    assert stored_sort_names(open_kc)["Zara Zenith"] == "Zara Zenith"


def test_what_django_writes_there_is_replaced(open_kc):
    membership = MembershipFactory(community=open_kc, member=member_named("Bo Brook"))
    membership.sort_name = "Aaa wrong"
    membership.note = "saved again"
    membership.save()

    assert Membership.objects.get(pk=membership.pk).sort_name == "Bo Brook"


def test_sponsor_then_stewards_then_everyone_by_name(open_kc):
    for name in ("Cy Cole", "Al Ames", "Bea Burr"):
        MembershipFactory(community=open_kc, member=member_named(name))
    names = roster_names(open_kc)

    assert names == ["Spencer Sponsor", "Stella Steward", "Al Ames", "Bea Burr", "Cy Cole"]


def test_a_roster_page_is_one_query_when_its_length_is_known(open_kc, django_assert_num_queries):
    for n in range(30):
        MembershipFactory(community=open_kc, member=member_named(f"Person {n:02d}"))
    whole = list(open_kc.memberships.roster().values_list("member__display_name", flat=True))

    with django_assert_num_queries(1):
        second = selectors.roster_page(open_kc, "", 2, count=len(whole))
    with django_assert_num_queries(2):  # counted, then read
        counted = selectors.roster_page(open_kc, "", 2)

    assert [m.member.display_name for m in second] == whole[settings.PAGE_SIZE :]
    assert [m.pk for m in counted] == [m.pk for m in second]
    assert counted.paginator.count == len(whole) == 32


def test_an_empty_roster_page_asks_nothing(open_kc, django_assert_num_queries):
    with django_assert_num_queries(0):
        page = selectors.roster_page(open_kc, "", 1, count=0)
    assert list(page) == []


EXPECTED_TRIGGERS = {
    "postgresql": {
        "kcdir_directory_changed",
        "kcdir_directory_user_changed",
        "kcdir_directory_truncated",
        "kcdir_membership_sort_name",
        "kcdir_member_renamed",
        "kcdir_membership_department",
        "kcdir_member_moved",
    },
}


def test_the_triggers_are_in_place():
    """SQLite drops a table's triggers when Django rebuilds the table (some migrations
    do): this fails if a later migration loses them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT tgname FROM pg_trigger WHERE tgname LIKE 'kcdir%%' "
                "AND NOT tgisinternal"
            )
            found = {name for (name,) in cursor.fetchall()}
            assert found == EXPECTED_TRIGGERS["postgresql"]
            return
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        found = {name for (name,) in cursor.fetchall()}
    watched = [
        "communities_community",
        "communities_community_purposes",
        "communities_purpose",
        "communities_membership",
        # End dates (migration 0023): the manage list shows them.
        "communities_membershipterm",
        "members_member",
        "members_department",
        "auth_user",
    ]
    expected = {
        f"kcdir_directory_{table}_{operation}"
        for table in watched
        for operation in ("insert", "update", "delete")
    } | {"kcdir_membership_sort_name_insert", "kcdir_membership_sort_name_update"}
    expected.add("kcdir_member_renamed")
    # The memberships' copy of their member's department (migration 0020).
    expected |= {
        "kcdir_membership_department_insert",
        "kcdir_membership_department_update",
        "kcdir_member_moved",
    }
    assert found == expected


def test_the_manage_list_follows_a_renamed_member(open_kc):
    """The manage page's order (``by_member_name``) is the membership's ``sort_name``:
    a renamed person moves on the list at once, as on the roster."""
    amy = member_named("Amy Archer")
    zoe = member_named("Zoe Zander")
    for person in (zoe, amy):
        MembershipFactory(community=open_kc, member=person)

    def manage_names():
        return list(
            open_kc.memberships.by_member_name().values_list("member__display_name", flat=True)
        )

    assert manage_names() == sorted(manage_names())
    Member.objects.filter(pk=amy.pk).update(display_name="Zara Zenith")

    assert manage_names()[-2:] == ["Zara Zenith", "Zoe Zander"]
