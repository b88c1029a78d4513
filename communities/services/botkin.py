"""Botkin's model: communities of practice recorded, knowledge communities proposed and
decided, CoPs formalised into KCs, and the ladder's stages (duplicates are merged in
``merging``)."""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from .. import notifications, selectors
from ..models import Community, Purpose, StageChange
from ._common import (
    SLUG_LENGTH,
    Action,
    CommunityError,
    Role,
    State,
    _create_with_slug,
    _lock,
    _new_or_existing,
    _transition,
)
from .communities import (
    _appoint_leaders,
    _require_activatable,
    _require_free_name,
    future_purpose,
    purpose_named,
)


@transaction.atomic
def record_cop(
    *,
    actor: Member,
    name: str,
    summary: str,
    cadence: str = "",
    description: str = "",
    practise_here: bool = True,
    purpose: str = "",
) -> Community:
    """Record a community of practice someone sees; listed at once. A recorder who
    practises there is its first coordinator (they can hand that on from the manage
    page); ``purpose``, a statement, is an existing purpose of that name or a new one
    that spreads practice."""
    community = _create_with_slug(
        Community,
        text=name,
        max_length=SLUG_LENGTH,
        name=name,
        kind=Community.Kind.COP,
        status=Community.Status.ACTIVE,
        summary=summary,
        description=description,
        cadence=cadence,
        stage=Community.Stage.SHARING,
    )
    if purpose.strip():
        community.purposes.add(
            purpose_named(purpose, orientation=Purpose.Orientation.SPREAD_PRACTICE)
        )
    if practise_here:
        _transition(
            _new_or_existing(community, actor),
            actor=actor,
            action=Action.PRACTISING,
            state=State.ACTIVE,
            role=Role.STEWARD,
            note=_("Recorded the community: its first coordinator"),
        )
    return community


# -- proposals ---------------------------------------------------------------------------


@transaction.atomic
def propose_kc(
    *,
    actor: Member,
    name: str,
    purpose_statement: str,
    summary: str = "",
    why_now: str = "",
    suggested_sponsor: Member | None = None,
    formed_from: Community | None = None,
) -> Community:
    """A staff member proposes a knowledge community; directory admins decide. The
    ``summary`` is public once it is approved; ``why_now`` is the proposer's note to the
    admins, kept apart (``proposal_note``)."""
    if formed_from is not None:
        _require_not_formalised(formed_from)
    purpose = future_purpose(purpose_statement)
    return _proposal(
        actor=actor,
        name=name,
        summary=summary,
        why_now=why_now,
        suggested_sponsor=suggested_sponsor,
        formed_from=formed_from,
        purposes=[purpose],
    )


@transaction.atomic
def propose_formalisation(
    *,
    cop: Community,
    actor: Member,
    name: str,
    purposes: Iterable[Purpose] = (),
    new_purpose: str = "",
    suggested_sponsor: Member | None = None,
    summary: str = "",
    description: str = "",
) -> Community:
    """A CoP's coordinator proposes formalising it as a knowledge community named
    ``name`` (no other listed community's name) pursuing ``purposes`` (and
    ``new_purpose``, a future-shaping purpose created if new), with its own ``summary``
    and ``description`` (the CoP's are not copied); directory admins decide."""
    _require_free_name(name)
    purposes = list(purposes)
    if new_purpose:
        purposes.append(future_purpose(new_purpose))
    if not any(p.orientation == Purpose.Orientation.SHAPE_FUTURE for p in purposes):
        raise CommunityError(_("Choose or write at least one purpose that shapes the future."))
    _require_not_formalised(cop)
    return _proposal(
        actor=actor,
        name=name,
        summary=summary,
        description=description,
        suggested_sponsor=suggested_sponsor,
        formed_from=cop,
        purposes=purposes,
    )


def _proposal(
    *, actor, name, summary, suggested_sponsor, formed_from, purposes, description="", why_now=""
) -> Community:
    community = _create_with_slug(
        Community,
        text=name,
        max_length=SLUG_LENGTH,
        name=name,
        kind=Community.Kind.KC,
        status=Community.Status.PROPOSED,
        summary=summary,
        description=description,
        proposal_note=why_now,
        proposed_by=actor,
        suggested_sponsor=suggested_sponsor,
        formed_from=formed_from,
    )
    community.purposes.add(*purposes)
    notifications.proposal_received(community)
    return community


@transaction.atomic
def approve_proposal(
    *,
    community: Community,
    actor: Member,
    sponsor: Member,
    stewards: Iterable[Member],
    join_policy: str = Community.JoinPolicy.REQUEST,
) -> Community:
    """Make a proposed KC active, appointing its sponsor and stewards."""
    community = _lock(community)
    if community.status != Community.Status.PROPOSED or community.declined_at:
        raise CommunityError(_("This proposal was already decided."))
    if community.formed_from_id:
        _require_not_formalised(_lock(community.formed_from))
    stewards = [s for s in dict.fromkeys(stewards) if s != sponsor]
    _require_activatable(sponsor=sponsor, stewards=stewards, purposes=community.purposes.all())
    community.status = Community.Status.ACTIVE
    community.join_policy = join_policy
    community.created_at = timezone.now()
    community.save()
    _appoint_leaders(community, actor=actor, sponsor=sponsor, stewards=stewards)
    if community.formed_from_id:
        _carry_over_participants(community.formed_from, community, actor=actor, invite=True)
        _settle_other_proposals(community.formed_from, name=community.name, keep=community)
    notifications.proposal_decided(community, approved=True)
    # Its purposes are in the directory now (``Purpose.objects.listed()``).
    transaction.on_commit(selectors.purpose_menu_changed)
    return community


