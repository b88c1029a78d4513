"""A directory admin's edges, in a real browser: merging a duplicate (the community that
stays chosen by name, a preview of who moves in which role, then confirm) and
formalising a CoP under a name another community has (refused, then done right)."""

import pytest

from communities.models import Community, Membership

from ..factories import (
    MembershipFactory,
    PurposeFactory,
    directory_admin_named,
    led_kc,
    member_named,
)
from .conftest import CHROMIUM, DESKTOP, PHONE, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


@pytest.fixture
def duplicates():
    """Claims Turnaround (Stella stewards it) and its duplicate Claims Turnaround North
    (Sue stewards it, Max is a member)."""
    directory_admin_named("Dana Admin", username="dana")
    survivor = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=member_named("Stella Steward", username="stella"),
        name="Claims Turnaround",
        slug="claims-turnaround",
    )
    duplicate = led_kc(
        sponsor=member_named("Sid Sponsor"),
        steward=member_named("Sue Steward", username="sue"),
        name="Claims Turnaround North",
        slug="claims-turnaround-north",
    )
    MembershipFactory(community=duplicate, member=member_named("Max Member"))
    return survivor, duplicate


def test_merge_chooses_by_name_previews_who_moves_and_confirms(
    live_server, page, sign_in, duplicates
):
    survivor, duplicate = duplicates
    page.set_viewport_size(DESKTOP)
    sign_in(page, "dana", then="/")

    page.goto(live_server.url + duplicate.get_absolute_url())
    page.get_by_role("link", name="Merge into another").click()
    expect(
        page.get_by_role("heading", name="Merge Claims Turnaround North into another community")
    ).to_be_visible()
    page.get_by_label("Find the community that stays, by name").fill("turnaround")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("radio", name="Claims Turnaround", exact=True).check()
    page.get_by_role("button", name="Preview the merge").click()

    expect(
        page.get_by_role("heading", name="Merge Claims Turnaround North into Claims Turnaround?")
    ).to_be_visible()
    moving = page.get_by_role("table", name="Who moves, and in which role")
    sue = moving.get_by_role("row").filter(has_text="Sue Steward")
    expect(sue).to_contain_text("Steward")
    expect(sue).to_contain_text("role not kept")
    expect(sue).to_contain_text("Joins as Member")
    expect(moving.get_by_role("row").filter(has_text="Max Member")).to_contain_text(
        "Joins as Member"
    )
    assert not scrolls_sideways(page)
    assert not Community.objects.get(pk=duplicate.pk).merged_into_id  # a preview changes nothing

    page.get_by_role("button", name="Merge Claims Turnaround North into Claims Turnaround").click()

    expect(page.get_by_role("heading", name="Claims Turnaround", level=1)).to_be_visible()
    expect(
        page.get_by_text("Claims Turnaround North is merged into Claims Turnaround.")
    ).to_be_visible()
    roles = dict(
        survivor.memberships.filter(state=Membership.State.ACTIVE).values_list(
            "member__display_name", "role"
        )
    )
    assert roles["Sue Steward"] == roles["Max Member"] == Membership.Role.MEMBER
    assert roles["Stella Steward"] == Membership.Role.STEWARD


def test_merge_preview_keeping_roles_fits_a_phone(live_server, page, sign_in, duplicates):
    survivor, duplicate = duplicates
    sign_in(page, "dana", then="/")
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/c/{duplicate.slug}/merge/?target={survivor.pk}")
    page.get_by_role("link", name="Preview keeping their roles").click()

    moving = page.get_by_role("table", name="Who moves, and in which role")
    expect(moving.get_by_role("row").filter(has_text="Sue Steward")).to_contain_text(
        "Joins as Steward"
    )
    expect(
        page.get_by_role("button", name="Merge Claims Turnaround North into Claims Turnaround")
    ).to_be_visible()
    assert not scrolls_sideways(page)


@pytest.fixture
def data_viz():
    directory_admin_named("Dana Admin", username="dana")
    member_named("Bea Boss", username="boss")
    member_named("Stu Steward", username="stu")
    PurposeFactory(statement="Every board report readable in a minute")
    cop = Community.objects.create(
        name="Data Viz Club",
        slug="data-viz-club",
        kind=Community.Kind.COP,
        summary="Charts that people read.",
        description="This is a community of practice: come along, share what works.",
    )
    MembershipFactory(
        community=cop, member=member_named("Cora Coordinator"), role=Membership.Role.STEWARD
    )
    return cop


def test_formalising_under_a_taken_name_is_refused_then_done_with_its_own(
    live_server, page, sign_in, data_viz
):
    page.set_viewport_size(DESKTOP)
    sign_in(page, "dana", then="/")
    page.goto(live_server.url + data_viz.get_absolute_url())
    page.get_by_role("link", name="Formalise as knowledge community").click()

    name = page.get_by_label("Name of the knowledge community")
    expect(name).to_have_value("")
    name.fill("Data Viz Club")
    page.get_by_label("Every board report readable in a minute").check()
    page.get_by_label("Sponsor").fill("boss")
    page.get_by_label("Stewards").fill("stu")
    page.get_by_role("button", name="Formalise as knowledge community").click()

    expect(
        page.get_by_text("“Data Viz Club” is already the name of a community in the directory.")
    ).to_be_visible()
    assert Community.objects.filter(name__iexact="Data Viz Club").count() == 1

    page.get_by_label("Name of the knowledge community").fill("Board Reporting")
    page.get_by_label("Summary").fill("Board reports anyone can read in a minute.")
    page.get_by_role("button", name="Formalise as knowledge community").click()

    expect(page.get_by_role("heading", name="Board Reporting", level=1)).to_be_visible()
    expect(page.get_by_text("Board Reporting is formed from Data Viz Club.")).to_be_visible()
    expect(page.get_by_text("Board reports anyone can read in a minute.")).to_be_visible()
    expect(page.get_by_text("This is a community of practice: come along")).to_have_count(0)
