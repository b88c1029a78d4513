"""A steward gives a community a membership rule: preview, then save and apply, on a
laptop and on a phone."""

import pytest

from communities.models import Membership, MembershipRule
from members.models import Department

from ..factories import member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_steward_previews_then_applies_a_rule(live_server, screen, sign_in, open_kc, steward):
    claims = Department.objects.create(name="Claims", slug="claims")
    ann = member_named("Ann Adjuster", username="ann", department=claims)
    page = screen
    sign_in(page, steward.username, then=f"/c/{open_kc.slug}/manage/")
    page.get_by_role("link", name="Membership rules").click()

    page.get_by_label("Rule name").fill("Claims people")
    page.get_by_label("Additive: the rule adds, people may also join by hand").check()
    page.get_by_label("Department is one of").first.select_option(label="Claims")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("1 person would be added: Ann Adjuster")).to_be_visible()
    assert not MembershipRule.objects.exists()

    page.get_by_label("Yes, apply this rule to the list now").check()
    page.get_by_role("button", name="Save and apply").click()
    expect(page.get_by_text("Rule saved: 1 added, 0 removed, 0 kept.")).to_be_visible()
    membership = open_kc.memberships.get(member=ann)
    assert membership.state == Membership.State.ACTIVE
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.get_by_role("link", name="Manage membership").click()
    expect(page.get_by_text("By rule")).to_be_visible()
