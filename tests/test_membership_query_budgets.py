"""Query budgets for the membership pages: the count must not grow with the roster.

Each page is requested over a small roster (5 people) and a large one (60 people,
with three history events each and a steward who is in 60 communities herself),
under the SAME budget. The budgets were measured on the small roster and are the
same on SQLite and PostgreSQL; a missing ``select_related``/``prefetch_related``
makes the large case blow them.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from communities.models import Community, Membership, MembershipEvent

from .factories import (
    CommunityFactory,
    DepartmentFactory,
    MemberFactory,
    MembershipFactory,
    led_kc,
    member_named,
)

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 60

# Measured queries per request (the same at both sizes, on SQLite and PostgreSQL).
# Each includes the request's own two: the user with their Member and directory-admin
# flag (one query), and the navbar's waiting count.
QUERY_BUDGETS = {
    # + the community with the steward check, the list (page from a cursor, total) and
    # the requests (count, page); a list that fits on one page needs no count (6).
    "community_manage": 7,
    "community_history": 5,  # + the community with the steward check, events (count, page)
    "member_history": 5,  # + the person, events with their communities (count, page)
    # + the community with the steward check, departments matched, the search
    "members_add_search": 6,
    "my_communities": 9,  # + memberships, requests waiting, proposals, suggestions
}

STATES = [Membership.State.ACTIVE, Membership.State.REQUESTED, Membership.State.INVITED]
EVENTS_PER_PERSON = 3


def build_rosters(size: int):
    """A KC stewarded by the viewer with ``size`` people on its list (active, requested
    and invited in turn) and three events each; and the viewer in ``size`` other KCs
    (again active, requested and invited in turn) with two events in each."""
    departments = DepartmentFactory.create_batch(3)
    viewer = member_named("Stella Steward", username="steward", department=departments[0])
    main = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=viewer,
        name="Claims Turnaround",
        slug="claims-turnaround",
        join_policy=Community.JoinPolicy.REQUEST,
    )
    people = [
        MemberFactory(display_name=f"Person {n:04d}", department=departments[n % 3])
        for n in range(size)
    ]
    Membership.objects.bulk_create(
        Membership(member=person, community=main, state=STATES[n % 3], note="Please")
        for n, person in enumerate(people)
    )
    start = timezone.now() - timedelta(days=30)
    events = [
        MembershipEvent(
            community=main,
            actor=viewer,
            actor_name=viewer.display_name,
            target=person,
            target_name=person.display_name,
            action=action,
            state_after=Membership.State.ACTIVE,
            created_at=start + timedelta(minutes=3 * n + i),
        )
        for n, person in enumerate(people)
        for i, action in enumerate(["requested", "approved", "role_changed"])
    ]
    elsewhere = [CommunityFactory() for _ in range(size)]
    Membership.objects.bulk_create(
        Membership(member=viewer, community=community, state=STATES[n % 3])
        for n, community in enumerate(elsewhere)
    )
    events += [
        MembershipEvent(
            community=community,
            actor=viewer,
            actor_name=viewer.display_name,
            target=viewer,
            target_name=viewer.display_name,
            action=action,
            created_at=start + timedelta(minutes=2 * n + i),
        )
        for n, community in enumerate(elsewhere)
        for i, action in enumerate(["requested", "approved"])
    ]
    MembershipEvent.objects.bulk_create(events)
    urls = {
        "community_manage": reverse("communities:community_manage", args=[main.slug]),
        "community_history": reverse("communities:community_history", args=[main.slug]),
        "member_history": reverse("members:member_history", args=["steward"]),
        "members_add_search": reverse("communities:members_add", args=[main.slug]) + "?q=person",
        "my_communities": reverse("members:my_communities"),
    }
    return urls, viewer.user


def on_the_list(size: int) -> int:
    return size + 2  # everyone (active, requested or invited) plus sponsor and steward


def requested(size: int) -> int:
    return len(range(1, size, 3))


# What each page showed, to prove the measured request rendered the dataset ...
SHOWN = {
    "community_manage": lambda ctx: (
        ctx["roster_page"].count,  # the list is read from a cursor: a total, no page numbers
        ctx["waiting_page"].paginator.count,
        len(ctx["roster_page"]),
    ),
    "community_history": lambda ctx: (ctx["page_obj"].paginator.count, len(ctx["page_obj"])),
    "member_history": lambda ctx: (ctx["page_obj"].paginator.count, len(ctx["page_obj"])),
    "members_add_search": lambda ctx: len(ctx["results"]),
    "my_communities": lambda ctx: (
        len(ctx["active"]),
        len(ctx["requested"]),
        len(ctx["invited"]),
        len(ctx["waiting_for_me"]),
    ),
}
# ... and what it should have shown for a roster of ``size``.
EXPECTED_SHOWN = {
    "community_manage": lambda size: (
        on_the_list(size),
        requested(size),
        min(on_the_list(size), 50),
    ),
    "community_history": lambda size: (
        EVENTS_PER_PERSON * size,
        min(EVENTS_PER_PERSON * size, 50),
    ),
    "member_history": lambda size: (2 * size, min(2 * size, 50)),
    # People not yet active in the community (requested and invited), at most 25.
    "members_add_search": lambda size: min(size - len(range(0, size, 3)), 25),
    "my_communities": lambda size: (
        len(range(0, size, 3)) + 1,  # and the steward's own community
        requested(size),
        len(range(2, size, 3)),
        requested(size),
    ),
}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
@pytest.mark.parametrize("page", list(QUERY_BUDGETS))
def test_membership_page_stays_within_its_query_budget(
    client, django_assert_max_num_queries, page, size
):
    urls, viewer = build_rosters(size)
    client.force_login(viewer)

    with django_assert_max_num_queries(QUERY_BUDGETS[page]):
        response = client.get(urls[page])

    assert response.status_code == 200
    assert SHOWN[page](response.context) == EXPECTED_SHOWN[page](size)


@pytest.mark.parametrize("size", [SMALL, LARGE])
def test_join_and_leave_keep_their_budget_however_many_communities_they_touch(
    client, size, django_assert_max_num_queries
):
    """Joining or leaving keeps the stored overlaps and count in the same transaction:
    ten statements (the bench's ≤ 10), whether the person shares the community with a
    few others or with ``size`` communities, as long as no pair is emptied; a pair
    taken down to nothing costs one more (its deletion)."""
    joiner = member_named("Jo Joiner", username="jo")
    others = [led_kc(name=f"Other {n}") for n in range(size)]
    open_kc = led_kc(name="Open One", join_policy=Community.JoinPolicy.OPEN)
    crowd = [MemberFactory() for _ in range(2)]
    for community in others:
        for person in (joiner, *crowd):
            MembershipFactory(member=person, community=community)
    for person in crowd:
        MembershipFactory(member=person, community=open_kc)
    client.force_login(joiner.user)

    with django_assert_max_num_queries(10):
        client.post(reverse("communities:membership_join", args=[open_kc.slug]))
    assert open_kc.memberships.get(member=joiner).state == Membership.State.ACTIVE
    with django_assert_max_num_queries(10):
        client.post(reverse("communities:membership_leave", args=[open_kc.slug]))
    assert open_kc.memberships.get(member=joiner).state == Membership.State.LEFT
