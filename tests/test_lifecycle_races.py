"""The daily jobs for membership terms and reviews run twice at once (two workers, or a
slow run overlapping the next): each ending, reminder and escalation happens once.
PostgreSQL only, like ``test_races``."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from communities import services
from communities.models import Membership, MembershipEvent, MembershipTerm, Review, ReviewSchedule

from .factories import MemberFactory, MembershipFactory
from .test_races import kc_with_stewards, run_together

# Skipped before any database is set up on SQLite (no row locks there): a transactional
# test's teardown would empty the database for nothing.
pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="race tests need PostgreSQL (DATABASE_URL)"
    ),
    pytest.mark.django_db(transaction=True),
]


def _ending(membership, days):
    MembershipTerm.objects.create(
        membership=membership,
        ends_on=timezone.localdate() + timedelta(days=days),
        since=membership.active_since,
    )


@pytest.mark.parametrize("attempt", range(2))
def test_two_expiry_runs_at_once_end_each_membership_once_and_keep_a_steward(attempt):
    first, second = MemberFactory(), MemberFactory()
    community = kc_with_stewards(first, second)
    members = [MembershipFactory(community=community) for _ in range(5)]
    for membership in [*members, *community.memberships.filter(role="steward")]:
        _ending(membership, -1)

    outcomes = run_together([services.expire_memberships, services.expire_memberships])

    ended = sum(result.ended for _kind, result in outcomes)
    assert ended == 6  # five members and one of the two stewards
    assert community.memberships.filter(role="steward", state="active").count() == 1
    events = MembershipEvent.objects.filter(community=community, action="left")
    assert events.count() == 6
    assert len(set(events.values_list("target_id", flat=True))) == 6


@pytest.mark.parametrize("attempt", range(2))
def test_two_reminder_runs_at_once_send_each_reminder_once(attempt):
    community = kc_with_stewards(MemberFactory())
    members = [MembershipFactory(community=community) for _ in range(5)]
    for membership in members:
        _ending(membership, 10)

    def remind():
        return services.send_expiry_reminders(days=[14, 3])

    outcomes = run_together([remind, remind])

    assert sum(sent for _kind, sent in outcomes) == 5
    assert set(MembershipTerm.objects.values_list("reminded_days", flat=True)) == {14}


def test_two_review_runs_at_once_start_once_and_tell_the_sponsor_once():
    community = kc_with_stewards(MemberFactory())
    other = kc_with_stewards(MemberFactory())
    ReviewSchedule.objects.create(community=community, next_on=timezone.localdate())
    Review.objects.create(community=other, due_on=timezone.localdate() - timedelta(days=1))

    outcomes = run_together([services.run_review_jobs, services.run_review_jobs])

    results = [result for _kind, result in outcomes]
    assert sum(result.started for result in results) == 1
    assert sum(result.sponsors_told for result in results) == 1
    assert Review.objects.filter(community=community).count() == 1
    assert Membership.objects.filter(community=community, state="active").exists()
