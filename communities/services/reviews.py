"""Periodic reviews of a community's list: a directory admin starts one (for one
community, or every active knowledge community) or schedules one every so many months;
its stewards confirm or remove each active member by the due date; an overdue review is
told to the sponsor, and after a grace period listed on the dashboard.

Removing someone in a review is the roster's own ``remove_member`` (one event; the
last-steward and sponsor rules hold). ``run_review_jobs`` (``manage.py run_reviews``)
is safe to run again or twice at once: each step is claimed by a conditional update.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from .. import notifications
from ..models import Community, Membership, Review, ReviewItem, ReviewSchedule
from ._common import CommunityError, MembershipError, _lock
from .membership import remove_member

# Days a scheduled review gives its stewards.
SCHEDULED_REVIEW_DAYS = 30


def pending_members(review: Review):
    """Active members of the review's community not yet confirmed or removed in it."""
    return review.pending_memberships()


def _check_due(due_on: date) -> None:
    if due_on <= timezone.localdate():
        raise CommunityError(_("Choose a due date after today."))


def _start(community: Community, *, due_on: date, actor: Member | None) -> Review | None:
    """Start a review of ``community`` unless one is open (then ``None``)."""
    if Review.objects.filter(community=community, status=Review.Status.OPEN).exists():
        return None
    try:
        with transaction.atomic():
            review = Review.objects.create(community=community, due_on=due_on, started_by=actor)
    except IntegrityError:  # another start committed first
        return None
    notifications.review_started(review)
    return review


@transaction.atomic
def start_review(*, community: Community, due_on: date, actor: Member | None) -> Review:
    """Start a review of one community's list, due on ``due_on``; its stewards are told.
    Refused when one is open already, or the community is not active."""
    _check_due(due_on)
    community = _lock(community)
    if community.status != Community.Status.ACTIVE:
        raise CommunityError(_("Only active communities are reviewed."))
    review = _start(community, due_on=due_on, actor=actor)
    if review is None:
        raise CommunityError(
            _("A review of %(community)s is open already.") % {"community": community.name}
        )
    return review


@transaction.atomic
def start_reviews_of_every_kc(*, due_on: date, actor: Member | None) -> int:
    """Start a review of every active knowledge community without an open one; returns
    how many were started. Their stewards' emails go out together after commit."""
    _check_due(due_on)
    started = 0
    communities = Community.objects.filter(
        kind=Community.Kind.KC, status=Community.Status.ACTIVE
    ).exclude(Exists(Review.objects.filter(community=OuterRef("pk"), status=Review.Status.OPEN)))
    with notifications.batch():
        for community in communities.order_by("pk"):
            if _start(community, due_on=due_on, actor=actor) is not None:
                started += 1
    return started


@transaction.atomic
def set_review_schedule(
    *, community: Community, every_months: int | None, next_on: date | None = None
) -> ReviewSchedule | None:
    """Review ``community`` every ``every_months`` months from ``next_on`` (default:
    that many months from today); ``None`` or 0 stops scheduling."""
    if not every_months:
        ReviewSchedule.objects.filter(community=community).delete()
        return None
    next_on = next_on or timezone.localdate() + relativedelta(months=every_months)
    schedule, _created = ReviewSchedule.objects.update_or_create(
        community=community, defaults={"every_months": every_months, "next_on": next_on}
    )
    return schedule


def _locked_open(review: Review) -> Review:
    locked = Review.objects.select_for_update().filter(pk=review.pk).first()
    if locked is None or locked.status != Review.Status.OPEN:
        raise MembershipError(_("This review is closed; nothing more to decide."))
    return locked


def _record(review: Review, memberships: Iterable[Membership], outcome: str, actor) -> int:
    now = timezone.now()
    items = [
        ReviewItem(
            review=review,
            member_id=membership.member_id,
            member_name=membership.member.display_name,
            outcome=outcome,
            decided_by=actor,
            decided_by_name=actor.display_name if actor else "",
            decided_at=now,
        )
        for membership in memberships
    ]
    ReviewItem.objects.bulk_create(items, batch_size=500)
    return len(items)