@transaction.atomic
def decline_proposal(*, community: Community, actor: Member, reason: str = "") -> Community:
    community = _lock(community)
    if community.status != Community.Status.PROPOSED or community.declined_at:
        raise CommunityError(_("This proposal was already decided."))
    community.declined_at = timezone.now()
    community.decision_note = reason
    community.save(update_fields=["declined_at", "decision_note", "updated_at"])
    notifications.proposal_decided(community, approved=False)
    return community


# -- formalising a CoP -------------------------------------------------------------------


def _carry_over_participants(cop: Community, kc: Community, *, actor, invite: bool) -> int:
    """The CoP's active participants become invited to (or members of) the KC."""
    carried = 0
    participants = cop.memberships.filter(state=State.ACTIVE).select_related("member__user")
    with notifications.batch():
        for participant in participants:
            carried += _carry_over(participant, kc, cop=cop, actor=actor, invite=invite)
    return carried


def _carry_over(participant, kc: Community, *, cop, actor, invite: bool) -> int:
    membership = _new_or_existing(kc, participant.member)
    if membership.state == State.ACTIVE:
        return 0
    _transition(
        membership,
        actor=actor,
        action=Action.INVITED if invite else Action.ADDED,
        state=State.INVITED if invite else State.ACTIVE,
        role=Role.MEMBER,
        decided=True,
        note=_("Practised in %(name)s") % {"name": cop.name},
    )
    if invite:
        notifications.invited(membership)
    else:
        notifications.added(membership, actor=actor)
    return 1


def _require_not_formalised(cop: Community) -> None:
    already = cop.formalised_as.exclude(status=Community.Status.PROPOSED).first()
    if already is not None:
        raise CommunityError(
            _("%(cop)s was already formalised as %(kc)s.") % {"cop": cop.name, "kc": already.name}
        )


def _settle_other_proposals(cop: Community, *, name: str, keep: Community) -> None:
    """Open proposals to formalise ``cop`` are answered by the KC just formed."""
    cop.formalised_as.filter(status=Community.Status.PROPOSED, declined_at=None).exclude(
        pk=keep.pk
    ).update(declined_at=timezone.now(), decision_note=_("Formalised as %(name)s") % {"name": name})


@transaction.atomic
def formalise_cop(
    *,
    cop: Community,
    actor: Member,
    name: str,
    purposes: Iterable[Purpose],
    new_purpose: str = "",
    sponsor: Member,
    stewards: Iterable[Member],
    join_policy: str = Community.JoinPolicy.REQUEST,
    invite_participants: bool = True,
    archive_cop: bool = False,
    summary: str = "",
    description: str = "",
) -> Community:
    """Turn a promising community of practice into a knowledge community, at once,
    named ``name`` (no other listed community's name, the CoP's included), pursuing
    ``purposes`` (and ``new_purpose``, a future-shaping purpose created if new).

    The KC's ``summary`` and ``description`` are its own: the CoP's text describes a
    community of practice and is not copied (where and how people meet, and the links,
    are)."""
    _require_free_name(name)
    purposes = list(purposes)
    if new_purpose:
        purposes.append(future_purpose(new_purpose))
    cop = _lock(cop)
    if not cop.is_cop:
        raise CommunityError(_("Only a community of practice can be formalised."))
    if cop.status == Community.Status.ARCHIVED:
        raise CommunityError(_("This community of practice is archived."))
    _require_not_formalised(cop)
    stewards = [s for s in dict.fromkeys(stewards) if s != sponsor]
    _require_activatable(sponsor=sponsor, stewards=stewards, purposes=purposes)
    kc = _create_with_slug(
        Community,
        text=name,
        max_length=SLUG_LENGTH,
        name=name,
        kind=Community.Kind.KC,
        status=Community.Status.ACTIVE,
        summary=summary,
        description=description,
        cadence=cop.cadence,
        links=cop.links,
        join_policy=join_policy,
        stage=cop.stage,
        formed_from=cop,
    )
    kc.purposes.set(purposes)
    _appoint_leaders(kc, actor=actor, sponsor=sponsor, stewards=stewards)
    _carry_over_participants(cop, kc, actor=actor, invite=invite_participants)
    _settle_other_proposals(cop, name=name, keep=kc)
    if archive_cop:
        cop.status = Community.Status.ARCHIVED
        cop.save(update_fields=["status", "updated_at"])
    transaction.on_commit(selectors.purpose_menu_changed)
    return kc


# -- the ladder --------------------------------------------------------------------------


@transaction.atomic
def set_stage(*, community: Community, actor: Member, stage: str, note: str = "") -> StageChange:
    community = _lock(community)
    if stage not in Community.Stage.values:
        raise CommunityError(_("Unknown stage."))
    if stage == community.stage:
        raise CommunityError(_("The community is already at that stage."))
    change = StageChange.objects.create(
        community=community,
        stage_before=community.stage,
        stage_after=stage,
        note=note,
        changed_by=actor,
        changed_by_name=actor.display_name,
    )
    community.stage = stage
    community.save(update_fields=["stage", "updated_at"])
    return change
