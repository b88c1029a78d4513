"""A profile, the people directory searched, and a person's history: their queries do
not grow with the data, and each shows what it was measured on."""

import pytest
from django.urls import reverse

from communities import services
from communities.models import Community

from .factories import DepartmentFactory, led_kc, member_named

pytestmark = pytest.mark.django_db

SMALL, LARGE = 3, 30
# The viewer with their Member, the directory-admin check and the navbar's count, then
# the page's own reads: the person, their memberships, the connected communities (one
# query over the stored overlaps), whether the viewer may see the history.
PROFILE_QUERIES = 6
# A first page shorter than a page is its own count: no COUNT query (short_first_page);
# a full one is counted for its page links.
PEOPLE_SEARCH_QUERIES = 5
HISTORY_QUERIES = 5


@pytest.fixture
def busy_person():
    """Pat, who joined ``size`` open communities, each shared with two others by
    someone else; and everyone is in Analytics."""

    def build(size: int):
        analytics = DepartmentFactory(name="Analytics", slug="analytics")
        pat = member_named("Pat Busy", username="pat", department=analytics)
        helpers = [member_named(f"Helper {n}", department=analytics) for n in range(size)]
        communities = [
            led_kc(name=f"Community {n}", join_policy=Community.JoinPolicy.OPEN)
            for n in range(2 * size)
        ]
        for index, community in enumerate(communities[:size]):
            services.join_community(community=community, member=pat)
            helper = helpers[index]
            services.join_community(community=community, member=helper)
            services.join_community(community=communities[size + index], member=helper)
        return pat

    return build


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_profile_stays_within_its_budget(client, django_assert_max_num_queries, busy_person, size):
    pat = busy_person(size)
    client.force_login(member_named("Viewer").user)

    with django_assert_max_num_queries(PROFILE_QUERIES):
        response = client.get(reverse("members:member_detail", args=["pat"]))

    assert len(response.context["memberships"]) == size
    assert len(response.context["connected"]) == min(size, 10)
    assert all(community.shared == 1 for community in response.context["connected"])
    assert pat.display_name in response.content.decode()


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_people_search_stays_within_its_budget(
    client, django_assert_max_num_queries, busy_person, size
):
    busy_person(size)
    client.force_login(member_named("Viewer").user)

    with django_assert_max_num_queries(PEOPLE_SEARCH_QUERIES):
        response = client.get(
            reverse("members:member_list"), {"q": "helper", "department": "analytics"}
        )

    assert response.context["page_obj"].paginator.count == size


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["small", "large"])
def test_own_history_stays_within_its_budget(
    client, django_assert_max_num_queries, busy_person, size
):
    pat = busy_person(size)
    client.force_login(pat.user)

    with django_assert_max_num_queries(HISTORY_QUERIES):
        response = client.get(reverse("members:member_history", args=["pat"]))

    assert len(response.context["page_obj"].object_list) == size
    assert "Community 0" in response.content.decode()


def test_profile_lists_roles_kinds_and_connected_communities(client, cop, open_kc):
    cora = cop.memberships.get(role="steward").member
    services.join_community(community=open_kc, member=cora)
    neighbour = led_kc(name="Next Door", join_policy=Community.JoinPolicy.OPEN)
    for person in [member_named("Ann One"), member_named("Bob Two")]:
        services.join_community(community=open_kc, member=person)
        services.join_community(community=neighbour, member=person)
    client.force_login(member_named("Viewer").user)

    html = client.get(reverse("members:member_detail", args=[cora.user.username])).content.decode()

    communities = html[html.index('id="member-communities"') : html.index('id="connected-heading"')]
    assert "SQL Clinic</a>" in communities and "Coordinator" in communities
    assert "Claims Turnaround</a>" in communities and ">Member</span>" in communities
    assert "Community of practice" in communities and "Knowledge community" in communities
    connected = html[html.index('id="connected-heading"') :]
    assert f'href="{neighbour.get_absolute_url()}">Next Door</a>' in connected
    assert "2 people in common" in connected


def test_a_full_first_page_is_still_counted_and_paged(client, busy_person, settings):
    settings.PAGE_SIZE = 2
    busy_person(3)
    client.force_login(member_named("Viewer").user)

    first = client.get(reverse("members:member_list"), {"q": "helper"}).context["page_obj"]
    last = client.get(reverse("members:member_list"), {"q": "helper", "page": 2}).context[
        "page_obj"
    ]

    assert (first.paginator.count, first.paginator.num_pages, len(first)) == (3, 2, 2)
    assert (last.number, len(last), last.has_previous()) == (2, 1, True)


def test_a_long_history_is_paged(client, busy_person):
    pat = busy_person(30)  # 30 joins
    for index in range(25):
        community = Community.objects.get(name=f"Community {index}")
        services.leave_community(community=community, member=pat)
    client.force_login(pat.user)

    first = client.get(reverse("members:member_history", args=["pat"])).context["page_obj"]
    second = client.get(reverse("members:member_history", args=["pat"]), {"page": 2}).context[
        "page_obj"
    ]

    assert (first.paginator.count, len(first), len(second)) == (55, 50, 5)
