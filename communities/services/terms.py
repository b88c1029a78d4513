"""Membership terms: end dates set by stewards or from a community's default term,
reminders before they pass, and ending the memberships whose date has passed.

``expire_memberships`` and ``send_expiry_reminders`` run daily (``manage.py
expire_memberships``); both are safe to run again, or twice at once: an ending is checked
again under the community's and the membership's row locks, and a reminder is claimed
by a conditional update before it is sent, so each is sent once.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from members.models import Member

from .. import access, notifications
from ..models import Community, CommunityTerm, Membership, MembershipTerm
from ._common import (
    Action,
    MembershipError,
    State,
    _lock,
    _locked_membership,
    _record,
    _transition,
)

EXPIRY_ACTOR_NAME = "Membership term"


@transaction.atomic
def set_membership_term(
    *, community: Community, membership: Membership, ends_on: date | None, actor: Member
) -> Membership:
    """Give an active membership an end date (``None``: no end), with one history event.
    A new date starts its reminders again. Refused for a date not after today."""
    community = _lock(community)
    membership = _locked_membership(community, membership)
    if membership.state != State.ACTIVE:
        raise MembershipError(_("Only active memberships have an end date."))
    if ends_on is not None and ends_on <= timezone.localdate():
        raise MembershipError(_("Choose an end date after today."))
    current = MembershipTerm.objects.filter(
        membership=membership, since=membership.active_since
    ).first()
    if (current.ends_on if current else None) == ends_on:
        return membership
    if ends_on is None:
        current.delete()
        note = _("No end date")
    else:
        MembershipTerm.objects.update_or_create(
            membership=membership,
            defaults={
                "ends_on": ends_on,
                "since": membership.active_since,
                "reminded_days": None,
                "set_by": actor,
            },
        )
        note = _("Until %(date)s") % {"date": date_format(ends_on)}
    _record(
        membership,
        actor=actor,
        action=Action.TERM_SET,
        state_before=membership.state,
        role_before=membership.role,
        note=note,
    )
    return membership


@transaction.atomic
def set_default_term(*, community: Community, months: int | None) -> None:
    """The community's default term for new active members (``None`` or 0: none).
    Memberships already active keep their end dates."""
    community = _lock(community)
    if months:
        CommunityTerm.objects.update_or_create(community=community, defaults={"months": months})
    else:
        CommunityTerm.objects.filter(community=community).delete()


@dataclass(frozen=True)
class Held:
    """A membership whose end date passed but that was not ended, and why."""

    community: str
    member: str
    ends_on: date
    reason: str


@dataclass
class ExpiryResult:
    ended: int = 0
    held: list[Held] = field(default_factory=list)


def expire_memberships(
    *, today: date | None = None, progress: Callable[[int, int], None] | None = None
) -> ExpiryResult:
    """End every active membership whose end date is before ``today``: it moves to
    "left" with one event, "Membership ended on <date>". The last steward and the
    sponsor of an active knowledge community are never ended; they are returned as
    ``held`` (with why) for someone to act on. One transaction per community, which is
    locked first as every roster service locks it. ``progress(done, total)`` after each."""
    today = today or timezone.localdate()
    community_ids = sorted(
        set(
            Membership.objects.filter(
                state=State.ACTIVE, term__ends_on__lt=today, term__since=F("active_since")
            ).values_list("community_id", flat=True)
        )
    )
    result = ExpiryResult()
    for done, community_id in enumerate(community_ids, start=1):
        with transaction.atomic():
            _expire_in(community_id, today, result)
        if progress is not None:
            progress(done, len(community_ids))
    return result


def _expire_in(community_id: int, today: date, result: ExpiryResult) -> None:
    community = Community.objects.select_for_update().get(pk=community_id)
    due = (
        Membership.objects.select_for_update(of=("self",))
        .filter(
            community=community,
            state=State.ACTIVE,
            term__ends_on__lt=today,
            term__since=F("active_since"),
        )
        .select_related("member", "term")
        .order_by("term__ends_on", "pk")
    )
    for membership in due:
        ends_on = membership.term.ends_on
        reason = ""
        if access.is_last_steward(community, membership):
            reason = _("last steward")
        elif access.is_needed_sponsor(community, membership):
            reason = _("sponsor")
        if reason:
            result.held.append(
                Held(community.name, membership.member.display_name, ends_on, reason)
            )
            continue
        _transition(
            membership,
            actor=None,
            action=Action.LEFT,
            state=State.LEFT,
            note=_("Membership ended on %(date)s") % {"date": date_format(ends_on)},
        )
        result.ended += 1


def send_expiry_reminders(*, days: Sequence[int], today: date | None = None) -> int:
    """Remind each active member whose end date is at most ``days`` ahead (e.g. 14 and
    3): one email per threshold reached, each sent once (claimed by a conditional update
    of ``reminded_days``, so two runs at once send it once). Someone first seen 2 days
    before gets only the nearest reminder. Returns how many were sent."""
    today = today or timezone.localdate()
    sent = 0
    for threshold in sorted(set(days), reverse=True):
        nearer = [d for d in days if d < threshold]
        # The membership is within this threshold but not yet within a nearer one.
        window = {"ends_on__gte": today, "ends_on__lte": today + timedelta(days=threshold)}
        if nearer:
            window["ends_on__gt"] = today + timedelta(days=max(nearer))
        terms = (
            MembershipTerm.objects.filter(
                membership__state=State.ACTIVE, since=F("membership__active_since"), **window
            )
            .exclude(reminded_days__lte=threshold)
            .select_related("membership__member__user", "membership__community")
        )
        for term in terms:
            with transaction.atomic():
                claimed = (
                    MembershipTerm.objects.filter(pk=term.pk, ends_on=term.ends_on)
                    .exclude(reminded_days__lte=threshold)
                    .update(reminded_days=threshold)
                )
                if claimed:
                    notifications.membership_ending(term.membership, ends_on=term.ends_on)
                    sent += 1
    return sent
