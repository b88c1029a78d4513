"""On a phone (390 px), by keyboard, and on a laptop (1366 px): the page a person opens
shows its main action on the first screen, never scrolls sideways, reaches the
viewer's own action in a few Tab presses, and keeps the top bar and the ladder tidy.
"""

import pytest
from django.test import Client
from django.urls import reverse

from communities import services
from communities.models import Community, Membership

from ..factories import MembershipFactory, directory_admin_named, led_kc, member_named
from .conftest import CHROMIUM, LAPTOP, PHONE, SKIP_REASON
from .test_keyboard import describe, focused

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROSTER_SIZE = 40


@pytest.fixture
def busy_world(db):
    """A request-only KC with a long roster and five requests waiting, an open KC, an
    invitation for Sam, and a directory admin with a long name and waiting requests
    (the badge in the top bar)."""
    steward = member_named("Stella Steward", username="steward")
    kc = led_kc(
        steward=steward,
        name="Claims Turnaround",
        slug="claims-turnaround",
        summary="Paying customers in two days.",
        join_policy=Community.JoinPolicy.REQUEST,
        stage=Community.Stage.COOPERATION,
    )
    for number in range(ROSTER_SIZE):
        MembershipFactory(
            member=member_named(f"Roster Person {number:02}", job_title="Claims handler"),
            community=kc,
        )
    for number in range(5):
        services.request_membership(
            community=kc,
            member=member_named(f"Waiting Person {number}"),
            note="I would like to help with the claims backlog and the new letters.",
        )
    open_kc = led_kc(
        name="Plain Language", slug="plain-language", join_policy=Community.JoinPolicy.OPEN
    )
    invite_kc = led_kc(
        name="Pricing Council", slug="pricing-council", join_policy=Community.JoinPolicy.INVITE
    )
    sam = member_named("Sam Staff", username="staff")
    services.add_members(community=invite_kc, members=[sam], actor=steward, invite=True)
    admin = directory_admin_named(
        "Alexandra Catherine Montgomery-Fairweather", username="dana", user__is_staff=True
    )
    admin.user.is_superuser = True
    admin.user.save()
    return {"kc": kc, "open_kc": open_kc, "steward": steward, "sam": sam, "admin": admin}


# Signed in by session cookie, not conftest's sign_in: these check pages, not signing in.
@pytest.fixture
def open_as(browser, live_server):
    """Opens a path signed in as a user, at a viewport size; closes the contexts."""
    contexts = []

    def open_page(user, path, viewport):
        client = Client()
        client.force_login(user)
        context = browser.new_context(locale="en-GB", viewport=viewport)
        context.set_default_timeout(10_000)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        response = page.goto(live_server.url + path)
        assert response.status == 200, f"{path} answered {response.status}"
        return page

    yield open_page
    for context in contexts:
        context.close()


def _no_sideways_scroll(page):
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["inner"], f"{page.url} scrolls sideways: {widths}"


def _on_first_screen(page, locator, what):
    box = locator.bounding_box()
    assert box is not None, f"{what} is not shown on {page.url}"
    height = page.viewport_size["height"]
    assert box["y"] + box["height"] <= height, (
        f"{what} is {box['y']:.0f} px down on {page.url}, below the first {height} px"
    )


# {page id: (who, path, the primary action)}; the world is made per test.
PHONE_PAGES = {
    "community-request": (
        "sam",
        lambda w: w["kc"].get_absolute_url(),
        lambda page: page.get_by_role("button", name="Request to join"),
    ),
    "community-open": (
        "sam",
        lambda w: w["open_kc"].get_absolute_url(),
        lambda page: page.get_by_role("button", name="Join", exact=True),
    ),
    "manage": (
        "steward",
        lambda w: reverse("communities:community_manage", args=[w["kc"].slug]),
        lambda page: page.get_by_role("button", name="Approve Waiting Person 0"),
    ),
    "directory": (
        "sam",
        lambda w: reverse("communities:community_list"),
        lambda page: page.get_by_role("link", name="Claims Turnaround"),
    ),
    "my-communities": (
        "sam",
        lambda w: reverse("members:my_communities"),
        lambda page: page.get_by_role("button", name="Accept invitation to Pricing Council"),
    ),
    "profile": (
        "sam",
        lambda w: reverse("members:member_detail", args=["staff"]),
        lambda page: page.get_by_role("link", name="Edit profile"),
    ),
    "dashboard": (
        "admin",
        lambda w: reverse("communities:dashboard"),
        lambda page: page.get_by_role("link", name="Decide on the request").first,
    ),
}


@pytest.mark.parametrize("page_id", PHONE_PAGES)
def test_on_a_phone_the_main_action_is_on_the_first_screen_and_nothing_scrolls_sideways(
    busy_world, open_as, page_id
):
    who, make_path, action = PHONE_PAGES[page_id]
    page = open_as(busy_world[who].user, make_path(busy_world), PHONE)
    _no_sideways_scroll(page)
    _on_first_screen(page, action(page), page_id)


def test_on_a_phone_the_manage_page_shows_every_action_of_a_row(busy_world, open_as):
    page = open_as(
        busy_world["steward"].user,
        reverse("communities:community_manage", args=[busy_world["kc"].slug]),
        PHONE,
    )
    width = page.viewport_size["width"]
    for name in ("Deny Waiting Person 4", "Remove Roster Person 00", "Role of Roster Person 00"):
        control = page.get_by_label(name, exact=True)
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{name}: {box}"


