"""Models, QuerySets and the constraints the database itself enforces."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse

from communities import access
from communities.models import Community, Membership, count_members
from members.models import Member

from .factories import CommunityFactory, MemberFactory, MembershipFactory

pytestmark = pytest.mark.django_db


# Database constraints -------------------------------------------------------


def test_database_refuses_a_second_membership_for_the_same_member_and_community(open_kc):
    member = MemberFactory()
    MembershipFactory(member=member, community=open_kc, state=Membership.State.LEFT)

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(member=member, community=open_kc, state=Membership.State.ACTIVE)

    assert Membership.objects.filter(member=member, community=open_kc).count() == 1


def test_database_refuses_a_second_active_sponsor(open_kc):
    with pytest.raises(IntegrityError), transaction.atomic():
        MembershipFactory(community=open_kc, role=Membership.Role.SPONSOR)

    assert open_kc.memberships.filter(role=Membership.Role.SPONSOR).count() == 1


def test_database_allows_a_former_sponsor_beside_the_active_one(open_kc):
    former = MembershipFactory(
        community=open_kc, role=Membership.Role.SPONSOR, state=Membership.State.LEFT
    )

    sponsors = open_kc.memberships.filter(role=Membership.Role.SPONSOR)
    assert sponsors.count() == 2
    assert sponsors.filter(state=Membership.State.ACTIVE).count() == 1
    assert former in sponsors


def test_each_community_may_have_its_own_active_sponsor(open_kc, request_kc):
    active_sponsors = Membership.objects.filter(
        role=Membership.Role.SPONSOR, state=Membership.State.ACTIVE
    )
    assert set(active_sponsors.values_list("community", flat=True)) == {open_kc.pk, request_kc.pk}


# Member on demand -----------------------------------------------------------


def test_for_user_creates_a_member_once_named_after_the_user():
    user = get_user_model().objects.create_user(
        "ines", password="pw-for-tests", first_name="Ines", last_name="Ito"
    )
    assert not Member.objects.filter(user=user).exists()

    first = Member.objects.for_user(user)
    second = Member.objects.for_user(user)

    assert first.pk == second.pk
    assert first.display_name == "Ines Ito"
    assert Member.objects.filter(user=user).count() == 1


def test_for_user_falls_back_to_the_username_without_a_full_name():
    user = get_user_model().objects.create_user("nameless", password="pw-for-tests")
    assert Member.objects.for_user(user).display_name == "nameless"


def test_user_from_create_user_can_load_a_page_at_once(client):
    user = get_user_model().objects.create_user(
        "newhire", password="pw-for-tests", first_name="New", last_name="Hire"
    )
    client.force_login(user)

    response = client.get(reverse("communities:community_list"))

    assert response.status_code == 200
    assert "New Hire" in response.content.decode()  # the navbar names the member
    assert Member.objects.filter(user=user).count() == 1


def test_superuser_from_create_superuser_can_load_a_page_at_once(client):
    user = get_user_model().objects.create_superuser("root", "root@example.org", "pw-for-tests")
    client.force_login(user)

    response = client.get(reverse("members:my_communities"))

    assert response.status_code == 200
    assert "You are not in any community yet." in response.content.decode()
    assert Member.objects.filter(user=user).count() == 1


def test_new_users_own_profile_loads_as_their_first_page(client):
    user = get_user_model().objects.create_superuser("root", "root@example.org", "pw-for-tests")
    client.force_login(user)

    response = client.get(reverse("members:member_detail", args=["root"]))

    assert response.status_code == 200
    assert response.context["is_self"] is True


# Community helpers ----------------------------------------------------------


def test_link_list_keeps_only_http_and_https_links():
    community = CommunityFactory.build(
        links="\n".join(
            [
                "Team site | https://intranet.example.org/claims",
                "http://wiki.example.org/claims",
                "Evil | javascript:alert(1)",
                "Files | ftp://files.example.org/claims",
                "data:text/html,<script>alert(1)</script>",
                "",
                "   ",
                "Shared drive | \\\\server\\share",
            ]
        )
    )

    assert community.link_list == [
        ("Team site", "https://intranet.example.org/claims"),
        ("http://wiki.example.org/claims", "http://wiki.example.org/claims"),
    ]


def test_link_list_is_empty_without_links():
    assert CommunityFactory.build(links="").link_list == []


def test_member_counts_count_only_active_memberships(open_kc):
    # open_kc already has an active sponsor and an active steward.
    MembershipFactory(community=open_kc, state=Membership.State.ACTIVE)
    for state in [
        Membership.State.REQUESTED,
        Membership.State.INVITED,
        Membership.State.LEFT,
        Membership.State.REMOVED,
        Membership.State.DENIED,
    ]:
        MembershipFactory(community=open_kc, state=state)
    empty = CommunityFactory(name="Nobody Here Yet")

    annotated = dict(Community.objects.with_counts().values_list("name", "active_member_count"))
    per_page = {c.name: c.active_member_count for c in count_members(Community.objects.all())}

    assert annotated[open_kc.name] == per_page[open_kc.name] == 3
    assert (annotated[empty.name] or 0) == per_page[empty.name] == 0


def test_for_directory_excludes_proposed_communities(open_kc):
    CommunityFactory(name="Still An Idea", status=Community.Status.PROPOSED)
    dormant = CommunityFactory(name="Quiet Now", status=Community.Status.DORMANT)
    archived = CommunityFactory(name="Finished", status=Community.Status.ARCHIVED)

    names = set(Community.objects.for_directory().values_list("name", flat=True))

    assert names == {open_kc.name, dormant.name, archived.name}


def test_for_directory_prefetches_the_sponsor_and_stewards(open_kc, django_assert_num_queries):
    community = Community.objects.for_directory().get(pk=open_kc.pk)

    with django_assert_num_queries(0):
        assert community.sponsor.display_name == "Spencer Sponsor"
        assert [m.display_name for m in community.stewards] == ["Stella Steward"]


# The directory admins group -------------------------------------------------


def test_directory_admins_group_exists_with_manage_directory_permission():
    group = Group.objects.get(name=access.DIRECTORY_ADMINS_GROUP)

    codenames = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }
    assert access.MANAGE_DIRECTORY_PERMISSION in codenames


def test_group_membership_makes_a_directory_admin(directory_admin, staff):
    assert access.is_directory_admin(directory_admin)
    assert not access.is_directory_admin(staff)
