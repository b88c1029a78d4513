"""Query budgets: a page's query count must not grow with the data behind it.

Each page is requested over a small dataset (5 communities of 5 people) and a
larger one (50 communities of 50 people) under the SAME budget, measured on
the small one. A missing ``select_related``/``prefetch_related`` makes the
large case blow the budget.
"""

import pytest
from django.conf import settings
from django.urls import reverse

from communities.models import Community, Membership

from .factories import (
    CommunityFactory,
    DepartmentFactory,
    MemberFactory,
    PurposeFactory,
    member_named,
)

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 50

# Measured queries per request, the same on SQLite and PostgreSQL. Three of each are
# per-request overhead: the user with their Member (one query), the directory-admin
# check and the navbar's waiting-requests count; sessions come from the cache.
QUERY_BUDGETS = {
    "community_list": 10,
    "community_detail": 10,
    "purpose_list": 5,
    "purpose_detail": 9,
    "member_list": 5,
    "member_detail": 6,
    "my_communities": 9,
    "profile_edit": 4,
}


# What each page shows, to prove the measured request rendered the dataset.
SHOWN = {
    "community_list": lambda ctx: len(ctx["page_obj"]),
    "community_detail": lambda ctx: ctx["roster_page"].paginator.count,
    "purpose_list": lambda ctx: ctx["page_obj"].paginator.count,
    "purpose_detail": lambda ctx: ctx["page_obj"].paginator.count,
    "member_list": lambda ctx: ctx["page_obj"].paginator.count,
    "member_detail": lambda ctx: len(ctx["memberships"]),
    "my_communities": lambda ctx: len(ctx["active"]),
    "profile_edit": lambda ctx: len(ctx["form"].fields["department"].choices),
}
EXPECTED_SHOWN = {
    "community_list": lambda size: min(size, settings.PAGE_SIZE),
    "community_detail": lambda size: size - 1,  # one person only requested to join
    "purpose_list": lambda size: size + 1,  # one shared purpose, one each
    "purpose_detail": lambda size: size,
    "member_list": lambda size: size,
    "member_detail": lambda size: size,
    "my_communities": lambda size: size,
    "profile_edit": lambda size: 4,  # three departments and "---------"
}


def build_directory(size: int):
    """``size`` communities (KCs and CoPs, all pursuing one shared purpose plus
    their own), each with the same ``size`` people: the viewer (a member), a
    sponsor (KCs), stewards (more in bigger communities), members, and one
    person whose request waits."""
    departments = DepartmentFactory.create_batch(3)
    people = [MemberFactory(department=departments[i % len(departments)]) for i in range(size - 1)]
    viewer = member_named("Sam Staff", username="staff", department=departments[0])
    people.insert(0, viewer)
    shared = PurposeFactory(statement="Shared purpose", slug="shared")
    steward_positions = range(2, 2 + max(2, size // 8))
    memberships = []
    for index in range(size):
        kind = Community.Kind.KC if index % 2 == 0 else Community.Kind.COP
        community = CommunityFactory(
            kind=kind,
            formed_from=None,
            links="Team site | https://intranet.example.org/team",
            purposes=[shared, PurposeFactory()],
        )
        for position, person in enumerate(people):
            if kind == Community.Kind.KC and position == 1:
                role = Membership.Role.SPONSOR
            elif position in steward_positions:
                role = Membership.Role.STEWARD
            else:
                role = Membership.Role.MEMBER
            waiting = position == size - 1
            state = Membership.State.REQUESTED if waiting else Membership.State.ACTIVE
            memberships.append(
                Membership(member=person, community=community, role=role, state=state)
            )
    Membership.objects.bulk_create(memberships)
    first = Community.objects.order_by("pk").first()
    return {
        "community_list": reverse("communities:community_list"),
        "community_detail": first.get_absolute_url(),
        "purpose_list": reverse("communities:purpose_list"),
        "purpose_detail": shared.get_absolute_url(),
        "member_list": reverse("members:member_list"),
        "member_detail": reverse("members:member_detail", args=[people[1].user.username]),
        "my_communities": reverse("members:my_communities"),
        "profile_edit": reverse("members:profile_edit"),
    }, viewer.user


def cases():
    for page in QUERY_BUDGETS:
        yield pytest.param(page, SMALL, id=f"{page}-small")
        yield pytest.param(page, LARGE, id=f"{page}-large")


@pytest.mark.parametrize(("page", "size"), cases())
def test_page_stays_within_its_query_budget(client, django_assert_max_num_queries, page, size):
    urls, viewer = build_directory(size)
    client.force_login(viewer)

    with django_assert_max_num_queries(QUERY_BUDGETS[page]):
        response = client.get(urls[page])

    assert response.status_code == 200
    # The page really showed the data it was measured on.
    assert SHOWN[page](response.context) == EXPECTED_SHOWN[page](size)
