"""A member of staff reads the knowledge map and the insights, in a real browser."""

import pytest

from communities.models import Community

from ..factories import CommunityFactory, MembershipFactory, led_kc, member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def linked_communities():
    """Claims Turnaround (KC) and Claims Handlers Circle (CoP) share two people."""
    member_named("Sam Staff", username="staff")
    claims = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=member_named("Stella Steward"),
        name="Claims Turnaround",
        slug="claims-turnaround",
    )
    circle = CommunityFactory(
        name="Claims Handlers Circle", slug="claims-handlers-circle", kind=Community.Kind.COP
    )
    for person in ("Priya Patel", "Omar Okafor"):
        member = member_named(person)
        MembershipFactory(community=claims, member=member)
        MembershipFactory(community=circle, member=member, role="participant")
    return claims


def test_staff_open_the_map_and_follow_a_community_link(
    live_server, page, sign_in, linked_communities
):
    sign_in(page, then="/map/")

    expect(page.get_by_role("heading", name="Knowledge map", level=1)).to_be_visible()
    strongest = page.get_by_role("table", name="The strongest link, by people in common")
    expect(strongest.get_by_role("row")).to_have_count(2)
    expect(strongest.get_by_role("cell", name="2", exact=True)).to_be_visible()

    drawing = page.get_by_role("group", name="Knowledge map of 2 communities")
    node = drawing.get_by_role(
        "link", name="Claims Turnaround (Knowledge community, 4 members, cluster A)"
    )
    expect(node).to_be_visible()
    node.click()

    expect(page.get_by_role("heading", name="Claims Turnaround", level=1)).to_be_visible()


def test_staff_see_the_insights_charts_with_their_numbers(
    live_server, page, sign_in, linked_communities
):
    sign_in(page, then="/insights/")

    expect(page.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    chart = page.get_by_role("img", name="Communities by kind and stage on the ladder")
    expect(chart).to_be_visible()
    table = page.get_by_role("table", name="Communities by kind and stage: the numbers")
    expect(table).to_be_visible()
    expect(table.get_by_role("row", name="Sharing 1 1")).to_be_visible()
    expect(page.get_by_role("link", name="Export CSV: Membership growth")).to_be_visible()
