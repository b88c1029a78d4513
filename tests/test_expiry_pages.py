"""Membership terms on the pages: stewards set end dates, everyone sees "Until"."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from communities.models import CommunityTerm, MembershipEvent, MembershipTerm

pytestmark = pytest.mark.django_db


@pytest.fixture
def mo(member, open_kc):
    return open_kc.memberships.get(member__user=member)


def _term_url(community, membership):
    return reverse("communities:membership_term", args=[community.slug, membership.pk])


def test_steward_sets_an_end_date_from_the_manage_row(client, steward, open_kc, mo):
    ends_on = timezone.localdate() + timedelta(days=90)
    client.force_login(steward)

    response = client.post(_term_url(open_kc, mo), {"ends_on": ends_on.isoformat()}, follow=True)

    assert MembershipTerm.objects.get(membership=mo).ends_on == ends_on
    assert MembershipEvent.objects.filter(action="term_set", target=mo.member).count() == 1
    until = f"Until {date_format(ends_on)}"
    assert until in response.content.decode()  # the manage page, at the row
    assert f'value="{ends_on.isoformat()}"' in response.content.decode()


def test_a_past_end_date_is_refused_with_a_message(client, steward, open_kc, mo):
    client.force_login(steward)

    response = client.post(
        _term_url(open_kc, mo), {"ends_on": timezone.localdate().isoformat()}, follow=True
    )

    assert "Choose an end date after today." in response.content.decode()
    assert not MembershipTerm.objects.exists()


def test_a_member_cannot_set_their_own_end_date(client, member, open_kc, mo):
    client.force_login(member)

    response = client.post(_term_url(open_kc, mo), {"ends_on": "2099-01-01"})

    assert response.status_code in (403, 404)
    assert not MembershipTerm.objects.exists()


def test_member_sees_their_end_date_on_my_communities_and_the_roster(client, member, open_kc, mo):
    ends_on = timezone.localdate() + timedelta(days=30)
    MembershipTerm.objects.create(membership=mo, ends_on=ends_on, since=mo.active_since)
    client.force_login(member)

    mine = client.get(reverse("members:my_communities")).content.decode()
    roster = client.get(open_kc.get_absolute_url()).content.decode()

    assert f"Until {date_format(ends_on)}" in mine
    assert f"Until {date_format(ends_on)}" in roster


def test_editor_sets_the_default_term(client, steward, open_kc):
    client.force_login(steward)
    url = reverse("communities:community_term", args=[open_kc.slug])

    client.post(url, {"months": "12"})
    page = client.get(reverse("communities:community_edit", args=[open_kc.slug]))

    assert CommunityTerm.objects.get(community=open_kc).months == 12
    assert 'value="12"' in page.content.decode()
    client.post(url, {"months": ""})
    assert not CommunityTerm.objects.exists()


def test_dashboard_lists_leaders_kept_past_their_end_date(client, directory_admin, open_kc):
    steward = open_kc.memberships.get(role="steward")
    MembershipTerm.objects.create(
        membership=steward,
        ends_on=timezone.localdate() - timedelta(days=2),
        since=steward.active_since,
    )
    client.force_login(directory_admin)

    page = client.get(reverse("communities:dashboard")).content.decode()

    assert "End dates passed, membership kept" in page
    assert f"#membership-{steward.pk}" in page
