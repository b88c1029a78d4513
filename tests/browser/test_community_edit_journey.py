"""A steward edits their community, on a laptop and on a phone; whoever records a
community of practice is its coordinator."""

import pytest

from communities.models import Community, Membership, MembershipEvent

from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def assert_no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_steward_edits_the_summary_and_join_policy(
    live_server, screen, sign_in, open_kc, steward
):
    page = screen
    sign_in(page, steward.username, then="/")
    page.goto(live_server.url + open_kc.get_absolute_url())

    page.get_by_role("link", name="Edit community").click()

    expect(page.get_by_role("heading", name="Edit Claims Turnaround")).to_be_visible()
    assert_no_sideways_scroll(page)
    summary = page.get_by_label("Summary")
    expect(summary).to_have_value("Paying customers in two days.")
    expect(page.get_by_label("Cut claim turnaround to two days (Shape the future)")).to_be_checked()
    summary.fill("Every claim paid within two days.")
    page.get_by_label("How people join").select_option(label="On request: stewards approve")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("Your changes to Claims Turnaround are saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Claims Turnaround", level=1)).to_be_visible()
    expect(page.get_by_text("Every claim paid within two days.")).to_be_visible()
    expect(page.get_by_text("On request: stewards approve")).to_be_visible()
    assert_no_sideways_scroll(page)
    edits = MembershipEvent.objects.filter(community=open_kc, action=MembershipEvent.Action.EDITED)
    assert edits.count() == 2

    # The history says what changed, and who changed it.
    page.get_by_role("link", name="History").first.click()
    history = page.get_by_role("table", name="History, newest first")
    expect(history.get_by_text("Summary: “Paying customers in two days.”")).to_be_visible()
    expect(history.get_by_text("Join policy: Open: anyone can join")).to_be_visible()


def test_a_steward_is_told_a_knowledge_community_keeps_a_future_purpose(
    live_server, page, sign_in, open_kc, steward
):
    sign_in(page, steward.username, then="/")
    page.goto(live_server.url + open_kc.get_absolute_url() + "edit/")

    page.get_by_label("Cut claim turnaround to two days (Shape the future)").uncheck()
    page.get_by_role("button", name="Save changes").click()

    expect(
        page.get_by_text("A knowledge community needs at least one purpose that shapes the future")
    ).to_be_visible()
    assert open_kc.purposes.count() == 1


def test_whoever_records_a_cop_sees_themselves_as_its_coordinator(
    live_server, screen, sign_in, staff
):
    page = screen
    sign_in(page, "staff", then="/")
    page.goto(live_server.url + "/communities/record/")

    page.get_by_label("Name").fill("Zymurgy Circle")
    page.get_by_label("What is practised").fill("Brewing, scientifically.")
    page.get_by_label("Purpose (optional)").fill("Brew reproducible beer")
    expect(page.get_by_label("I practise here")).to_be_checked()
    page.get_by_role("button", name="Record a community of practice").click()

    expect(page.get_by_role("heading", name="Zymurgy Circle", level=1)).to_be_visible()
    expect(page.get_by_text("You are its coordinator")).to_be_visible()
    about = page.get_by_role("complementary", name="About this community")
    expect(about.get_by_role("link", name="Sam Staff")).to_be_visible()
    expect(about.get_by_text("Coordinators")).to_be_visible()
    expect(about.get_by_role("link", name="Brew reproducible beer")).to_be_visible()
    expect(page.get_by_text("No purpose recorded yet.")).to_have_count(0)
    practising = page.get_by_role("table", name="People who practise here")
    expect(practising.get_by_role("row", name="Sam Staff")).to_contain_text("Coordinator")
    expect(page.get_by_role("link", name="Edit community")).to_be_visible()
    assert_no_sideways_scroll(page)
    cop = Community.objects.get(name="Zymurgy Circle")
    assert cop.memberships.get().role == Membership.Role.STEWARD
