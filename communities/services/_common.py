"""What every service shares: the refusals, the row locks, the one way a membership
changes state (``_transition``: save it, keep the stored overlaps, and record its one
history event), and the one
way a row with a slug is created (``_create_with_slug``)."""

import secrets

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from members.models import Member

from .. import access, overlaps
from ..models import Community, CommunityTerm, Membership, MembershipEvent, MembershipTerm
from ._counts import _active_count_changed

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action


class ServiceError(Exception):
    """A refused change; the message says why and what to do instead. Nothing changed."""


class MembershipError(ServiceError):
    """A roster change refused by a membership rule (who may join, leave or lead)."""


class CommunityError(ServiceError):
    """A change to a community refused by a community rule (stage, merge, proposal,
    formalisation, what an active knowledge community needs)."""


# -- locks -----------------------------------------------------------------------------


def _lock(community: Community) -> Community:
    """Re-read the community with its row locked for the rest of the transaction, with
    its default membership term (whoever becomes active here gets it) and its membership
    rule (if any; joining and leaving consult it)."""
    return (
        Community.objects.select_for_update(of=("self",))
        .select_related("default_term", "membership_rule")
        .get(pk=community.pk)
    )


def _membership_for_update(community: Community, member: Member) -> Membership | None:
    return (
        Membership.objects.select_for_update()
        .filter(community=community, member=member)
        .select_related("member")
        .first()
    )


def _locked_membership(community: Community, membership: Membership) -> Membership:
    locked = (
        Membership.objects.select_for_update()
        .select_related("member__user")
        .filter(pk=membership.pk, community=community)
        .first()
    )
    if locked is None:
        raise MembershipError(_("That person is not on this community's list."))
    locked.community = community  # the locked row, with its default term
    return locked


def _new_or_existing(community: Community, member: Member) -> Membership:
    membership = _membership_for_update(community, member)
    if membership is None:
        membership = Membership(community=community, member=member, state="", role=Role.MEMBER)
    else:
        membership.community = community  # the locked row, with its default term
    return membership


# -- writing a change and its history --------------------------------------------------


def _record(
    membership: Membership,
    *,
    actor: Member | None,
    action: str,
    state_before: str = "",
    role_before: str = "",
    note: str = "",
    actor_name: str = "",
) -> MembershipEvent:
    return MembershipEvent.objects.create(
        community_id=membership.community_id,
        actor=actor,
        actor_name=actor.display_name if actor else actor_name,
        target=membership.member,
        target_name=membership.member.display_name,
        action=action,
        state_before=state_before,
        state_after=membership.state,
        role_before=role_before,
        role_after=membership.role,
        note=note,
    )


def _transition(
    membership: Membership,
    *,
    actor: Member | None,
    action: str,
    state: str,
    role: str | None = None,
    note: str = "",
    decided: bool = False,
    active_since=None,
    counted: bool = True,
    actor_name: str = "",
) -> Membership:
    """Move ``membership`` to ``state`` (and ``role``), save it, keep the stored
    overlaps when it becomes or stops being active, and record one event.

    Becoming active sets ``active_since`` to now (or to ``active_since``, for someone
    whose membership carries over from elsewhere, as a merge's people do). A change
    made by no person (an identity provider's) names its ``actor_name``. The
    community's stored member count follows, unless the caller recounts it once for
    many (``counted=False``: ``_recount_members``)."""
    state_before, role_before = membership.state, membership.role
    if membership.pk is None:
        state_before = role_before = ""
    now = timezone.now()
    if state == State.ACTIVE and state_before != State.ACTIVE:
        membership.active_since = active_since or now
    membership.state = state
    if role is not None:
        membership.role = role
    if decided:
        membership.decided_by = actor
        membership.decided_at = now
    if note or action in (Action.REQUESTED, Action.DENIED, Action.REMOVED):
        membership.note = note
    membership.save()
    if (state_before == State.ACTIVE) != (state == State.ACTIVE):
        change = overlaps.people_joined if state == State.ACTIVE else overlaps.people_left
        change(community_id=membership.community_id, member_ids=[membership.member_id])
    if counted:
        _active_count_changed(membership, state_before)
    if state == State.ACTIVE and state_before != State.ACTIVE:
        _start_term(membership)
    _record(
        membership,
        actor=actor,
        action=action,
        state_before=state_before,
        role_before=role_before,
        note=note,
        actor_name=actor_name,
    )
    return membership


def _start_term(membership: Membership) -> None:
    """Someone just became active: the community's default term (if it has one) starts
    from today. An end date from an earlier stretch of membership no longer counts
    (``MembershipTerm.since``), so this costs no statement where there is no default:
    the default comes with the community's row lock (``_lock``)."""
    community = membership.community if Membership.community.is_cached(membership) else None
    if community is not None and Community.default_term.is_cached(community):
        default = getattr(community, "default_term", None)  # None is cached when there is none
        months = default.months if default else None
    else:
        months = (
            CommunityTerm.objects.filter(community_id=membership.community_id)
            .values_list("months", flat=True)
            .first()
        )
    if months:
        MembershipTerm.objects.update_or_create(
            membership=membership,
            defaults={
                "ends_on": timezone.localdate() + relativedelta(months=months),
                "since": membership.active_since,
                "reminded_days": None,
                "set_by": None,
            },
        )


