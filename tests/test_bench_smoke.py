"""The enterprise data generator and ``manage.py bench``, at a tiny scale.

A smoke run: the benchmark's whole report is produced (timings are not asserted;
they mean nothing here). ``--enterprise-factor 0.001`` shrinks the enterprise data
to a few hundred people and thirty communities with the same shape.
"""

import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Exists, F, OuterRef, Q

from communities import overlaps
from communities.models import (
    Community,
    DirectoryVersion,
    Membership,
    MembershipEvent,
    Purpose,
)
from devtools.bench.varied import KINDS
from devtools.enterprise import BENCH_COMMUNITY_SLUG
from members.models import Department, Member

from .conftest import directory_admins_group

pytestmark = pytest.mark.django_db

TINY = 0.001


def seed_tiny() -> str:
    out = StringIO()
    call_command("seed_demo", scale="enterprise", enterprise_factor=TINY, force=True, stdout=out)
    return out.getvalue()


def test_enterprise_seed_loads_every_kind_state_and_a_big_open_kc():
    version = DirectoryVersion.objects.get(pk=1).number
    output = seed_tiny()

    # The bulk load raises the directory version too: cached pages are redrawn.
    assert DirectoryVersion.objects.get(pk=1).number > version

    assert "communities_membership:" in output and "Enterprise data ready" in output
    assert Department.objects.count() == 5
    assert Member.objects.count() == get_user_model().objects.count() == 300
    assert Purpose.objects.count() == 20
    assert Community.objects.count() == 30
    assert set(Community.objects.values_list("kind", flat=True)) == set(Community.Kind.values)
    assert set(Community.objects.values_list("status", flat=True)) == set(Community.Status.values)
    assert set(Membership.objects.values_list("state", flat=True)) == set(Membership.State.values)
    # The loader writes each membership's sort name itself (its trigger is off for COPY).
    assert not Membership.objects.exclude(sort_name=F("member__display_name")).exists()
    big = Community.objects.get(slug=BENCH_COMMUNITY_SLUG)
    assert big.is_kc and big.join_policy == Community.JoinPolicy.OPEN
    assert big.memberships.active().count() == 40
    # Loaded without the services, the shared people are counted once at the end.
    assert overlaps.stored() == overlaps.counted() != {}


def test_enterprise_seed_keeps_the_rules_and_writes_one_event_per_membership():
    seed_tiny()

    active = Q(memberships__state="active")
    active_kcs = Community.objects.filter(kind="kc", status="active").annotate(
        n_sponsors=Count(
            "memberships", filter=active & Q(memberships__role="sponsor"), distinct=True
        ),
        n_stewards=Count(
            "memberships", filter=active & Q(memberships__role="steward"), distinct=True
        ),
        n_futures=Count("purposes", filter=Q(purposes__orientation="shape_future"), distinct=True),
    )
    assert active_kcs.exists()
    assert not active_kcs.exclude(n_sponsors=1)
    assert not active_kcs.filter(n_stewards=0)
    assert not active_kcs.filter(n_futures=0)
    assert MembershipEvent.objects.count() == Membership.objects.count()
    explained = MembershipEvent.objects.filter(
        community=OuterRef("community"), target=OuterRef("member"), state_after=OuterRef("state")
    )
    assert not Membership.objects.exclude(Exists(explained)).exists()


def test_enterprise_seed_runs_once_and_respects_debug_off(settings):
    seed_tiny()
    counts = (Member.objects.count(), Membership.objects.count())

    assert "already loaded" in seed_tiny()
    assert (Member.objects.count(), Membership.objects.count()) == counts
    settings.DEBUG = False
    with pytest.raises(Exception, match="DEBUG off"):
        call_command("seed_demo", scale="enterprise", enterprise_factor=TINY, stdout=StringIO())


def test_bench_smoke_run_prints_every_row_of_the_report():
    seed_tiny()
    out = StringIO()

    call_command(
        "bench", requests=2, quick=True, skip_throughput=True, varied_requests=3, stdout=out
    )

    report = out.getvalue()
    for row in [
        "directory: first page",
        "directory: deep page",
        "directory: search “claims”",
        "directory: search + filters",
        "roster): first page",
        "roster): page",
        "manage membership (steward)",
        "people search “okafor”",
        "profile (busiest person)",
        "history: person (admin)",
        "history: community (steward)",
        "join (POST, open KC)",
        "leave (POST, open KC)",
        "roster CSV export",
        "directory CSV export",
        "communities “claims”",
        "members “okafor”",
        "memberships “okafor” in the big community",
        "Throughput: skipped",
        "roster import: preview + apply",
        "membership export",
        "5. Varied requests (first visitor)",
        "every cache was cleared",
        "no URL repeats",
        *(f"\n{kind} " for kind in KINDS),
        "slowest of each kind:",
        "Under gunicorn: skipped.",
        "targets met: ",
    ]:
        assert row in report, row
    # Each kind's row has its requests (at most 3 here) and a target.
    varied = report.partition("5. Varied requests")[2]
    rows = [line for line in varied.splitlines() if line.startswith(KINDS)]
    assert len(rows) == len(KINDS)
    assert all(" met" in row or "NOT MET" in row for row in rows)


@pytest.mark.django_db(transaction=True)
def test_bench_joins_and_leaves_beside_the_throughput_run_and_leaves_no_membership():
    """The writer thread behind "directory, N joins/leaves a second" (it commits)."""
    from devtools.bench.people import prepare_people
    from devtools.bench.throughput import joining_and_leaving

    directory_admins_group()  # migration data an earlier flush may have removed
    seed_tiny()
    people = prepare_people()
    with joining_and_leaving(people, 100) as writes:
        time.sleep(0.3)

    assert writes.count >= 2 and writes.per_second > 0
    joined = MembershipEvent.objects.filter(
        community=people.community, target__user=people.staff
    ).count()
    assert joined >= 2
    assert not people.community.memberships.filter(
        member__user=people.staff, state="active"
    ).exists()