def test_on_a_phone_the_directory_filters_are_folded_and_say_what_is_chosen(busy_world, open_as):
    page = open_as(
        busy_world["sam"].user, reverse("communities:community_list") + "?kind=kc", PHONE
    )
    summary = page.locator("summary", has_text="Filters")
    assert "Kind: Knowledge community" in summary.inner_text()
    assert not page.get_by_label("Stage").is_visible()
    _on_first_screen(page, page.get_by_role("link", name="Claims Turnaround"), "the first result")
    summary.click()
    assert page.get_by_label("Stage").is_visible()


def test_on_a_laptop_the_directory_filters_are_open(busy_world, open_as):
    page = open_as(busy_world["sam"].user, reverse("communities:community_list"), LAPTOP)
    assert page.get_by_label("Stage").is_visible()


def _tabs_to_request_to_join(page, limit=60):
    """Tab presses until "Request to join" has the focus; fails if a roster link (a
    person's page) comes first."""
    stops = []
    for press in range(1, limit + 1):
        page.keyboard.press("Tab")
        stop = focused(page)
        stops.append(describe(stop))
        if stop and stop["tag"] == "button" and stop["text"] == "Request to join":
            return press
        in_roster = page.evaluate(
            "!!document.activeElement.closest('[aria-labelledby=roster-heading]')"
        )
        assert not in_roster, f"the roster came before Request to join: {stops}"
    raise AssertionError(f"Request to join not reached in {limit} presses: {stops}")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_request_to_join_comes_a_few_tab_presses_in_before_the_long_roster(
    busy_world, open_as, viewport
):
    page = open_as(busy_world["sam"].user, busy_world["kc"].get_absolute_url(), viewport)
    # From the top of the page: the skip link and the top bar come first.
    presses = _tabs_to_request_to_join(page)
    limit = 12 if viewport is PHONE else 16
    assert presses <= limit, f"{presses} Tab presses to Request to join"

    # From the content ("Skip to content", Enter): the breadcrumb, the note, the button.
    page.reload()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert _tabs_to_request_to_join(page) <= 4


def test_on_a_laptop_the_admin_top_bar_is_one_line(busy_world, open_as):
    page = open_as(busy_world["admin"].user, reverse("communities:community_list"), LAPTOP)
    tops = page.evaluate(
        """() => [...document.querySelectorAll(
             '#main-nav .nav-link, #main-nav form[role=search], .navbar-brand')]
           .map(el => [el.innerText.trim() || el.tagName,
                       Math.round(el.getBoundingClientRect().top),
                       Math.round(el.getBoundingClientRect().height)])"""
    )
    labels = [label for label, _top, _height in tops]
    assert "Sign out" in labels and "Admin" in labels, labels
    nav_links = [(label, top, height) for label, top, height in tops if label != "FORM"]
    line_height = min(height for _label, _top, height in nav_links)
    # Every link one line high, all of them on the same line.
    assert all(height < 1.6 * line_height for _label, _top, height in nav_links), tops
    centres = [top + height / 2 for _label, top, height in tops]
    assert max(centres) - min(centres) <= 8, tops


WORD_BROKEN = """() => {
  const broken = [];
  for (const label of document.querySelectorAll('.ladder-label')) {
    const text = label.firstChild;
    for (const match of text.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(text, match.index);
      range.setEnd(text, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_ladder_stage_names_never_break_inside_a_word(busy_world, open_as, viewport):
    page = open_as(busy_world["admin"].user, busy_world["kc"].get_absolute_url(), viewport)
    assert page.locator(".ladder-label").count() == 4
    assert page.evaluate(WORD_BROKEN) == []
    _no_sideways_scroll(page)


def test_on_a_laptop_the_directory_button_rows_keep_clear_of_the_text(busy_world, open_as):
    page = open_as(busy_world["admin"].user, reverse("communities:community_list"), LAPTOP)
    gaps = page.evaluate(
        """() => {
          const explainer = document.querySelector('.explainer').getBoundingClientRect();
          const heading = document.querySelector('h1').getBoundingClientRect();
          return [...document.querySelectorAll('main .btn')].filter(b => {
              const r = b.getBoundingClientRect(); return r.bottom < explainer.bottom; })
            .map(b => { const r = b.getBoundingClientRect();
              return [b.innerText.trim(), explainer.top - r.bottom,
                      r.left < heading.right ? r.top - heading.bottom : null]; });
        }"""
    )
    assert any(label == "Dashboard" for label, _below, _beside in gaps), gaps
    for label, below, under_heading in gaps:
        assert below >= 8, f"{label} is {below:.0f} px above the text below it"
        if under_heading is not None:
            assert under_heading >= 8, f"{label} is {under_heading:.0f} px below the heading"


def test_steward_membership_roles_are_unchanged_by_the_layout(busy_world):
    """The fixture's roster is what the tests above assume."""
    kc = busy_world["kc"]
    assert kc.memberships.filter(state=Membership.State.ACTIVE).count() == ROSTER_SIZE + 2
    assert kc.memberships.filter(state=Membership.State.REQUESTED).count() == 5
