"""Creating knowledge communities, their purposes, and what an active one needs."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from members.models import Member

from .. import selectors
from ..models import Community, Purpose
from ._common import (
    PURPOSE_SLUG_LENGTH,
    SLUG_LENGTH,
    Action,
    CommunityError,
    Role,
    State,
    _create_with_slug,
    _new_or_existing,
    _transition,
)


def activation_problems(*, sponsor, stewards, purposes) -> list[str]:
    """What an active knowledge community would lack (empty when it may be active)."""
    problems = []
    if sponsor is None:
        problems.append(_("a sponsor"))
    if not [s for s in stewards if s != sponsor]:
        problems.append(_("at least one steward (other than the sponsor)"))
    if not any(p.orientation == Purpose.Orientation.SHAPE_FUTURE for p in purposes):
        problems.append(_("at least one purpose that shapes the future"))
    return problems


def _require_activatable(*, sponsor, stewards, purposes) -> None:
    problems = activation_problems(sponsor=sponsor, stewards=stewards, purposes=purposes)
    if problems:
        raise CommunityError(
            _("A knowledge community can only be active with %(missing)s.")
            % {"missing": ", ".join(problems)}
        )


def _appoint_leaders(community, *, actor, sponsor, stewards) -> None:
    for member, role in [(sponsor, Role.SPONSOR), *((s, Role.STEWARD) for s in stewards)]:
        membership = _new_or_existing(community, member)
        if membership.state == State.ACTIVE and membership.role == role:
            continue
        _transition(
            membership,
            actor=actor,
            action=Action.ROLE_CHANGED if membership.state == State.ACTIVE else Action.ADDED,
            state=State.ACTIVE,
            role=role,
            decided=True,
        )


@transaction.atomic
def create_community(
    *,
    actor: Member,
    name: str,
    summary: str = "",
    description: str = "",
    join_policy: str = Community.JoinPolicy.REQUEST,
    purposes=(),
    sponsor: Member,
    stewards: Iterable[Member],
) -> Community:
    """Create an active knowledge community with its sponsor and stewards (one event each)."""
    stewards = [s for s in dict.fromkeys(stewards) if s != sponsor]
    purposes = list(purposes)
    _require_activatable(sponsor=sponsor, stewards=stewards, purposes=purposes)
    community = _create_with_slug(
        Community,
        text=name,
        max_length=SLUG_LENGTH,
        name=name,
        kind=Community.Kind.KC,
        summary=summary,
        description=description,
        join_policy=join_policy,
        status=Community.Status.ACTIVE,
    )
    community.purposes.set(purposes)
    _appoint_leaders(community, actor=actor, sponsor=sponsor, stewards=stewards)
    transaction.on_commit(selectors.purpose_menu_changed)
    return community


def future_purpose(statement: str) -> Purpose:
    """The future-shaping purpose with this statement, created if new (one purpose per
    statement, even when two people write it at once)."""
    statement = statement.strip()
    purpose = Purpose.objects.filter(statement=statement).first()
    if purpose is None:
        try:
            purpose = _create_with_slug(
                Purpose,
                text=statement,
                max_length=PURPOSE_SLUG_LENGTH,
                statement=statement,
                orientation=Purpose.Orientation.SHAPE_FUTURE,
            )
        except IntegrityError:
            # Someone recorded the same statement meanwhile: it is the same purpose.
            purpose = Purpose.objects.filter(statement=statement).first()
            if purpose is None:
                raise
    if purpose.orientation != Purpose.Orientation.SHAPE_FUTURE:
        raise CommunityError(
            _(
                "“%(statement)s” is already a purpose that spreads practice. A knowledge "
                "community needs a purpose that shapes the future: word it differently."
            )
            % {"statement": purpose.statement}
        )
    return purpose
