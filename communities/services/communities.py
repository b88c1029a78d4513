"""Creating knowledge communities, their purposes, and what an active one needs."""

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from members.models import Member

from ..models import Community, Purpose
from ._common import (
    Action,
    CommunityError,
    Role,
    State,
    _new_or_existing,
    _transition,
    _unique_slug,
)


class CommunityNameTaken(CommunityError):
    """A new community would share its name with one in the directory."""


def name_taken(name: str) -> str | None:
    """Why a new knowledge community may not be called ``name``: another listed
    community has it (in any case), and two communities would be told apart only by
    their addresses. None when it is free."""
    taken = Community.objects.listed().filter(name__iexact=name.strip()).first()
    if taken is None:
        return None
    return _(
        "“%(name)s” is already the name of a community in the directory. Give the "
        "knowledge community a name of its own."
    ) % {"name": taken.name}


def _require_free_name(name: str) -> None:
    problem = name_taken(name)
    if problem:
        raise CommunityNameTaken(problem)


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
    community = Community.objects.create(
        name=name,
        slug=_unique_slug(name),
        kind=Community.Kind.KC,
        summary=summary,
        description=description,
        join_policy=join_policy,
        status=Community.Status.ACTIVE,
    )
    community.purposes.set(purposes)
    _appoint_leaders(community, actor=actor, sponsor=sponsor, stewards=stewards)
    return community


def future_purpose(statement: str) -> Purpose:
    """The future-shaping purpose with this statement, created if new."""
    purpose, _created = Purpose.objects.get_or_create(
        statement=statement.strip(),
        defaults={
            "slug": _unique_slug(statement, model=Purpose, max_length=180),
            "orientation": Purpose.Orientation.SHAPE_FUTURE,
        },
    )
    if purpose.orientation != Purpose.Orientation.SHAPE_FUTURE:
        raise CommunityError(
            _(
                "“%(statement)s” is already a purpose that spreads practice. A knowledge "
                "community needs a purpose that shapes the future: word it differently."
            )
            % {"statement": purpose.statement}
        )
    return purpose
