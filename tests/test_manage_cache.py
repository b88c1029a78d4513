"""The manage page's lists, kept under the directory version (communities/selectors.py).

These tests commit (``transactional_db``): the version is bumped at commit, and nothing
is cached inside a transaction, which is where ordinary tests run.
"""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from communities.models import Community, Membership
from members.models import Member

from .factories import MembershipFactory, led_kc, member_named
from .pages import unmasked

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kc():
    kc = led_kc(
        sponsor=member_named("Spencer Sponsor"),
        steward=member_named("Stella Steward", username="steward"),
        name="Claims Turnaround",
        slug="claims-turnaround",
        join_policy=Community.JoinPolicy.REQUEST,
    )
    MembershipFactory(member=member_named("Mo Member", username="mo"), community=kc)
    MembershipFactory(
        member=member_named("Rhea Requester", username="rhea"),
        community=kc,
        state=Membership.State.REQUESTED,
    )
    return kc


def manage(kc) -> str:
    return reverse("communities:community_manage", args=[kc.slug])


def membership_queries(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "communities_membership" in q["sql"]]


def test_the_lists_are_read_once_and_show_every_change(kc, client):
    client.force_login(Member.objects.get(display_name="Stella Steward").user)
    first = client.get(manage(kc)).content.decode()
    assert "Rhea Requester" in first and "Mo Member" in first

    with CaptureQueriesContext(connection) as queries:
        again = client.get(manage(kc)).content.decode()

    assert unmasked(again) == unmasked(first)
    # Only the steward check reads memberships; the lists and their counts are cached.
    assert len(membership_queries(queries)) == 1

    rhea = kc.memberships.get(member__display_name="Rhea Requester")
    decide = reverse("communities:requests_decide", args=[kc.slug])
    client.post(decide, {"one": f"approve:{rhea.pk}"})
    page = client.get(manage(kc))
    assert [e.member.display_name for e in page.context["waiting_page"]] == []
    assert "Rhea Requester" in [e.member.display_name for e in page.context["roster_page"]]

    Member.objects.filter(display_name="Mo Member").update(display_name="Mo Renamed")
    assert "Mo Renamed" in client.get(manage(kc)).content.decode()


def test_each_query_string_is_its_own_entry(kc, client):
    client.force_login(Member.objects.get(display_name="Stella Steward").user)

    mo = client.get(manage(kc), {"q": "mo"})
    stella = client.get(manage(kc), {"q": "stella"})

    assert [e.member.display_name for e in mo.context["roster_page"]] == ["Mo Member"]
    assert [e.member.display_name for e in stella.context["roster_page"]] == ["Stella Steward"]


def test_forms_on_a_cached_page_carry_the_viewers_own_token(kc, directory_admin):
    steward = Client(enforce_csrf_checks=True)
    steward.force_login(Member.objects.get(display_name="Stella Steward").user)
    steward.get(manage(kc))  # draws and keeps the lists
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(directory_admin)
    page = admin.get(manage(kc)).content.decode()
    mo = kc.memberships.get(member__display_name="Mo Member")
    form = re.search(
        rf'<form method="post" action="([^"]*/{mo.pk}/role/)"[^>]*>'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]*)">',
        page,
    )

    response = admin.post(form.group(1), {"role": "steward", "csrfmiddlewaretoken": form.group(2)})

    assert response.status_code == 302
    mo.refresh_from_db()
    assert mo.role == Membership.Role.STEWARD
