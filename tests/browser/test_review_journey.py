"""A steward completes a review of their community's list in a real browser, on a
laptop and a phone: from the manage page's "Review the list", confirms one person,
removes another (asked first), then confirms all remaining and reads the outcome."""

from datetime import timedelta

import pytest
from django.utils import timezone

from communities import services
from communities.models import Membership, Review

from ..factories import MembershipFactory, member_named
from .conftest import CHROMIUM, DESKTOP, PHONE, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.parametrize("screen", [DESKTOP, PHONE], ids=["laptop", "phone"], indirect=True),
]


def test_steward_completes_a_review(live_server, screen, sign_in, open_kc):
    page = screen
    steward = open_kc.memberships.get(role=Membership.Role.STEWARD)
    mo = MembershipFactory(member=member_named("Mo Member"), community=open_kc)
    leo = MembershipFactory(member=member_named("Leo Leaving"), community=open_kc)
    review = services.start_review(
        community=open_kc, due_on=timezone.localdate() + timedelta(days=14), actor=None
    )
    manage = f"/c/{open_kc.slug}/manage/"

    sign_in(page, steward.member.user.username, then=manage)
    page.get_by_role("link", name="Review the list").click()
    expect(page.get_by_role("heading", name="Review of Claims Turnaround")).to_be_visible()

    page.get_by_role("button", name="Confirm Mo Member").click()
    expect(page.get_by_text("1 person confirmed.")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm Mo Member")).to_have_count(0)

    page.get_by_role("link", name="Remove Leo Leaving").click()
    expect(
        page.get_by_role("heading", name="Remove Leo Leaving from Claims Turnaround?")
    ).to_be_visible()
    page.get_by_label("Note").fill("Moved to another team.")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Leo Leaving is off the list.")).to_be_visible()

    page.get_by_role("button", name="Confirm all remaining (2)").click()
    expect(page.get_by_text("The review is complete. Thank you.")).to_be_visible()
    page.get_by_role("link", name="Completed").first.click()
    expect(page.get_by_role("cell", name="Leo Leaving")).to_be_visible()
    expect(page.get_by_text("3 confirmed, 1 removed")).to_be_visible()

    review.refresh_from_db()
    leo.refresh_from_db()
    assert review.status == Review.Status.COMPLETED
    assert leo.state == Membership.State.REMOVED
    assert review.items.get(member=mo.member).decided_by == steward.member