def _start_terms(community: Community, member_ids: list[int]) -> None:
    """Many people just became active in ``community`` at once (a roster import): each
    gets the community's default term, if it has one (a few statements for them all)."""
    default = getattr(community, "default_term", None)
    if not default or not member_ids:
        return
    ends_on = timezone.localdate() + relativedelta(months=default.months)
    for start in range(0, len(member_ids), 900):
        memberships = list(
            Membership.objects.filter(
                community=community, member_id__in=member_ids[start : start + 900]
            ).values_list("pk", "active_since")
        )
        MembershipTerm.objects.filter(membership_id__in=[pk for pk, _since in memberships]).delete()
        MembershipTerm.objects.bulk_create(
            [
                MembershipTerm(membership_id=pk, ends_on=ends_on, since=since)
                for pk, since in memberships
            ],
            batch_size=500,
        )


# -- rules -----------------------------------------------------------------------------


def _default_role(community: Community) -> str:
    return Role.MEMBER if community.is_kc else Role.PARTICIPANT


def _require_open_for_joining(community: Community) -> None:
    if community.status == Community.Status.ARCHIVED:
        raise MembershipError(_("This community is archived and accepts no new members."))
    if community.status == Community.Status.PROPOSED:
        raise MembershipError(_("This community is only proposed; it has no members yet."))


def _require_self_service(community: Community) -> None:
    """Refuse joining, asking, accepting and leaving where an identity provider keeps
    the list (``access.membership_managed_by``)."""
    managed_by = access.membership_managed_by(community)
    if managed_by:
        raise MembershipError(
            _("Membership of %(community)s is managed by %(provider)s.")
            % {"community": community.name, "provider": managed_by}
        )


def _require_kc(community: Community) -> None:
    if not community.is_kc:
        raise MembershipError(
            _("Communities of practice have no membership list; people simply practise there.")
        )


def _keeps_a_sponsor(community: Community, membership: Membership) -> None:
    """Refuse to take the sponsor out of an active KC (appointing a new one swaps)."""
    if access.is_needed_sponsor(community, membership):
        raise MembershipError(
            _(
                "%(name)s sponsors %(community)s, and an active knowledge community needs a "
                "sponsor. Appoint another sponsor first."
            )
            % {"name": membership.member.display_name, "community": community.name}
        )


def _keeps_a_steward(community: Community, membership: Membership) -> None:
    """Refuse to take the last active steward out of an active KC."""
    if access.is_last_steward(community, membership):
        raise MembershipError(
            _(
                "%(name)s is the last steward of %(community)s, and an active knowledge "
                "community needs at least one. Make someone else a steward first."
            )
            % {"name": membership.member.display_name, "community": community.name}
        )


# -- slugs -----------------------------------------------------------------------------

# How much of a community's name (a purpose's statement) its slug keeps: room is left
# for a suffix within the slug field.
SLUG_LENGTH = 150
PURPOSE_SLUG_LENGTH = 180
# How many counted candidates ("name-2", "name-3"...) a new row tries before a random one.
SLUG_ATTEMPTS = 10


def _first_free_slug(model, base: str) -> str:
    """The first of "base", "base-2", "base-3"... that no committed ``model`` row has."""
    slug, n = base, 2
    while model.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _create_with_slug(model, *, text: str, max_length: int, **fields):
    """Create a ``model`` row (``fields``) under the first free slug for ``text``.

    Finding a free slug and inserting it are two statements: under READ COMMITTED another
    transaction can commit the same slug in between (two people recording "Quilt Makers"
    at once), and the insert meets the slug's unique constraint. So each insert runs in
    a savepoint, and when it is refused because the slug is now taken, the next free
    slug is tried: ``SLUG_ATTEMPTS`` counted ones, then random suffixes. Any other
    refusal is raised as it is. The surrounding transaction goes on either way.
    """
    base = slugify(text)[:max_length] or model._meta.model_name
    for attempt in range(SLUG_ATTEMPTS + 3):
        if attempt < SLUG_ATTEMPTS:
            slug = _first_free_slug(model, base)
        else:
            slug = f"{base}-{secrets.token_hex(4)}"
        try:
            with transaction.atomic():
                return model.objects.create(slug=slug, **fields)
        except IntegrityError:
            if not model.objects.filter(slug=slug).exists():
                raise  # not the slug: another constraint refused the row
    raise IntegrityError(f"No free slug for {text!r} after {SLUG_ATTEMPTS + 3} attempts.")