def _complete_if_done(review: Review) -> bool:
    if pending_members(review).exists():
        return False
    counts = dict(
        review.items.order_by()
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .values_list("outcome", "n")
    )
    review.status = Review.Status.COMPLETED
    review.completed_at = timezone.now()
    review.confirmed_count = counts.get(ReviewItem.Outcome.CONFIRMED, 0)
    review.removed_count = counts.get(ReviewItem.Outcome.REMOVED, 0)
    review.save(update_fields=["status", "completed_at", "confirmed_count", "removed_count"])
    return True


@dataclass(frozen=True)
class ReviewStep:
    decided: int
    completed: bool


@transaction.atomic
def confirm_members(
    *, review: Review, membership_ids: Iterable[int] | None, actor: Member
) -> ReviewStep:
    """Confirm these active members (``None``: every one still undecided) in an open
    review; those decided already are left as they are. Completes the review when
    nobody is left."""
    review = _locked_open(review)
    pending = pending_members(review).select_related("member").order_by("pk")
    if membership_ids is not None:
        pending = pending.filter(pk__in=list(membership_ids))
    decided = _record(review, pending, ReviewItem.Outcome.CONFIRMED, actor)
    return ReviewStep(decided=decided, completed=_complete_if_done(review))


@transaction.atomic
def remove_in_review(
    *, review: Review, membership: Membership, actor: Member, reason: str = ""
) -> ReviewStep:
    """Take someone off the list in a review: the roster's ``remove_member`` (its rules
    and event), recorded as the review's outcome for them."""
    review = _locked_open(review)
    if not pending_members(review).filter(pk=membership.pk).exists():
        raise MembershipError(
            _("%(name)s is not among the people left to decide in this review.")
            % {"name": membership.member.display_name}
        )
    community = Community.objects.get(pk=review.community_id)
    removed = remove_member(
        community=community,
        membership=membership,
        actor=actor,
        reason=reason or _("Removed in the review of the list"),
    )
    _record(review, [removed], ReviewItem.Outcome.REMOVED, actor)
    return ReviewStep(decided=1, completed=_complete_if_done(review))


@dataclass
class ReviewJobsResult:
    started: int = 0
    sponsors_told: int = 0
    escalated: int = 0


def run_review_jobs(*, today: date | None = None) -> ReviewJobsResult:
    """What runs daily: start the scheduled reviews that are due, tell the sponsor of
    each review past its due date (once), and list on the dashboard the reviews still
    open ``REVIEW_ESCALATION_GRACE_DAYS`` after that. Each step is claimed by a
    conditional update, so running it twice at once does each once."""
    today = today or timezone.localdate()
    now = timezone.now()
    result = ReviewJobsResult()
    for schedule in ReviewSchedule.objects.filter(next_on__lte=today).select_related("community"):
        with transaction.atomic():
            claimed = ReviewSchedule.objects.filter(
                pk=schedule.pk, next_on=schedule.next_on
            ).update(next_on=schedule.next_on + relativedelta(months=schedule.every_months))
            if not claimed or schedule.community.status != Community.Status.ACTIVE:
                continue
            due_on = today + timedelta(days=SCHEDULED_REVIEW_DAYS)
            if _start(schedule.community, due_on=due_on, actor=None) is not None:
                result.started += 1
    overdue = Review.objects.filter(
        status=Review.Status.OPEN, due_on__lt=today, community__status=Community.Status.ACTIVE
    )
    for review in overdue.filter(sponsor_told_at=None).select_related("community"):
        with transaction.atomic():
            if Review.objects.filter(pk=review.pk, sponsor_told_at=None).update(
                sponsor_told_at=now
            ):
                notifications.review_overdue(review)
                result.sponsors_told += 1
    grace = timedelta(days=settings.REVIEW_ESCALATION_GRACE_DAYS)
    result.escalated = overdue.filter(escalated_at=None, sponsor_told_at__lte=now - grace).update(
        escalated_at=now
    )
    return result
