"""The Django admin's Memberships pages: for looking up and repairing notes only.

Who is on which list, in what role and state, changes through the app's services, which
write the history; the admin cannot change those fields, add or delete a membership.
"""

import pytest
from django.urls import reverse

from communities.models import Membership, MembershipEvent

from .factories import UserFactory

pytestmark = pytest.mark.django_db

State, Role = Membership.State, Membership.Role


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def stewardship(open_kc):
    return open_kc.memberships.select_related("member").get(role=Role.STEWARD)


def roster(community) -> list[tuple]:
    return sorted(
        community.memberships.values_list(
            "pk", "member_id", "community_id", "role", "state", "decided_by_id", "decided_at"
        )
    )


def change_form(membership: Membership, **fields) -> dict:
    """What the change page would post, with ``fields`` tampered in."""
    return {
        "member": membership.member_id,
        "community": membership.community_id,
        "role": membership.role,
        "state": membership.state,
        "note": membership.note,
        "decided_by": "",
        "decided_at_0": "",
        "decided_at_1": "",
        **fields,
    }


def test_the_change_page_cannot_change_role_state_member_or_community(
    client, superuser, open_kc, cop, stewardship, staff
):
    client.force_login(superuser)
    url = reverse("admin:communities_membership_change", args=[stewardship.pk])
    before, events_before = roster(open_kc), MembershipEvent.objects.count()

    page = client.get(url)
    response = client.post(
        url,
        change_form(
            stewardship,
            role=Role.MEMBER,
            state=State.REMOVED,
            member=staff.member.pk,
            community=cop.pk,
            decided_by=staff.member.pk,
            note="Repaired by hand",
        ),
    )

    assert page.status_code == 200
    assert 'name="state"' not in page.content.decode()
    assert 'name="role"' not in page.content.decode()
    assert reverse("admin:communities_membership_delete", args=[stewardship.pk]) not in (
        page.content.decode()
    )
    assert response.status_code == 302
    assert roster(open_kc) == before
    assert not cop.memberships.filter(member=staff.member).exists()
    assert MembershipEvent.objects.count() == events_before
    stewardship.refresh_from_db()
    assert stewardship.note == "Repaired by hand"  # the one field left for repairs


def test_a_membership_cannot_be_deleted_in_the_admin(client, superuser, open_kc, stewardship):
    client.force_login(superuser)
    url = reverse("admin:communities_membership_delete", args=[stewardship.pk])
    before = roster(open_kc)

    page = client.get(url)
    response = client.post(url, {"post": "yes"})

    assert (page.status_code, response.status_code) == (403, 403)
    assert roster(open_kc) == before


def test_the_memberships_list_offers_no_bulk_delete(client, superuser, open_kc, stewardship):
    client.force_login(superuser)
    url = reverse("admin:communities_membership_changelist")
    before = roster(open_kc)

    page = client.get(url)
    response = client.post(
        url, {"action": "delete_selected", "_selected_action": [stewardship.pk], "post": "yes"}
    )

    assert page.status_code == 200
    assert "delete_selected" not in page.content.decode()
    assert response.status_code in (200, 302)
    assert roster(open_kc) == before


def test_a_membership_cannot_be_added_in_the_admin(client, superuser, open_kc, staff):
    client.force_login(superuser)
    url = reverse("admin:communities_membership_add")
    before = roster(open_kc)

    page = client.get(url)
    response = client.post(
        url,
        {
            "member": staff.member.pk,
            "community": open_kc.pk,
            "role": Role.SPONSOR,
            "state": "active",
        },
    )

    assert (page.status_code, response.status_code) == (403, 403)
    assert roster(open_kc) == before
