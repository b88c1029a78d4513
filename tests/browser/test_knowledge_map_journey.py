"""The knowledge map in a real browser: at 1366 px no two labels overlap as drawn, a
person focuses one community and then a department, and at 390 px the page does not
scroll sideways."""

import os
import random
from itertools import combinations

import pytest

from communities import overlaps
from communities.models import Community, Membership

from ..factories import CommunityFactory, DepartmentFactory, MemberFactory, member_named
from .conftest import CHROMIUM, SKIP_REASON
from .test_insights_pages import sign_in

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WORDS = [
    "Claims",
    "Fraud",
    "Data",
    "Python",
    "Underwriting",
    "Pricing",
    "Cyber",
    "Risk",
    "Wellbeing",
    "Analytics",
    "Operations",
    "Customer",
    "Actuarial",
    "Reinsurance",
]
SHAPES = ["Guild", "Circle", "Clinic", "Network", "Forum", "Community of Practice"]


@pytest.fixture
def directory():
    """Forty communities with long, realistic names; people in two to four each, so
    the strongest links form a few groups. "Fraud Before Payout" is the busiest."""
    rng = random.Random(7)
    member_named("Sam Staff", username="staff")
    claims, data = (DepartmentFactory(name="Claims Operations"), DepartmentFactory(name="Data"))
    names = ["Fraud Before Payout"]
    while len(names) < 40:
        name = f"{' '.join(rng.sample(WORDS, rng.randint(1, 3)))} {rng.choice(SHAPES)}"
        if name not in names:
            names.append(name)
    communities = [
        CommunityFactory(name=name, kind=rng.choice(list(Community.Kind))) for name in names
    ]
    memberships = []
    for index in range(160):
        person = MemberFactory(department=claims if index % 3 else data)
        group = (index % 5) * 8  # five neighbourhoods of eight communities
        chosen = {0} if index % 4 == 0 else set()
        chosen |= {group + rng.randrange(8) for _ in range(rng.randint(2, 3))}
        memberships += [
            Membership(member=person, community=communities[pick]) for pick in sorted(chosen)
        ]
    Membership.objects.bulk_create(memberships)
    # Loaded without the services, as a bulk load would be: store what they keep.
    overlaps.rebuild()
    Community.objects.recount_members()
    return communities


LABEL_BOXES = """() => [...document.querySelectorAll('svg.knowledge-map .map-labels text')]
  .map(t => { const r = t.getBoundingClientRect();
              return {text: t.textContent, left: r.left, top: r.top,
                      right: r.right, bottom: r.bottom}; })"""


def assert_no_labels_overlap(page):
    boxes = page.evaluate(LABEL_BOXES)
    assert len(boxes) >= 5
    for one, other in combinations(boxes, 2):
        overlap_x = min(one["right"], other["right"]) - max(one["left"], other["left"])
        overlap_y = min(one["bottom"], other["bottom"]) - max(one["top"], other["top"])
        # Half a pixel of slack for anti-aliased edges.
        assert overlap_x <= 0.5 or overlap_y <= 0.5, f"{one['text']!r} overlaps {other['text']!r}"
    drawing = page.locator("svg.knowledge-map").bounding_box()
    for box in boxes:
        assert (
            drawing["x"] - 0.5 <= box["left"]
            and box["right"] <= drawing["x"] + drawing["width"] + 0.5
        )
    return boxes


def test_map_labels_do_not_overlap_and_a_person_focuses_a_community(live_server, page, directory):
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(live_server.url + "/map/")
    sign_in(page)

    drawing = page.get_by_role("group", name="Knowledge map of")
    expect(drawing).to_be_visible()
    boxes = assert_no_labels_overlap(page)
    assert any(box["text"].startswith("A · ") for box in boxes)  # the first cluster is named
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    if os.environ.get("KCDIR_MAP_SCREENSHOT"):
        page.screenshot(path=os.environ["KCDIR_MAP_SCREENSHOT"], full_page=True)
        drawing.screenshot(path=os.environ["KCDIR_MAP_SCREENSHOT"] + ".map.png")

    page.get_by_label("Focus on a community").select_option(label="Fraud Before Payout")
    page.get_by_role("button", name="Apply").click()

    expect(page.get_by_role("status")).to_contain_text("In focus: Fraud Before Payout")
    focused = drawing.get_by_role("link", name="Fraud Before Payout (")
    expect(focused).to_have_attribute("class", "map-node kind-" + directory[0].kind + " is-focus")
    assert_no_labels_overlap(page)
    # Every other community drawn is one it shares people with.
    assert drawing.get_by_role("link").count() >= 3
    if os.environ.get("KCDIR_MAP_SCREENSHOT"):
        page.screenshot(path=os.environ["KCDIR_MAP_SCREENSHOT"] + ".focus.png", full_page=True)

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Department").select_option(label="Data")
    page.get_by_role("button", name="Apply").click()

    expect(page.get_by_role("status")).to_contain_text("Counting only people from Data")
    assert_no_labels_overlap(page)


def test_on_a_phone_the_map_page_does_not_scroll_sideways(live_server, page, directory):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/map/")
    sign_in(page)

    expect(page.get_by_role("group", name="Knowledge map of")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    drawing = page.locator("svg.knowledge-map").bounding_box()
    assert drawing["x"] >= 0 and drawing["x"] + drawing["width"] <= 390
    expect(page.get_by_role("table", name="strongest links")).to_be_visible()
    if os.environ.get("KCDIR_MAP_SCREENSHOT"):
        page.screenshot(path=os.environ["KCDIR_MAP_SCREENSHOT"] + ".phone.png", full_page=True)
