"""Periodic reviews: starting, confirming, removing, completing, escalating."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from communities import services
from communities.models import Membership, MembershipEvent, Review, ReviewItem, ReviewSchedule

from .factories import MemberFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def _due(days=14):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def review(open_kc, directory_admin):
    return services.start_review(community=open_kc, due_on=_due(), actor=directory_admin.member)


def _review_url(community):
    return reverse("communities:review_detail", args=[community.slug])


def test_starting_a_review_tells_the_stewards(
    open_kc, steward, directory_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.start_review(community=open_kc, due_on=_due(), actor=directory_admin.member)

    assert [m.to for m in mail.outbox] == [[steward.email]]
    assert "Review the list of Claims Turnaround" in mail.outbox[0].subject


def test_only_one_open_review_per_community(open_kc, review, directory_admin):
    with pytest.raises(services.CommunityError):
        services.start_review(community=open_kc, due_on=_due(), actor=directory_admin.member)


def test_reviewing_every_kc_skips_those_already_open(open_kc, request_kc, review, directory_admin):
    assert services.start_reviews_of_every_kc(due_on=_due(), actor=directory_admin.member) == 1
    assert services.start_reviews_of_every_kc(due_on=_due(), actor=directory_admin.member) == 0


def test_confirming_everyone_completes_the_review_with_its_outcome(review, member, steward):
    step = services.confirm_members(review=review, membership_ids=None, actor=steward.member)

    review.refresh_from_db()
    assert step.completed and review.status == Review.Status.COMPLETED
    assert review.confirmed_count == 3 and review.removed_count == 0
    item = review.items.get(member=member.member)
    assert item.decided_by == steward.member and item.outcome == "confirmed"


def test_removing_in_a_review_goes_through_the_roster_with_an_event(
    open_kc, review, member, steward
):
    mo = open_kc.memberships.get(member__user=member)

    services.remove_in_review(review=review, membership=mo, actor=steward.member)

    mo.refresh_from_db()
    assert mo.state == Membership.State.REMOVED
    assert MembershipEvent.objects.filter(target=mo.member, action="removed").count() == 1
    assert review.items.get(member=mo.member).outcome == ReviewItem.Outcome.REMOVED


def test_the_last_steward_cannot_be_removed_in_a_review(open_kc, review, steward):
    stella = open_kc.memberships.get(member__user=steward)

    with pytest.raises(services.MembershipError):
        services.remove_in_review(review=review, membership=stella, actor=steward.member)

    stella.refresh_from_db()
    assert stella.state == Membership.State.ACTIVE
    assert not review.items.exists()


def test_overdue_review_tells_the_sponsor_once_then_reaches_the_dashboard(
    open_kc, review, settings, django_capture_on_commit_callbacks, client, directory_admin
):
    Review.objects.filter(pk=review.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    settings.REVIEW_ESCALATION_GRACE_DAYS = 7

    with django_capture_on_commit_callbacks(execute=True):
        first = services.run_review_jobs()
        second = services.run_review_jobs()

    assert (first.sponsors_told, second.sponsors_told) == (1, 0)
    assert len(mail.outbox) == 1 and "Overdue" in mail.outbox[0].subject
    assert first.escalated == 0
    later = timezone.localdate() + timedelta(days=8)
    Review.objects.filter(pk=review.pk).update(sponsor_told_at=timezone.now() - timedelta(days=8))
    assert services.run_review_jobs(today=later).escalated == 1
    assert services.run_review_jobs(today=later).escalated == 0
    client.force_login(directory_admin)
    page = client.get(reverse("communities:dashboard")).content.decode()
    assert "Overdue reviews" in page and _review_url(open_kc) in page


def test_scheduled_review_starts_once_and_moves_on(open_kc):
    ReviewSchedule.objects.create(community=open_kc, every_months=12, next_on=timezone.localdate())

    call_command("run_reviews")
    call_command("run_reviews")

    assert Review.objects.filter(community=open_kc).count() == 1
    schedule = ReviewSchedule.objects.get(community=open_kc)
    assert schedule.next_on > timezone.localdate() + timedelta(days=360)


# -- pages ---------------------------------------------------------------------------


def test_steward_confirms_one_then_all_remaining_through_the_page(
    client, open_kc, review, steward, member
):
    mo = open_kc.memberships.get(member__user=member)
    client.force_login(steward)
    url = reverse("communities:review_confirm", args=[open_kc.slug])

    page = client.get(_review_url(open_kc)).content.decode()
    assert "Mo Member" in page and "Confirm all remaining (3)" in page
    client.post(url, {"one": mo.pk})
    assert review.items.filter(member=mo.member, outcome="confirmed").exists()
    response = client.post(url, {"all": "on"}, follow=True)

    assert "The review is complete" in response.content.decode()
    review.refresh_from_db()
    assert review.status == "completed" and review.confirmed_count == 3
    outcome = client.get(reverse("communities:review_outcome", args=[open_kc.slug, review.pk]))
    assert "Mo Member" in outcome.content.decode() and "Stella Steward" in outcome.content.decode()


def test_remove_asks_first_then_removes(client, open_kc, review, steward, member):
    mo = open_kc.memberships.get(member__user=member)
    client.force_login(steward)
    url = reverse("communities:review_remove", args=[open_kc.slug, mo.pk])

    asked = client.get(url)
    mo.refresh_from_db()
    assert "Remove Mo Member from Claims Turnaround?" in asked.content.decode()
    assert mo.state == "active"
    client.post(url, {"note": "Moved on"})
    mo.refresh_from_db()
    assert mo.state == "removed"


def test_a_member_cannot_confirm(client, open_kc, review, member):
    client.force_login(member)

    response = client.post(
        reverse("communities:review_confirm", args=[open_kc.slug]), {"all": "on"}
    )

    assert response.status_code == 403
    assert not ReviewItem.objects.exists()


def test_admin_starts_and_schedules_from_the_review_page(client, open_kc, directory_admin):
    client.force_login(directory_admin)

    client.post(
        reverse("communities:review_start", args=[open_kc.slug]), {"due_on": _due().isoformat()}
    )
    client.post(reverse("communities:review_schedule", args=[open_kc.slug]), {"every_months": "12"})

    assert Review.objects.filter(community=open_kc, status="open").count() == 1
    assert ReviewSchedule.objects.get(community=open_kc).every_months == 12


@pytest.mark.parametrize("size", [5, 120])
def test_review_list_keeps_its_query_budget(
    client, size, steward, open_kc, review, django_assert_max_num_queries
):
    for _ in range(size):
        MembershipFactory(member=MemberFactory(), community=open_kc)
    client.force_login(steward)

    with django_assert_max_num_queries(14):
        response = client.get(_review_url(open_kc))

    assert response.context["pending_page"].paginator.count == size + 2
    assert len(response.context["pending_page"].object_list) == min(size + 2, 50)
