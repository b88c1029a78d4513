"""``Membership.member_department_id`` is the member's department, kept by the database
(migration 0020) however a membership or a member is written, and the directory's
department filter reads it."""

import pytest

from communities import services
from communities.models import Community, Membership

from .factories import DepartmentFactory, MembershipFactory, led_kc, member_named

pytestmark = pytest.mark.django_db


def departments_of_memberships(member) -> set:
    return set(
        Membership.objects.filter(member=member).values_list("member_department_id", flat=True)
    )


def test_a_new_membership_carries_its_members_department(open_kc):
    claims = DepartmentFactory(name="Claims")
    ann = member_named("Ann", department=claims)

    services.join_community(community=open_kc, member=ann)

    assert departments_of_memberships(ann) == {claims.pk}


def test_what_django_writes_is_replaced_by_the_members_department(open_kc):
    claims, pricing = DepartmentFactory(name="Claims"), DepartmentFactory(name="Pricing")
    ann = member_named("Ann", department=claims)
    membership = MembershipFactory(member=ann, community=open_kc)

    membership.member_department_id = pricing.pk
    membership.save()
    Membership.objects.filter(pk=membership.pk).update(member_department_id=None)

    assert departments_of_memberships(ann) == {claims.pk}


def test_moving_department_moves_every_membership(open_kc, request_kc):
    claims, pricing = DepartmentFactory(name="Claims"), DepartmentFactory(name="Pricing")
    ann = member_named("Ann", department=claims)
    for community in (open_kc, request_kc):
        MembershipFactory(member=ann, community=community)

    ann.department = pricing
    ann.save()
    assert departments_of_memberships(ann) == {pricing.pk}

    ann.department = None
    ann.save()
    assert departments_of_memberships(ann) == {None}


def test_the_department_filter_follows_people_who_move(client, staff):
    claims, pricing = DepartmentFactory(name="Claims"), DepartmentFactory(name="Pricing")
    community = led_kc(name="Loss Modelling", slug="loss-modelling")
    ann = member_named("Ann", department=claims)
    MembershipFactory(member=ann, community=community)
    client.force_login(staff)

    def names(slug: str) -> list[str]:
        page = client.get("/", {"department": slug}).context["page_obj"]
        return [c.name for c in page]

    assert names(claims.slug) == ["Loss Modelling"]
    assert names(pricing.slug) == []

    ann.department = pricing
    ann.save()

    assert names(claims.slug) == []
    assert names(pricing.slug) == ["Loss Modelling"]
    assert Community.objects.in_department(pricing).get() == community
