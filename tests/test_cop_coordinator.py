"""Recording a community of practice makes you its coordinator (with a purpose, if you
give one), and a coordinator hands the role on from the manage page."""

import pytest
from django.urls import reverse

from communities import services
from communities.models import Community, Membership, Purpose

from .factories import MembershipFactory, PurposeFactory, member_named
from .pages import alerts, page_html, visible_text

pytestmark = pytest.mark.django_db

Role = Membership.Role
SPREAD_PRACTICE = Purpose.Orientation.SPREAD_PRACTICE


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


def edit_url(community) -> str:
    return url("community_edit", community.slug)


# -- the service ----------------------------------------------------------------------


def test_recording_a_cop_with_a_purpose_creates_one_that_spreads_practice(staff):
    recorded = services.record_cop(
        actor=staff.member,
        name="Excel Wizards",
        summary="Spreadsheet tricks.",
        purpose="Spreadsheets nobody is afraid of",
    )

    purpose = recorded.purposes.get()
    assert (purpose.statement, purpose.orientation) == (
        "Spreadsheets nobody is afraid of",
        SPREAD_PRACTICE,
    )
    assert recorded.memberships.get().role == Role.STEWARD


def test_recording_a_cop_with_an_existing_purpose_reuses_it(staff):
    existing = PurposeFactory(statement="Faster SQL for every analyst")

    recorded = services.record_cop(
        actor=staff.member,
        name="Query Club",
        summary="Queries.",
        purpose="faster sql for every analyst",
    )

    assert list(recorded.purposes.all()) == [existing]
    assert Purpose.objects.count() == 1


# -- the pages ------------------------------------------------------------------------


def test_the_recorder_is_the_new_cops_coordinator_with_its_purpose(client, staff):
    client.force_login(staff)

    response = client.post(
        url("cop_record"),
        {
            "name": "Excel Wizards",
            "summary": "Spreadsheet tricks.",
            "purpose": "Spreadsheets nobody is afraid of",
            "practise_here": "on",
        },
    )

    recorded = Community.objects.get(name="Excel Wizards")
    page = client.get(response.url)
    text = visible_text(page)
    assert "Coordinators Sam Staff" in text
    assert "No purpose recorded yet." not in text
    assert "Spreadsheets nobody is afraid of" in text
    assert (
        "Excel Wizards is now in the directory. You are its coordinator: you can edit it and "
        "hand that on." in alerts(page)
    )
    assert f'href="{edit_url(recorded)}"' in page_html(page)
    assert client.get(edit_url(recorded)).status_code == 200


def test_the_record_form_offers_a_purpose_and_says_you_will_coordinate(client, staff):
    client.force_login(staff)

    text = visible_text(client.get(url("cop_record")))

    assert "Purpose (optional)" in text
    assert "You become its first coordinator" in text


def test_a_coordinator_hands_the_cop_on_and_steps_down(client, staff):
    recorded = services.record_cop(actor=staff.member, name="Excel Wizards", summary="Tricks.")
    successor = member_named("Nina Next", username="nina")
    nina_membership = MembershipFactory(member=successor, community=recorded, role=Role.PARTICIPANT)
    own = recorded.memberships.get(member=staff.member)
    client.force_login(staff)

    manage = client.get(url("community_manage", recorded.slug))
    handed = client.post(
        url("membership_role", recorded.slug, nina_membership.pk), {"role": Role.STEWARD}
    )

    assert "Coordinator" in visible_text(manage)
    assert handed.url == url("community_manage", recorded.slug)
    assert "Nina Next is now Coordinator." in alerts(client.get(handed.url))

    stepped_down = client.post(
        url("membership_role", recorded.slug, own.pk), {"role": Role.PARTICIPANT}
    )

    # No longer a coordinator: back to the community's page, not a refusal.
    assert stepped_down.url == recorded.get_absolute_url()
    page = client.get(stepped_down.url)
    assert "Sam Staff is now Participant." in alerts(page)
    assert "Coordinators Nina Next" in visible_text(page)
    assert client.get(edit_url(recorded)).status_code == 403
    client.force_login(successor.user)
    assert client.get(edit_url(recorded)).status_code == 200
    roles = dict(recorded.memberships.values_list("member__display_name", "role"))
    assert roles == {"Sam Staff": Role.PARTICIPANT, "Nina Next": Role.STEWARD}
