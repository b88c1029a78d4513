"""What a directory admin needs to look at, in a fixed number of queries."""

from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch
from django.db.models.functions import Coalesce
from django.utils import timezone

from background.models import OutboxMessage
from background.outbox import failed_messages

from .models import Community, Membership, MembershipEvent, Purpose, Review

LIST_LIMIT = 50
QUIET_DAYS = 90
STALE_INVITATION_DAYS = 30


def _stewards_prefetch(path: str) -> Prefetch:
    stewards = (
        Membership.objects.filter(state=Membership.State.ACTIVE, role=Membership.Role.STEWARD)
        .select_related("member")
        .order_by("member__display_name")
    )
    return Prefetch(path, queryset=stewards, to_attr="steward_memberships")


def _incomplete_kcs():
    """Active KCs missing a sponsor, a steward or a future-shaping purpose."""

    def has(**kwargs):
        return Exists(
            Membership.objects.filter(
                community=OuterRef("pk"), state=Membership.State.ACTIVE, **kwargs
            )
        )

    future_purpose = Exists(
        Purpose.communities.through.objects.filter(
            community=OuterRef("pk"), purpose__orientation=Purpose.Orientation.SHAPE_FUTURE
        )
    )
    return (
        Community.objects.filter(kind=Community.Kind.KC, status=Community.Status.ACTIVE)
        .annotate(
            has_sponsor=has(role=Membership.Role.SPONSOR),
            has_steward=has(role=Membership.Role.STEWARD),
            has_future_purpose=future_purpose,
        )
        .exclude(has_sponsor=True, has_steward=True, has_future_purpose=True)
        .order_by("name")
    )


def expired_but_kept():
    """Active memberships whose end date passed but that ``expire_memberships`` keeps
    (the last steward or the sponsor of an active knowledge community), oldest first."""
    return (
        Membership.objects.filter(
            state=Membership.State.ACTIVE, term__ends_on__lt=timezone.localdate()
        )
        .select_related("member", "community", "term")
        .order_by("term__ends_on", "pk")
    )


def dashboard_context() -> dict:
    now = timezone.now()
    waiting = (
        Membership.objects.filter(state=Membership.State.REQUESTED)
        .exclude(community__status__in=[Community.Status.ARCHIVED, Community.Status.PROPOSED])
        .select_related("member", "community")
        .prefetch_related(_stewards_prefetch("community__memberships"))
        .order_by("updated_at", "pk")
    )
    quiet_since = now - timedelta(days=QUIET_DAYS)
    quiet = (
        Community.objects.listed()
        .exclude(status=Community.Status.ARCHIVED)
        .filter(created_at__lt=quiet_since)
        .exclude(
            Exists(
                MembershipEvent.objects.filter(
                    community=OuterRef("pk"), created_at__gte=quiet_since
                )
            )
        )
        .order_by("name")
    )
    # Counted from when each invitation was sent or sent again (``invitation_sent_at``).
    stale_invitations = (
        Membership.objects.filter(state=Membership.State.INVITED)
        .alias(sent_at=Coalesce("decided_at", "updated_at"))
        .filter(sent_at__lt=now - timedelta(days=STALE_INVITATION_DAYS))
        .exclude(community__status=Community.Status.ARCHIVED)
        .select_related("member", "community")
        .order_by("sent_at", "pk")
    )
    incomplete = _incomplete_kcs()
    proposals = (
        Community.objects.filter(status=Community.Status.PROPOSED, declined_at=None)
        .select_related("proposed_by", "suggested_sponsor", "formed_from")
        .order_by("created_at", "pk")
    )
    kept = expired_but_kept()
    # Overdue reviews the sponsor was told of and that stayed open past the grace
    # period (``run_reviews`` marks them escalated).
    escalated = (
        Review.objects.filter(status=Review.Status.OPEN)
        .exclude(escalated_at=None)
        .select_related("community")
        .order_by("due_on", "pk")
    )
    return {
        "escalated_reviews": escalated[:LIST_LIMIT],
        "escalated_reviews_count": escalated.count(),
        "open_reviews_count": Review.objects.filter(status=Review.Status.OPEN).count(),
        "expired_kept": kept[:LIST_LIMIT],
        "expired_kept_count": kept.count(),
        "proposals": proposals[:LIST_LIMIT],
        "proposals_count": proposals.count(),
        "waiting": waiting[:LIST_LIMIT],
        "waiting_count": waiting.count(),
        "incomplete": incomplete[:LIST_LIMIT],
        "incomplete_count": incomplete.count(),
        "quiet": quiet[:LIST_LIMIT],
        "quiet_count": quiet.count(),
        "quiet_days": QUIET_DAYS,
        "stale_invitations": stale_invitations[:LIST_LIMIT],
        "stale_invitations_count": stale_invitations.count(),
        "stale_days": STALE_INVITATION_DAYS,
        "failed_emails": failed_messages(limit=LIST_LIMIT),
        "failed_emails_count": OutboxMessage.objects.filter(
            state=OutboxMessage.State.FAILED
        ).count(),
        "by_kind": _counts("kind", Community.Kind),
        "by_status": _counts("status", Community.Status),
        "by_stage": _counts("stage", Community.Stage),
        "limit": LIST_LIMIT,
    }


def _counts(field: str, choices) -> list[tuple[str, int]]:
    counted = dict(
        Community.objects.order_by()
        .values_list(field)
        .annotate(n=Count("pk"))
        .values_list(field, "n")
    )
    return [(label, counted.get(value, 0)) for value, label in choices.choices]
