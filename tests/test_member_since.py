""" "Since" on rosters and "joined" in exports: the date the person became a member (the
decision, join, acceptance, addition or import that made them active), never the date
their row began (often a request made months before it was approved)."""

import csv
import datetime
import io
import re
from importlib import import_module

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from communities import insights, services
from communities.csv_io import exports, pg_copy
from communities.models import Membership, MembershipEvent

from .factories import MembershipFactory, member_named
from .pages import page_html, visible_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
LONG_AGO = timezone.make_aware(datetime.datetime(2021, 5, 14, 9, 30))
BECAME_ACTIVE = timezone.make_aware(datetime.datetime(2023, 3, 2, 16, 0))


def requested_long_ago(community, name: str, username: str) -> Membership:
    """A request made on LONG_AGO (its row and its event), still waiting."""
    person = member_named(name, username=username)
    membership = services.request_membership(community=community, member=person)
    Membership.objects.filter(pk=membership.pk).update(created_at=LONG_AGO)
    MembershipEvent.objects.filter(target=person).update(created_at=LONG_AGO)
    membership.refresh_from_db()
    return membership


def csv_rows(data: bytes) -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}


# -- the services set it ----------------------------------------------------------------


def test_approving_a_request_dates_the_membership_from_the_approval(request_kc, other_steward):
    membership = requested_long_ago(request_kc, "Rhea Requester", "rhea")
    assert membership.active_since is None
    before = timezone.now()

    services.approve_request(
        community=request_kc, membership=membership, actor=other_steward.member
    )

    membership.refresh_from_db()
    assert membership.created_at == LONG_AGO
    assert before <= membership.active_since <= timezone.now()


def test_every_way_in_sets_it_and_role_changes_and_leaving_keep_it(open_kc, invite_kc, steward):
    curator = steward.member
    joiner, added, invited = (member_named(n) for n in ("Jo Joiner", "Ada Added", "Ivy Invited"))
    started = timezone.now()

    joined = services.join_community(community=open_kc, member=joiner)
    services.add_members(community=open_kc, members=[added], actor=curator)
    services.add_members(
        community=invite_kc,
        members=[invited],
        actor=invite_kc.memberships.get(role=Role.STEWARD).member,
        invite=True,
    )
    assert Membership.objects.get(member=invited).active_since is None
    accepted = services.accept_invitation(community=invite_kc, member=invited)

    for membership in (joined, Membership.objects.get(member=added), accepted):
        membership.refresh_from_db()
        assert started <= membership.active_since <= timezone.now()

    since = joined.active_since
    services.change_role(community=open_kc, membership=joined, actor=curator, role=Role.STEWARD)
    services.leave_community(community=open_kc, member=joiner)
    joined.refresh_from_db()
    assert (joined.state, joined.active_since) == (State.LEFT, since)

    again = services.join_community(community=open_kc, member=joiner)
    assert again.active_since > since


def test_an_imported_roster_dates_new_and_returning_members_from_the_import(
    request_kc, other_steward
):
    returning = requested_long_ago(request_kc, "Rhea Requester", "rhea")
    member_named("Nina New", username="nina")
    pending = services.preview_roster_import(
        community=request_kc,
        actor=other_steward.member,
        file_name="roster.csv",
        text="username,role\nrhea,member\nnina,member\n",
        remove_absent=False,
    )
    started = timezone.now()

    services.apply_roster_import(roster_import=pending, actor=other_steward.member)

    for membership in request_kc.memberships.filter(member__user__username__in=["rhea", "nina"]):
        assert membership.state == State.ACTIVE
        assert started <= membership.active_since <= timezone.now()
    returning.refresh_from_db()
    assert returning.created_at == LONG_AGO


# -- the pages and exports show it ------------------------------------------------------


def test_roster_since_is_when_they_became_active_not_when_they_asked(client, staff, request_kc):
    person = member_named("Rhea Requester", username="rhea")
    MembershipFactory(
        community=request_kc, member=person, created_at=LONG_AGO, active_since=BECAME_ACTIVE
    )
    client.force_login(staff)

    page = page_html(client.get(request_kc.get_absolute_url()))
    row = visible_text(next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if "Rhea" in r))

    assert "Mar 2023" in row
    assert "May 2021" not in row


@pytest.mark.parametrize("use_copy", [False, True], ids=["python", "copy"])
def test_exports_joined_is_when_they_became_active(client, open_kc, use_copy):
    if use_copy and not pg_copy.available():
        pytest.skip("COPY exports need PostgreSQL (psycopg2)")
    MembershipFactory(
        community=open_kc,
        member=member_named("Rhea Requester"),
        created_at=LONG_AGO,
        active_since=BECAME_ACTIVE,
    )
    MembershipFactory(
        community=open_kc,
        member=member_named("Walt Waiting"),
        state=State.REQUESTED,
        created_at=LONG_AGO,
    )

    roster = csv_rows(
        b"".join(exports.export_roster(open_kc, states=State.values, use_copy=use_copy))
    )
    everything = csv_rows(b"".join(exports.export_memberships(use_copy=use_copy)))

    for rows in (roster, everything):
        assert rows["Rhea Requester"]["joined"] == "2023-03-02"
        assert rows["Walt Waiting"]["joined"] == ""


def test_roster_export_page_says_when_an_approved_requester_joined(
    client, request_kc, other_steward
):
    membership = requested_long_ago(request_kc, "Rhea Requester", "rhea")
    services.approve_request(
        community=request_kc, membership=membership, actor=other_steward.member
    )
    client.force_login(other_steward)

    response = client.get(reverse("communities:roster_export", args=[request_kc.slug]))

    rows = csv_rows(b"".join(response.streaming_content))
    assert rows["Rhea Requester"]["joined"] == timezone.now().date().isoformat()


def test_membership_growth_counts_the_month_people_became_active(request_kc, other_steward):
    membership = requested_long_ago(request_kc, "Rhea Requester", "rhea")
    before = insights.membership_growth().rows[-1][1]

    services.approve_request(
        community=request_kc, membership=membership, actor=other_steward.member
    )

    assert insights.membership_growth().rows[-1][1] == before + 1


# -- existing rows are filled from their history ----------------------------------------


def test_the_migration_fills_it_from_the_event_that_made_each_membership_active(
    request_kc, other_steward
):
    approved = requested_long_ago(request_kc, "Rhea Requester", "rhea")
    services.approve_request(community=request_kc, membership=approved, actor=other_steward.member)
    approval = MembershipEvent.objects.get(target=approved.member, action="approved")
    MembershipEvent.objects.filter(pk=approval.pk).update(created_at=BECAME_ACTIVE)
    waiting = requested_long_ago(request_kc, "Walt Waiting", "walt")
    no_history = MembershipFactory(community=request_kc, created_at=LONG_AGO)
    Membership.objects.update(active_since=None)

    import_module("communities.migrations.0013_membership_active_since").fill(apps, None)

    values = dict(
        Membership.objects.filter(pk__in=[approved.pk, waiting.pk, no_history.pk]).values_list(
            "pk", "active_since"
        )
    )
    assert values == {approved.pk: BECAME_ACTIVE, waiting.pk: None, no_history.pk: LONG_AGO}
