"""A member of staff finds a community and its people, in a real browser."""

import re

import pytest

from communities.models import Community, Membership

from ..factories import CommunityFactory, MembershipFactory, led_kc, member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def directory_data():
    staff = member_named("Sam Staff", username="staff")
    claims_kc = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=member_named("Stella Steward"),
        name="Claims Turnaround",
        slug="claims-turnaround",
        summary="Paying customers in two days.",
    )
    MembershipFactory(community=claims_kc, member=member_named("Priya Patel"))
    MembershipFactory(community=claims_kc, member=member_named("Walter Waiting"), state="requested")
    handlers = CommunityFactory(
        name="Claims Handlers Circle", slug="claims-handlers-circle", kind=Community.Kind.COP
    )
    MembershipFactory(
        community=handlers, member=member_named("Cora Coordinator"), role=Membership.Role.STEWARD
    )
    CommunityFactory(name="Plain Language", slug="plain-language")
    return {"staff": staff, "claims_kc": claims_kc}


def test_staff_signs_in_searches_filters_and_sees_a_roster(
    live_server, page, sign_in, directory_data
):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Sign in to kcdir")).to_be_visible()

    sign_in(page)

    expect(page.get_by_role("heading", name="Community directory")).to_be_visible()
    results = page.get_by_role("list", name="Communities").get_by_role("listitem")
    expect(results).to_have_count(3)

    filters = page.get_by_role("complementary", name="Find a community")
    filters.get_by_label("Search").fill("claims")
    filters.get_by_role("button", name="Apply").click()

    expect(results).to_have_count(2)
    expect(page.get_by_role("link", name="Plain Language")).to_have_count(0)

    filters.get_by_label("Kind").select_option(label="Knowledge community")
    filters.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"kind=kc"))
    expect(results).to_have_count(1)
    expect(page.get_by_role("link", name="Claims Handlers Circle")).to_have_count(0)

    page.get_by_role("link", name="Claims Turnaround").click()

    expect(page.get_by_role("heading", name="Claims Turnaround", level=1)).to_be_visible()
    roster = page.get_by_role("table", name="Membership list")
    expect(roster.get_by_role("link", name="Priya Patel")).to_be_visible()
    expect(roster.get_by_role("link", name="Stella Steward")).to_be_visible()
    expect(roster).not_to_contain_text("Walter Waiting")


def test_sign_in_returns_to_the_page_asked_for_and_sign_out_ends_it(
    live_server, page, sign_in, directory_data
):
    community_url = live_server.url + directory_data["claims_kc"].get_absolute_url()
    page.goto(community_url)

    sign_in(page)

    expect(page).to_have_url(community_url)
    expect(page.get_by_role("heading", name="Claims Turnaround", level=1)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in to kcdir")).to_be_visible()
    page.goto(community_url)
    expect(page.get_by_role("heading", name="Sign in to kcdir")).to_be_visible()


def test_wrong_password_keeps_the_visitor_out(live_server, page, sign_in, directory_data):
    page.goto(live_server.url + "/")

    sign_in(page, password="not-the-password")

    expect(page.get_by_role("heading", name="Sign in to kcdir")).to_be_visible()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
