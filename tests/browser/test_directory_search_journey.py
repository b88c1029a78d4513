"""Searching the directory with a typo and filtering by join policy, in a real browser,
on a wide screen and on a phone (where the filters fold away)."""

import re

import pytest

from communities.models import Community, Membership

from ..factories import CommunityFactory, MembershipFactory, member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def directory():
    staff = member_named("Sam Staff", username="staff")
    learners = CommunityFactory(
        name="Python Learners", slug="python-learners", join_policy=Community.JoinPolicy.OPEN
    )
    MembershipFactory(community=learners, member=staff)
    CommunityFactory(
        name="Python Guild", slug="python-guild", join_policy=Community.JoinPolicy.INVITE
    )
    asked = CommunityFactory(name="Data Clinic", summary="Bring your Python notebooks.")
    MembershipFactory(community=asked, member=staff, state=Membership.State.REQUESTED)
    CommunityFactory(
        name="Old Python Club", slug="old-python-club", status=Community.Status.ARCHIVED
    )
    return staff


@pytest.mark.parametrize("width", [1366, 390])
def test_search_with_a_typo_then_filter_by_join_policy(
    live_server, page, sign_in, directory, width
):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, then="/")
    results = page.get_by_role("list", name="Communities").get_by_role("listitem")
    filters = page.get_by_role("complementary", name="Find a community")

    filters.get_by_label("Search").fill("pyton")
    filters.get_by_label("Search").press("Enter")

    expect(page.get_by_text("Showing results for “python” (you typed “pyton”).")).to_be_visible()
    # Name matches first, then the summary's; the archived club stays out of sight.
    expect(results.get_by_role("heading")).to_have_text(
        ["Python Guild", "Python Learners", "Data Clinic"]
    )
    expect(results.filter(has_text="Python Learners")).to_contain_text("You are a member")
    expect(results.filter(has_text="Data Clinic")).to_contain_text("You asked to join")
    expect(results.filter(has_text="Python Guild")).to_contain_text("By invitation")

    joining = filters.get_by_label("Joining")
    if width < 992:
        # On a phone the filters are folded under "Filters" until opened.
        expect(joining).to_be_hidden()
        filters.get_by_text("Filters", exact=True).click()
    expect(joining).to_be_visible()
    joining.select_option(label="Open to join")
    filters.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"join_policy=open"))
    expect(results.get_by_role("heading")).to_have_text(["Python Learners"])
    expect(results.first).to_contain_text("Open to join")
    # Nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
