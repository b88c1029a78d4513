"""Botkin's path in a real browser: a CoP is recorded, formalised into a KC, joined, and
shows on the ladder."""

import re

import pytest
from django.contrib.auth.models import Group

from communities.access import DIRECTORY_ADMINS_GROUP
from communities.models import Community, Membership

from ..factories import CommunityFactory, member_named
from .conftest import CHROMIUM, SKIP_REASON, sign_out

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    # live_server needs committed data; serialized_rollback puts back what the
    # migrations created (the "Directory admins" group) for the tests after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def cast():
    staff = member_named("Sam Staff", username="staff")
    admin = member_named("Dana Admin", username="admin")
    admin.user.groups.add(Group.objects.get(name=DIRECTORY_ADMINS_GROUP))
    member_named("Bea Boss", username="boss")
    member_named("Stu Steward", username="stu")
    # Shares "clinic" with the CoP recorded below, so the duplicate check speaks up.
    CommunityFactory(kind=Community.Kind.COP, name="Excel Clinic", slug="excel-clinic")
    return {"staff": staff, "admin": admin}


def test_a_recorded_cop_is_formalised_joined_and_climbs_the_ladder(
    live_server, page, sign_in, cast
):
    # Staff record a CoP they practise in.
    sign_in(page, "staff", then="/")
    page.get_by_role("link", name="Record a community of practice").click()
    expect(page.get_by_role("heading", name="Record a community of practice")).to_be_visible()
    page.get_by_label("Name").fill("Python Clinic")
    page.get_by_label("What is practised").fill("Pairing on Python scripts for actuaries.")
    page.get_by_label("Where and how people meet").fill("Thursdays, 4th floor")
    expect(page.get_by_label("I practise here")).to_be_checked()
    page.get_by_role("button", name="Record a community of practice").click()

    similar = page.get_by_role("region", name="Is it one of these?")
    cop_heading = page.get_by_role("heading", name="Python Clinic", level=1)
    expect(similar.or_(cop_heading)).to_be_visible()
    if similar.is_visible():
        expect(similar.get_by_role("link", name="Excel Clinic")).to_be_visible()
        expect(page.get_by_label("I practise here")).to_be_checked()
        page.get_by_role("button", name="Save it anyway").click()

    expect(cop_heading).to_be_visible()
    expect(page.get_by_text("Python Clinic is now in the directory.")).to_be_visible()
    practising = page.get_by_role("table", name="People who practise here")
    expect(practising.get_by_role("link", name="Sam Staff")).to_be_visible()
    cop_url = page.url
    assert Community.objects.filter(name__endswith="Clinic").count() == 2
    sign_out(page)

    # A directory admin formalises it.
    page.goto(cop_url)
    sign_in(page, "admin")
    page.get_by_role("link", name="Formalise as knowledge community").click()
    expect(page.get_by_label("Name of the knowledge community")).to_have_value("")
    page.get_by_label("Name of the knowledge community").fill("Python Automation Board")
    page.get_by_label("Or a new future-shaping purpose").fill("Automate every monthly report")
    page.get_by_label("Sponsor").fill("boss")
    page.get_by_label("Stewards").fill("stu")
    page.get_by_role("button", name="Formalise as knowledge community").click()

    expect(page.get_by_role("heading", name="Python Automation Board", level=1)).to_be_visible()
    expect(
        page.get_by_text("Python Automation Board is formed from Python Clinic.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Python Clinic")).to_be_visible()
    sign_out(page)

    # The person who practised there is invited, and accepts.
    sign_in(page, "staff")
    page.get_by_role("link", name="My communities").click()
    invitations = page.get_by_role("region", name="Invitations to answer")
    expect(invitations.get_by_role("link", name="Python Automation Board")).to_be_visible()
    invitations.get_by_role("button", name="Accept invitation to Python Automation Board").click()

    expect(page.get_by_role("heading", name="Python Automation Board", level=1)).to_be_visible()
    expect(page.get_by_text("Welcome to Python Automation Board.")).to_be_visible()
    expect(page.get_by_text("You are a member of this community.")).to_be_visible()
    kc = Community.objects.get(name="Python Automation Board")
    assert kc.memberships.get(member=cast["staff"]).state == Membership.State.ACTIVE

    # The new KC stands on the ladder, at the CoP's stage.
    page.get_by_role("link", name="Ladder").click()
    sharing = page.get_by_role("region", name=re.compile(r"^1\. Sharing"))
    expect(sharing.get_by_role("link", name="Python Automation Board")).to_be_visible()
    expect(sharing.get_by_role("link", name="Python Clinic")).to_be_visible()
