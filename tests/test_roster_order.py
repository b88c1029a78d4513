"""Rosters in order (sponsor, stewards, then by name) from ``Membership.sort_name``, which
database triggers keep equal to the member's name (migration 0008)."""

import pytest
from django.db import connection

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
    pks = community.memberships.roster().values_list("pk", flat=True)
    return [m.member.display_name for m in Membership.objects.in_order(pks)]


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


def test_in_order_keeps_the_order_given_and_skips_missing_rows(open_kc):
    pks = list(open_kc.memberships.roster().values_list("pk", flat=True))
    shown = Membership.objects.in_order([*reversed(pks), 999_999])
    assert [m.pk for m in shown] == list(reversed(pks))


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
    # The memberships' copy of their member's department (migration 0017).
    expected |= {
        "kcdir_membership_department_insert",
        "kcdir_membership_department_update",
        "kcdir_member_moved",
    }
    assert found == expected
