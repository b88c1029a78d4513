"""Creating knowledge communities, their purposes, and what an active one needs;
editing a community's details."""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from members.models import Member

from .. import selectors
from ..models import Community, MembershipEvent, Purpose
from ._common import (
    PURPOSE_SLUG_LENGTH,
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


def purpose_named(statement: str, *, orientation: str) -> Purpose:
    """The purpose with this statement (whatever its case), or a new one with
    ``orientation``. An existing purpose keeps its own orientation."""
    statement = " ".join(statement.split())
    if not statement:
        raise CommunityError(_("Write the purpose in a few words."))
    if orientation not in Purpose.Orientation.values:
        raise CommunityError(_("Choose whether the purpose shapes the future or spreads practice."))
    existing = Purpose.objects.filter(statement__iexact=statement).order_by("pk").first()
    if existing is not None:
        return existing
    try:
        return _create_with_slug(
            Purpose,
            text=statement,
            max_length=PURPOSE_SLUG_LENGTH,
            statement=statement,
            orientation=orientation,
        )
    except IntegrityError:
        # Someone recorded the same statement meanwhile: it is the same purpose.
        existing = Purpose.objects.filter(statement__iexact=statement).order_by("pk").first()
        if existing is None:
            raise
        return existing


# -- editing a community's details -------------------------------------------------------


class EditConflict(CommunityError):
    """Someone changed the community after the editor's form was drawn."""


# What stewards, coordinators and directory admins edit (``edit_community``), in the
# order the history lists them. Purposes are edited too, as a set.
EDITABLE_FIELDS = ("summary", "description", "join_policy", "cadence", "links")
_SHOWN_IN_HISTORY = 120  # characters of each value a history note quotes


def _quoted(value: str) -> str:
    if not value:
        return "—"
    return f"“{Truncator(' '.join(value.split())).chars(_SHOWN_IN_HISTORY)}”"


def _field_change_note(community: Community, name: str, before: str, after: str) -> str:
    field = Community._meta.get_field(name)
    if name == "join_policy":
        labels = dict(Community.JoinPolicy.choices)
        before, after = str(labels.get(before, before)), str(labels.get(after, after))
        return _("%(field)s: %(before)s → %(after)s") % {
            "field": str(field.verbose_name).capitalize(),
            "before": before,
            "after": after,
        }
    return _("%(field)s: %(before)s → %(after)s") % {
        "field": str(field.verbose_name).capitalize(),
        "before": _quoted(before),
        "after": _quoted(after),
    }


def _purposes_change_note(added: list[Purpose], removed: list[Purpose]) -> str:
    parts = []
    if added:
        parts.append(
            _("added %(purposes)s") % {"purposes": ", ".join(_quoted(p.statement) for p in added)}
        )
    if removed:
        parts.append(
            _("removed %(purposes)s")
            % {"purposes": ", ".join(_quoted(p.statement) for p in removed)}
        )
    return _("Purposes: %(changes)s") % {"changes": "; ".join(parts)}


def _record_community_change(community: Community, *, actor: Member | None, note: str):
    """One history event for one changed detail of ``community`` (no person is its target)."""
    return MembershipEvent.objects.create(
        community_id=community.pk,
        actor=actor,
        actor_name=actor.display_name if actor else "",
        target=None,
        target_name="",
        action=Action.EDITED,
        note=note,
    )


@transaction.atomic
def edit_community(
    *,
    community: Community,
    actor: Member | None,
    purposes: Iterable[Purpose] | None = None,
    new_purpose: str = "",
    new_purpose_orientation: str = "",
    unchanged_since: datetime | None = None,
    **changes: str,
) -> list[MembershipEvent]:
    """Change a community's details (``changes``: any of ``EDITABLE_FIELDS``) and, when
    ``purposes`` is given, the purposes it pursues (plus ``new_purpose``, a statement:
    the existing purpose of that name, or a new one oriented ``new_purpose_orientation``;
    by default shaping the future in a knowledge community, spreading practice in a CoP).

    A knowledge community keeps at least one purpose that shapes the future; a community
    of practice has no join policy. With ``unchanged_since`` (the ``updated_at`` the
    editor's form was drawn from), a community someone changed since is refused, so
    one editor never silently undoes another's changes.

    Writes one history event per changed field (the purposes count as one) and returns
    them: none when nothing changed. A refusal changes nothing.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"edit_community() cannot change {', '.join(sorted(unknown))}")
    community = _lock(community)
    if unchanged_since is not None and community.updated_at != unchanged_since:
        raise EditConflict(
            _(
                "Someone changed %(community)s while you were editing it. Its history says "
                "what they changed; the form now shows your changes: save again to keep them."
            )
            % {"community": community.name}
        )
    changed = {
        name: value
        for name, value in ((name, "" if v is None else str(v)) for name, v in changes.items())
        if value != getattr(community, name)
    }
    if community.is_cop and "join_policy" in changed:
        raise CommunityError(
            _("A community of practice has no join policy: people simply say they practise there.")
        )
    before = {name: getattr(community, name) for name in changed}
    for name, value in changed.items():
        setattr(community, name, value)
    try:
        community.clean_fields(
            exclude=[f.name for f in Community._meta.fields if f.name not in changed]
        )
    except ValidationError as error:
        raise CommunityError(" ".join(error.messages)) from error

    added, removed = [], []
    if purposes is not None or new_purpose.strip():
        current = list(community.purposes.order_by("statement"))
        wanted = list(current if purposes is None else dict.fromkeys(purposes))
        if new_purpose.strip():
            default = (
                Purpose.Orientation.SHAPE_FUTURE
                if community.is_kc
                else Purpose.Orientation.SPREAD_PRACTICE
            )
            purpose = purpose_named(new_purpose, orientation=new_purpose_orientation or default)
            if purpose not in wanted:
                wanted.append(purpose)
        if community.is_kc and not any(
            p.orientation == Purpose.Orientation.SHAPE_FUTURE for p in wanted
        ):
            raise CommunityError(
                _(
                    "A knowledge community needs at least one purpose that shapes the future: "
                    "keep one, or add one."
                )
            )
        added = [p for p in wanted if p not in current]
        removed = [p for p in current if p not in wanted]

    events = []
    if changed:
        community.save(update_fields=[*changed, "updated_at"])
        for name in EDITABLE_FIELDS:
            if name in changed:
                note = _field_change_note(community, name, before[name], changed[name])
                events.append(_record_community_change(community, actor=actor, note=note))
    if added or removed:
        community.purposes.remove(*removed)
        community.purposes.add(*added)
        if not changed:
            community.save(update_fields=["updated_at"])
        note = _purposes_change_note(added, removed)
        events.append(_record_community_change(community, actor=actor, note=note))
    return events
