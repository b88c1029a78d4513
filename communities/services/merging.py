"""Merging a duplicate community into the one that stays: first a plan (who moves, in
which role; what else moves), which the page previews, then the same plan applied.

People keep no role higher than the one they already have in the community that stays:
someone who joins it becomes a member (a participant in a CoP), and someone already
there keeps their role there. Only when the admin chooses "keep their roles" do the
duplicate's stewards (and its sponsor) become stewards of the survivor; it keeps its own
sponsor. The confirmation carries the plan's fingerprint: if anyone joined, left or
changed role in either community since the preview, nothing is merged.
"""

import hashlib
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from members.models import Member

from .. import overlaps
from ..models import Community, Membership, Purpose
from ._common import (
    Action,
    CommunityError,
    Role,
    State,
    _default_role,
    _new_or_existing,
    _transition,
)
from ._counts import _recount_members

RANK = {Role.SPONSOR: 0, Role.STEWARD: 1, Role.MEMBER: 2, Role.PARTICIPANT: 2}


@dataclass(frozen=True)
class MergeMove:
    """One active person of the duplicate, and what the merge does with them."""

    JOINS = "joins"  # not active in the survivor: becomes active there, in ``role_after``
    PROMOTED = "promoted"  # active there, in a lower role than here: ``role_after`` (kept)
    STAYS = "stays"  # active there already: keeps their role there

    member: Member
    role_here: str  # in the duplicate
    role_there: str  # in the survivor before the merge ("" if not active there)
    role_after: str  # in the survivor after it
    kind: str
    capped: bool  # their role here was higher than the one they get there
    active_since: object = None  # when they became active in the duplicate


@dataclass
class MergePlan:
    source: Community
    target: Community
    keep_roles: bool
    moves: list[MergeMove] = field(default_factory=list)
    # Requests and invitations waiting in the duplicate: they end with it.
    ending: list[tuple[Member, str]] = field(default_factory=list)
    purposes: list[Purpose] = field(default_factory=list)  # the survivor gains these
    history: int = 0  # events that move to the survivor

    @property
    def joining(self) -> list[MergeMove]:
        return [move for move in self.moves if move.kind == MergeMove.JOINS]

    @property
    def already_there(self) -> list[MergeMove]:
        return [move for move in self.moves if move.kind != MergeMove.JOINS]

    @property
    def capped(self) -> list[MergeMove]:
        return [move for move in self.moves if move.capped]

    @property
    def fingerprint(self) -> str:
        """Everything the preview shows, hashed: the confirmation must match it."""
        parts = [
            f"{self.source.pk}>{self.target.pk}:{int(self.keep_roles)}",
            *(
                f"{m.member.pk}:{m.role_here}:{m.role_there}:{m.role_after}:{m.kind}"
                for m in self.moves
            ),
            *(f"{member.pk}:{state}" for member, state in self.ending),
            *(str(purpose.pk) for purpose in self.purposes),
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def merge_problem(source: Community, target: Community) -> str | None:
    """Why ``source`` cannot be merged into ``target`` (None if it can)."""
    if source.pk == target.pk:
        return _("Choose a different community to merge into.")
    if source.kind != target.kind:
        return _("Only communities of the same kind can be merged.")
    if source.merged_into_id:
        return _("This community was already merged.")
    if target.status in (Community.Status.ARCHIVED, Community.Status.PROPOSED):
        return _("Merge into a community that is not archived or proposed.")
    return None


def _kept_role(role: str, target: Community) -> str:
    """A duplicate's role as "keep their roles" carries it over."""
    if role in (Role.SPONSOR, Role.STEWARD):
        return Role.STEWARD
    return _default_role(target)


def plan_merge(*, source: Community, target: Community, keep_roles: bool = False) -> MergePlan:
    """What merging ``source`` into ``target`` would do, read now; changes nothing.
    Refused (``CommunityError``) when the two cannot be merged."""
    problem = merge_problem(source, target)
    if problem:
        raise CommunityError(problem)
    plan = MergePlan(source=source, target=target, keep_roles=keep_roles)
    there = {
        m.member_id: m
        for m in target.memberships.filter(state=State.ACTIVE).only("member_id", "role")
    }
    here = source.memberships.filter(state__in=Membership.ON_THE_LIST).select_related("member")
    for membership in sorted(
        here, key=lambda m: (RANK.get(m.role, 3), m.member.display_name, m.pk)
    ):
        if membership.state != State.ACTIVE:
            plan.ending.append((membership.member, membership.state))
            continue
        wanted = _kept_role(membership.role, target) if keep_roles else _default_role(target)
        existing = there.get(membership.member_id)
        if existing is None:
            kind, role_there, role_after = MergeMove.JOINS, "", wanted
        elif RANK[wanted] < RANK[existing.role]:
            kind, role_there, role_after = MergeMove.PROMOTED, existing.role, wanted
        else:
            kind, role_there, role_after = MergeMove.STAYS, existing.role, existing.role
        plan.moves.append(
            MergeMove(
                member=membership.member,
                role_here=membership.role,
                role_there=role_there,
                role_after=role_after,
                kind=kind,
                capped=RANK.get(role_after, 3) > RANK.get(membership.role, 3),
                active_since=membership.active_since,
            )
        )
    plan.purposes = list(
        source.purposes.exclude(pk__in=target.purposes.values("pk")).order_by("statement")
    )
    plan.history = source.events.count()
    return plan


@transaction.atomic
def merge_communities(
    *,
    source: Community,
    target: Community,
    actor: Member,
    keep_roles: bool = False,
    fingerprint: str | None = None,
) -> Community:
    """Merge a duplicate into ``target`` as ``plan_merge`` plans it: its active people
    move (one event each), its requests and invitations end, its purposes and history
    move, and the duplicate is archived and points at the survivor.

    With ``fingerprint`` (the previewed plan's), refused if the plan changed since."""
    # Lock both rows in a fixed order so two merges cannot deadlock.
    locked = {
        c.pk: c
        for c in Community.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    plan = plan_merge(source=source, target=target, keep_roles=keep_roles)
    if fingerprint is not None and fingerprint != plan.fingerprint:
        raise CommunityError(
            _(
                "Someone joined, left or changed role in %(source)s or %(target)s since the "
                "preview, so nothing was merged. Look at the new preview."
            )
            % {"source": source.name, "target": target.name}
        )
    # History first, so the moves below are recorded after it in the survivor.
    source.events.update(community=target)
    for move in plan.moves:
        if move.kind == MergeMove.STAYS:
            continue
        note = _("From %(name)s") % {"name": source.name}
        if move.capped:
            note = _("From %(name)s, where they were %(role)s") % {
                "name": source.name,
                "role": Membership.Role(move.role_here).label,
            }
        _transition(
            _new_or_existing(target, move.member),
            actor=actor,
            action=Action.MERGED if move.kind == MergeMove.JOINS else Action.ROLE_CHANGED,
            state=State.ACTIVE,
            role=move.role_after,
            decided=True,
            note=note,
            active_since=move.active_since,
        )
    overlaps.people_left(
        community_id=source.pk,
        member_ids=source.memberships.filter(state=State.ACTIVE).values_list(
            "member_id", flat=True
        ),
    )
    source.memberships.all().delete()
    _recount_members([source.pk])
    target.purposes.add(*plan.purposes)
    source.status = Community.Status.ARCHIVED
    source.merged_into = target
    source.save(update_fields=["status", "merged_into", "updated_at"])
    return target
