"""Joining, asking to join, approving and leaving, in a real browser."""

import re

import pytest

from communities.models import Membership, MembershipEvent

from .conftest import CHROMIUM, SKIP_REASON, sign_out

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def test_request_is_approved_by_the_steward_and_shows_on_my_communities(
    live_server, page, sign_in, staff, request_kc
):
    steward = request_kc.memberships.get(role=Membership.Role.STEWARD).member

    # Staff ask to join, with a note.
    sign_in(page, "staff", then="/")
    page.goto(live_server.url + request_kc.get_absolute_url())
    page.get_by_label("Note to the stewards (optional)").fill("I price flood risk.")
    page.get_by_role("button", name="Request to join").click()
    expect(page.get_by_text("Request sent to the stewards.")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel request")).to_be_visible()
    expect(main_nav(page).get_by_text("requests waiting for you")).to_have_count(0)
    sign_out(page)

    # The steward sees one request waiting, in the navbar, and approves it.
    sign_in(page, steward.user.username, then="/")
    my_communities = main_nav(page).get_by_role("link", name=re.compile(r"^My communities"))
    expect(my_communities).to_have_accessible_name(
        re.compile(r"My communities\s+1\s+requests waiting for you")
    )
    my_communities.click()
    waiting = page.get_by_role("region", name="Requests waiting for you")
    expect(waiting).to_contain_text("Sam Staff asks to join Climate Risk Pricing")
    waiting.get_by_role("link", name="Manage membership").click()

    expect(page.get_by_role("heading", name="Climate Risk Pricing: membership")).to_be_visible()
    requests = page.get_by_role("table", name="Requests waiting, oldest first")
    expect(requests.get_by_role("row", name=re.compile("Sam Staff"))).to_contain_text(
        "I price flood risk."
    )
    page.get_by_role("button", name="Approve Sam Staff").click()

    expect(page.get_by_text("Approved: Sam Staff.")).to_be_visible()
    expect(page.get_by_text("No requests are waiting.")).to_be_visible()
    expect(main_nav(page).get_by_text("requests waiting for you")).to_have_count(0)

    # The history says who approved whom.
    page.get_by_role("link", name="History").click()
    history = page.get_by_role("table", name="History, newest first")
    newest = history.get_by_role("row").nth(1)
    expect(newest).to_contain_text("Sam Staff")
    expect(newest).to_contain_text("Approved")
    expect(newest).to_contain_text("Rex Steward")
    sign_out(page)

    # Staff now belong.
    sign_in(page, "staff", then="/")
    main_nav(page).get_by_role("link", name="My communities").click()
    belong = page.get_by_role("region", name="Where I belong")
    expect(belong.get_by_role("link", name="Climate Risk Pricing")).to_be_visible()
    expect(belong).to_contain_text("Member")

    membership = Membership.objects.get(member=staff.member, community=request_kc)
    assert (membership.state, membership.decided_by) == (Membership.State.ACTIVE, steward)
    assert list(
        MembershipEvent.objects.filter(community=request_kc, target=staff.member)
        .order_by("created_at", "pk")
        .values_list("action", "actor_name", "note")
    ) == [("requested", "Sam Staff", "I price flood risk."), ("approved", "Rex Steward", "")]


def test_staff_join_an_open_community_and_leave_it_after_confirming(
    live_server, page, sign_in, staff, open_kc
):
    sign_in(page, "staff", then="/")
    page.goto(live_server.url + open_kc.get_absolute_url())
    roster = page.get_by_role("table", name="Membership list")
    expect(roster.get_by_role("link", name="Sam Staff")).to_have_count(0)

    page.get_by_role("button", name="Join", exact=True).click()

    expect(page.get_by_text("Welcome to Claims Turnaround.")).to_be_visible()
    expect(roster.get_by_role("link", name="Sam Staff")).to_be_visible()
    expect(page.get_by_role("button", name="Join", exact=True)).to_have_count(0)

    page.get_by_role("link", name="Leave", exact=True).click()

    expect(page.get_by_role("heading", name="Leave Claims Turnaround?")).to_be_visible()
    page.get_by_role("button", name="Leave", exact=True).click()

    expect(page.get_by_text("You left Claims Turnaround.")).to_be_visible()
    expect(roster.get_by_role("link", name="Sam Staff")).to_have_count(0)
    expect(page.get_by_role("button", name="Join", exact=True)).to_be_visible()
    assert Membership.objects.get(member=staff.member, community=open_kc).state == "left"
    assert list(
        MembershipEvent.objects.filter(community=open_kc, target=staff.member)
        .order_by("created_at", "pk")
        .values_list("action", flat=True)
    ) == ["joined", "left"]
