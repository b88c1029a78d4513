"""Query budgets: a page's query count must not grow with the data behind it.

Each page is requested over a small dataset (5 communities of 5 people) and a
larger one (50 communities of 50 people) under the SAME budget, measured on
the small one. A missing ``select_related``/``prefetch_related`` makes the
large case blow the budget.
"""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from communities import overlaps, selectors
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
# The directory's pages have one more: the viewer's standing among the page's
# communities ("You are a member"), read per viewer outside the cached section.
QUERY_BUDGETS = {
    "community_list": 10,
    "community_detail": 8,
    # A community of practice: the same (what was formalised from it is asked with it).
    "community_detail_cop": 8,
    "purpose_list": 5,
    "purpose_detail": 9,
    "member_list": 5,
    "member_detail": 6,
    "my_communities": 9,
    "profile_edit": 4,
    # The same pages further in, searched and filtered: the same budgets.
    # A deep page asks what the first does (the small list's page 2 is past its end:
    # one more query finds the last page).
    "community_list_deep": 11,
    "community_list_search": 10,
    "community_list_filters": 10,
    # A misspelt search: the words as typed (found nothing), the directory's words (two
    # queries, then kept for minutes) and the corrected search.
    "community_list_typo": 13,
    "community_detail_deep": 8,
    "member_search": 5,
}


# What each page shows, to prove the measured request rendered the dataset.
SHOWN = {
    "community_list": lambda ctx: len(ctx["page_obj"]),
    "community_detail": lambda ctx: ctx["roster_page"].paginator.count,
    "community_detail_cop": lambda ctx: ctx["roster_page"].paginator.count,
    "purpose_list": lambda ctx: ctx["page_obj"].paginator.count,
    "purpose_detail": lambda ctx: ctx["page_obj"].paginator.count,
    "member_list": lambda ctx: ctx["page_obj"].paginator.count,
    "member_detail": lambda ctx: len(ctx["memberships"]),
    "my_communities": lambda ctx: len(ctx["active"]),
    "profile_edit": lambda ctx: len(ctx["form"].fields["department"].choices),
    "community_list_deep": lambda ctx: len(ctx["page_obj"]),
    "community_list_search": lambda ctx: ctx["page_obj"].paginator.count,
    "community_list_filters": lambda ctx: ctx["page_obj"].paginator.count,
    "community_list_typo": lambda ctx: (ctx["page_obj"].paginator.count, ctx["search"].corrected),
    "community_detail_deep": lambda ctx: len(ctx["roster_page"]),
    "member_search": lambda ctx: ctx["page_obj"].paginator.count,
}


def second_page(rows: int) -> int:
    """Rows on page 2, or on the only page when everything fits on one."""
    return min(rows - settings.PAGE_SIZE, settings.PAGE_SIZE) if rows > settings.PAGE_SIZE else rows


EXPECTED_SHOWN = {
    "community_list": lambda size: min(size, settings.PAGE_SIZE),
    "community_detail": lambda size: size - 1,  # one person only requested to join
    "community_detail_cop": lambda size: size - 1,
    "purpose_list": lambda size: size + 1,  # one shared purpose, one each
    "purpose_detail": lambda size: size,
    "member_list": lambda size: size,
    "member_detail": lambda size: size,
    "my_communities": lambda size: size,
    "profile_edit": lambda size: 4,  # three departments and "---------"
    # Page 2 (or the last page, when there is only one).
    "community_list_deep": lambda size: second_page(size),
    "community_list_search": lambda size: size,  # all pursue the shared purpose
    "community_list_filters": lambda size: (size + 1) // 2,  # the knowledge communities
    "community_list_typo": lambda size: (size, "shared"),
    "community_detail_deep": lambda size: second_page(size - 1),
    "member_search": lambda size: 1,
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
    overlaps.rebuild()  # loaded without the services, as a bulk load would be
    Community.objects.recount_members()  # what the services keep as people join
    first = Community.objects.order_by("pk").first()
    return {
        "community_list": reverse("communities:community_list"),
        "community_detail": first.get_absolute_url(),
        "community_detail_cop": Community.objects.filter(kind=Community.Kind.COP)
        .order_by("pk")
        .first()
        .get_absolute_url(),
        "purpose_list": reverse("communities:purpose_list"),
        "purpose_detail": shared.get_absolute_url(),
        "member_list": reverse("members:member_list"),
        "member_detail": reverse("members:member_detail", args=[people[1].user.username]),
        "my_communities": reverse("members:my_communities"),
        "profile_edit": reverse("members:profile_edit"),
        "community_list_deep": reverse("communities:community_list") + "?page=2",
        "community_list_search": reverse("communities:community_list") + "?q=shared",
        "community_list_typo": reverse("communities:community_list") + "?q=sahred",
        "community_list_filters": reverse("communities:community_list")
        + f"?q=shared&kind=kc&department={departments[0].slug}",
        "community_detail_deep": first.get_absolute_url() + "?page=2",
        "member_search": reverse("members:member_list") + "?q=sam+staff",
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


# Actions and exports: the same number of queries whatever the size.
# Joining adds the person to the stored overlaps (one statement) and to the community's
# stored member count (one); leaving takes them out of both and deletes the pairs they
# were the last to share.
ACTION_BUDGETS = {"leave": 11, "join": 10, "roster_export": 5, "directory_export": 4}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_join_leave_and_exports_stay_within_their_budgets(
    client, django_assert_max_num_queries, size
):
    urls, viewer = build_directory(size)
    community = Community.objects.order_by("pk").first()
    community.join_policy = Community.JoinPolicy.OPEN
    community.save()
    client.force_login(viewer)
    for action in ("leave", "join"):
        with django_assert_max_num_queries(ACTION_BUDGETS[action]):
            response = client.post(
                reverse(f"communities:membership_{action}", args=[community.slug])
            )
        assert response.status_code == 302
    assert community.memberships.get(member__user=viewer).state == Membership.State.ACTIVE

    steward = community.memberships.filter(role=Membership.Role.STEWARD).first().member.user
    client.force_login(steward)
    with django_assert_max_num_queries(ACTION_BUDGETS["roster_export"]):
        body = b"".join(client.get(reverse("communities:roster_export", args=[community.slug])))
    assert body.count(b"\n") == 1 + community.memberships.active().count()

    admin = get_user_model().objects.create_superuser("root", password="x" * 12)
    client.force_login(admin)
    with django_assert_max_num_queries(ACTION_BUDGETS["directory_export"]):
        body = b"".join(client.get(reverse("communities:directory_export")))
    assert body.count(b"\n") == 1 + size


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_a_directory_search_with_a_purpose_outside_the_menu_stays_within_ten_queries(
    client, django_assert_max_num_queries, monkeypatch, size
):
    # A menu of the most pursued purpose alone: every community's own purpose is outside.
    monkeypatch.setattr(selectors, "PURPOSE_MENU_SIZE", 1)
    _urls, viewer = build_directory(size)
    community = Community.objects.order_by("pk").first()
    own = community.purposes.exclude(slug="shared").get()
    department = viewer.member.department
    assert own.slug not in dict(selectors.purpose_menu())
    client.force_login(viewer)

    with django_assert_max_num_queries(10):
        response = client.get(
            reverse("communities:community_list"),
            {"q": "shared", "purpose": own.slug, "department": department.slug},
        )

    assert [c.name for c in response.context["page_obj"]] == [community.name]
    assert f'<option value="{own.slug}" selected>' in response.content.decode()
