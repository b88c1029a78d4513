"""A steward narrows a community's history to one person and a few days, on a laptop and
on a phone; the sign-in page leads to the password reset."""

from datetime import datetime

import pytest
from django.utils import timezone

from communities.models import MembershipEvent

from ..factories import member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def events(open_kc):
    ada = member_named("Ada Lovelace", username="ada")
    bea = member_named("Bea Garcia", username="bea")
    for person, action, day in [
        (ada, MembershipEvent.Action.JOINED, "2026-03-01"),
        (bea, MembershipEvent.Action.JOINED, "2026-03-10"),
        (ada, MembershipEvent.Action.LEFT, "2026-03-20"),
    ]:
        MembershipEvent.objects.create(
            community=open_kc,
            target=person,
            target_name=person.display_name,
            actor=person,
            actor_name=person.display_name,
            action=action,
            note=f"note of {day}",
            created_at=timezone.make_aware(datetime.fromisoformat(day + " 12:00")),
        )
    return open_kc


def test_a_steward_filters_history_by_person_and_dates(
    live_server, screen, sign_in, events, steward
):
    page = screen
    sign_in(page, steward.username, then="/")
    page.goto(live_server.url + events.get_absolute_url() + "history/")
    history = page.get_by_role("table", name="History, newest first")
    expect(history.get_by_text("note of 2026-03-10")).to_be_visible()

    page.get_by_label("Person").fill("Ada")
    page.get_by_label("From").fill("2026-03-15")
    page.get_by_label("To").fill("2026-03-31")
    page.get_by_role("button", name="Filter").click()

    expect(history.get_by_text("note of 2026-03-20")).to_be_visible()
    expect(history.get_by_text("note of 2026-03-01")).to_have_count(0)
    expect(history.get_by_text("note of 2026-03-10")).to_have_count(0)
    # The filters stay in the form (and the address) for the next change.
    expect(page.get_by_label("Person")).to_have_value("Ada")
    expect(page.get_by_label("From")).to_have_value("2026-03-15")
    assert "person=Ada" in page.url
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_sign_in_page_leads_to_the_password_reset(live_server, page):
    page.goto(live_server.url + "/accounts/login/")

    page.get_by_role("link", name="Forgot your password?").click()

    assert page.url.endswith("/accounts/password_reset/")
    expect(page.get_by_label("Email")).to_be_visible()
