"""A steward's edge cases in a real browser, on a laptop (1366 px) and a phone (390 px):
withdrawing an invitation and approving a request from the manage page's list,
appointing a sponsor after being told who steps down, and trying to leave as the only
steward. And a directory admin going from the dashboard to the row to decide."""

import re

import pytest

from communities import services
from communities.models import Membership, MembershipEvent

from ..factories import directory_admin_named, member_named
from .conftest import CHROMIUM, DESKTOP, PHONE, SKIP_REASON

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # conftest's screen, with the laptop 900 px high rather than 768.
    pytest.mark.parametrize("screen", [DESKTOP, PHONE], ids=["laptop", "phone"], indirect=True),
]


def row(page, membership):
    return page.locator(f"#membership-{membership.pk}")


def test_steward_withdraws_an_invitation_approves_a_request_appoints_a_sponsor_and_cannot_leave(
    live_server, screen, sign_in, request_kc
):
    page = screen
    steward = request_kc.memberships.get(role=Membership.Role.STEWARD)
    sam = member_named("Sam Staff", username="staff")
    services.request_membership(community=request_kc, member=sam, note="I price flood risk.")
    ivo = services.add_members(
        community=request_kc,
        members=[member_named("Ivo Invited")],
        actor=steward.member,
        invite=True,
    ).done[0]
    invitation = request_kc.memberships.get(member=ivo)
    request = request_kc.memberships.get(member=sam)
    manage = f"/c/{request_kc.slug}/manage/"

    sign_in(page, steward.member.user.username, then=manage)
    expect(page.get_by_role("heading", name="Climate Risk Pricing: membership")).to_be_visible()

    # The invitation's row offers Resend and Withdraw, not Remove; Withdraw asks first.
    expect(row(page, invitation).get_by_role("link", name="Remove")).to_have_count(0)
    expect(
        row(page, invitation).get_by_role("button", name="Resend invitation to Ivo Invited")
    ).to_be_visible()
    row(page, invitation).get_by_role("link", name="Withdraw invitation to Ivo Invited").click()
    expect(
        page.get_by_role("heading", name="Withdraw the invitation to Ivo Invited?")
    ).to_be_visible()
    page.get_by_label("Note").fill("Sent to the wrong Ivo.")
    page.get_by_role("button", name="Withdraw invitation").click()
    expect(page.get_by_text("The invitation to Ivo Invited is withdrawn.")).to_be_visible()
    expect(row(page, invitation)).to_have_count(0)

    # The request's row in the list offers Approve and Deny.
    expect(row(page, request).get_by_role("link", name="Remove")).to_have_count(0)
    row(page, request).get_by_role("button", name="Approve the request from Sam Staff").click()
    expect(page.get_by_text("Approved: Sam Staff.")).to_be_visible()
    expect(page.get_by_text("No requests are waiting.")).to_be_visible()

    # Making Sam sponsor says first that Rita steps down to member.
    row(page, request).get_by_label("Role of Sam Staff").select_option("sponsor")
    row(page, request).get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", name="Make Sam Staff sponsor?")).to_be_visible()
    expect(
        page.get_by_text("Rita Sponsor, the current sponsor, will become a member.")
    ).to_be_visible()
    page.get_by_role("button", name="Confirm").click()
    expect(
        page.get_by_text(
            "Sam Staff is now Sponsor. Rita Sponsor, the previous sponsor, is now a member."
        )
    ).to_be_visible()

    # The only steward is told, before any confirmation, why they cannot leave yet.
    page.goto(live_server.url + request_kc.get_absolute_url())
    card = page.get_by_role("region", name="Your membership")
    expect(card).to_contain_text(
        "You are the only steward of Climate Risk Pricing. Make someone else steward first "
        "(on the Manage membership page), then you can leave."
    )
    expect(card.get_by_role("link", name="Leave", exact=True)).to_have_count(0)
    page.goto(live_server.url + f"/c/{request_kc.slug}/leave/")
    expect(
        page.get_by_role("heading", name="You cannot leave Climate Risk Pricing yet")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Leave", exact=True)).to_have_count(0)
    page.get_by_role("link", name="Choose who takes over").click()
    expect(page.get_by_role("heading", name="Climate Risk Pricing: membership")).to_be_visible()

    assert (
        Membership.objects.get(pk=steward.pk).state,
        Membership.objects.get(pk=steward.pk).role,
    ) == (Membership.State.ACTIVE, Membership.Role.STEWARD)
    assert list(
        MembershipEvent.objects.filter(community=request_kc, actor=steward.member)
        .order_by("created_at", "pk")
        .values_list("target_name", "action")
    ) == [
        ("Ivo Invited", "invited"),
        ("Ivo Invited", "withdrawn"),
        ("Sam Staff", "approved"),
        ("Rita Sponsor", "role_changed"),
        ("Sam Staff", "role_changed"),
    ]


def test_admin_goes_from_the_dashboard_to_the_request_and_decides_it(
    live_server, screen, sign_in, request_kc
):
    page = screen
    directory_admin_named("Dana Admin", username="dana")
    sam = member_named("Sam Staff", username="staff")
    services.request_membership(community=request_kc, member=sam)
    request = request_kc.memberships.get(member=sam)

    sign_in(page, "dana", then="/dashboard/")
    waiting = page.get_by_role("region", name="Requests waiting")
    waiting.get_by_role(
        "link", name="Decide on the request from Sam Staff to join Climate Risk Pricing"
    ).click()

    expect(page).to_have_url(re.compile(rf"#membership-{request.pk}$"))
    target = row(page, request)
    expect(target).to_be_in_viewport()
    target.get_by_role("button", name="Deny the request from Sam Staff").click()
    expect(page.get_by_text("Denied: Sam Staff.")).to_be_visible()
    assert Membership.objects.get(pk=request.pk).state == Membership.State.DENIED
