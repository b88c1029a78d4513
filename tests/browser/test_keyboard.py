"""Keyboard-only journeys: no mouse, no ``click``, no ``fill`` — Tab, type, Enter, Space.

Each step tabs until ``document.activeElement`` is the control a person wants,
with a bounded number of presses, so a control that cannot be reached by the
keyboard (or sits behind too many stops) fails the test with the stops it saw.
"""

import pytest

from communities import services
from communities.models import Membership, MembershipEvent

from ..factories import PASSWORD, member_named
from .conftest import CHROMIUM, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

MAX_TAB_PRESSES = 60

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: el.getAttribute("name") || "",
    type: el.getAttribute("type") || "",
    label: el.getAttribute("aria-label") || "",
    text: (el.innerText || el.value || "").trim().replace(/\\s+/g, " ").slice(0, 80),
    ring: style.outlineStyle !== "none" || style.boxShadow !== "none",
  };
}"""


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def describe(stop: dict | None) -> str:
    if stop is None:
        return "<body>"
    return f"<{stop['tag']}> {stop['label'] or stop['text'] or stop['name'] or stop['id']}"


def tab_to(page, matches, *, what: str, limit: int = MAX_TAB_PRESSES) -> dict:
    """Press Tab until the focused element ``matches``; at most ``limit`` presses.

    The element focused already counts (sign-in autofocuses Username). Each stop
    must show a focus indicator (outline or Bootstrap's focus shadow).
    """
    stops = []
    stop = focused(page)
    for _press in range(limit + 1):
        if stop is not None and matches(stop):
            assert stop["ring"], f"{describe(stop)} has the focus but no visible focus indicator"
            return stop
        if _press == limit:
            break
        page.keyboard.press("Tab")
        stop = focused(page)
        stops.append(describe(stop))
    raise AssertionError(f"{what} not reached in {limit} Tab presses; stops: {stops}")


# Not conftest's sign_in: Tab, typing and Enter are what these journeys test.
def sign_in_with_keyboard(page, username: str):
    tab_to(page, lambda el: el["name"] == "username", what="the Username field")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_attached()


def is_button(text: str):
    return lambda el: el["tag"] == "button" and el["text"] == text


def test_skip_to_content_is_the_first_tab_stop_and_moves_focus_to_main(
    live_server, page, staff, open_kc
):
    page.goto(live_server.url + open_kc.get_absolute_url())
    sign_in_with_keyboard(page, "staff")
    expect(page.get_by_role("heading", name="Claims Turnaround", level=1)).to_be_visible()

    page.keyboard.press("Tab")
    first = focused(page)
    assert (first["tag"], first["text"]) == ("a", "Skip to content"), describe(first)
    skip_link = page.get_by_role("link", name="Skip to content")
    expect(skip_link).to_be_visible()  # visually hidden until it has the focus
    assert first["ring"] or skip_link.evaluate("el => getComputedStyle(el).borderStyle") != "none"

    page.keyboard.press("Enter")

    assert page.evaluate("document.activeElement.id") == "main"
    assert page.url.endswith("#main")
    # The next Tab continues inside the content, not back in the navigation bar.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_staff_sign_in_and_request_to_join_with_the_keyboard_alone(
    live_server, page, staff, request_kc
):
    page.goto(live_server.url + request_kc.get_absolute_url())  # sign-in first, then back
    sign_in_with_keyboard(page, "staff")
    expect(page.get_by_role("heading", name="Climate Risk Pricing", level=1)).to_be_visible()

    tab_to(page, lambda el: el["id"] == "join-note", what="the note to the stewards")
    page.keyboard.type("I price flood risk.")
    tab_to(page, is_button("Request to join"), what="Request to join", limit=5)
    page.keyboard.press("Enter")

    expect(page.get_by_text("Request sent to the stewards.")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel request")).to_be_visible()
    membership = Membership.objects.get(member=staff.member, community=request_kc)
    assert (membership.state, membership.note) == (
        Membership.State.REQUESTED,
        "I price flood risk.",
    )


def test_staff_request_to_join_without_a_note_by_tabbing_straight_to_the_button(
    live_server, page, staff, request_kc
):
    page.goto(live_server.url + request_kc.get_absolute_url())
    sign_in_with_keyboard(page, "staff")

    tab_to(page, is_button("Request to join"), what="Request to join")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Request sent to the stewards.")).to_be_visible()
    assert (
        Membership.objects.get(member=staff.member, community=request_kc).state
        == Membership.State.REQUESTED
    )


def test_steward_approves_requests_with_tab_space_and_enter(live_server, page, request_kc):
    sam = member_named("Sam Staff", username="staff")
    olive = member_named("Olive Outsider", username="olive")
    services.request_membership(community=request_kc, member=sam, note="I price flood risk.")
    services.request_membership(community=request_kc, member=olive)
    steward = request_kc.memberships.get(role=Membership.Role.STEWARD).member

    page.goto(live_server.url + request_kc.get_absolute_url())
    sign_in_with_keyboard(page, steward.user.username)
    expect(page.get_by_role("heading", name="Climate Risk Pricing", level=1)).to_be_visible()

    link = tab_to(
        page, lambda el: el["tag"] == "a" and el["text"] == "Manage membership", what="Manage"
    )
    assert link["text"] == "Manage membership"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Climate Risk Pricing: membership")).to_be_visible()

    # Tick Sam's row with Space, then "Approve selected" with Enter.
    tab_to(page, lambda el: el["label"] == "Select Sam Staff", what="Sam's checkbox")
    page.keyboard.press("Space")
    expect(page.get_by_role("checkbox", name="Select Sam Staff")).to_be_checked()
    tab_to(page, is_button("Approve selected"), what="Approve selected", limit=20)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Approved: Sam Staff.")).to_be_visible()

    # Olive's own Approve button, pressed with Space.
    tab_to(page, lambda el: el["label"] == "Approve Olive Outsider", what="Approve Olive")
    page.keyboard.press("Space")
    expect(page.get_by_text("Approved: Olive Outsider.")).to_be_visible()
    expect(page.get_by_text("No requests are waiting.")).to_be_visible()

    assert set(
        request_kc.memberships.filter(member__in=[sam, olive]).values_list("state", "decided_by")
    ) == {(Membership.State.ACTIVE, steward.pk)}
    assert list(
        MembershipEvent.objects.filter(community=request_kc, action="approved")
        .order_by("created_at", "pk")
        .values_list("target_name", "actor_name")
    ) == [("Sam Staff", steward.display_name), ("Olive Outsider", steward.display_name)]
