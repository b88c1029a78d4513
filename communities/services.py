"""Roster changes: the only code that writes memberships and their history.

Every service is atomic, locks the community row first (so two stewards acting at
once are serialised and the invariants below hold), checks the rule it enforces,
writes the membership and exactly one ``MembershipEvent`` per changed membership,
and queues its emails for after the commit.

The state machine (states down, services across), for a knowledge community:

    (none)/left/denied   join (open) -> active; request (request) -> requested
    removed              request (request) -> requested      (no self-join)
    any but active       invite -> invited; add -> active
    requested            approve -> active; deny -> denied; cancel -> left
    invited              accept -> active; decline -> left
    active               leave -> left; remove -> removed; change_role
    requested/invited    remove -> removed (withdraws it)

Rules: archived communities accept no joins, requests, invitations or additions;
an active KC keeps at least one active steward; at most one active sponsor.
"""

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from members.models import Member

from . import notifications
from .csv_io import roster_upload
from .models import Community, Membership, MembershipEvent, Purpose, RosterImport, StageChange

State = Membership.State
Role = Membership.Role
Action = MembershipEvent.Action


class MembershipError(Exception):
    """A refused roster change; the message says why and what to do instead."""


# -- helpers ---------------------------------------------------------------------------


def _lock(community: Community) -> Community:
    """Re-read the community with its row locked for the rest of the transaction."""
    return Community.objects.select_for_update().get(pk=community.pk)


def _membership_for_update(community: Community, member: Member) -> Membership | None:
    return (
        Membership.objects.select_for_update()
        .filter(community=community, member=member)
        .select_related("member")
        .first()
    )


def _record(
    membership: Membership,
    *,
    actor: Member | None,
    action: str,
    state_before: str = "",
    role_before: str = "",
    note: str = "",
) -> MembershipEvent:
    return MembershipEvent.objects.create(
        community_id=membership.community_id,
        actor=actor,
        actor_name=actor.display_name if actor else "",
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
) -> Membership:
    """Move ``membership`` to ``state`` (and ``role``), save it, and record one event."""
    state_before, role_before = membership.state, membership.role
    if membership.pk is None:
        state_before = role_before = ""
    membership.state = state
    if role is not None:
        membership.role = role
    if decided:
        membership.decided_by = actor
        membership.decided_at = timezone.now()
    if note or action in (Action.REQUESTED, Action.DENIED, Action.REMOVED):
        membership.note = note
    membership.save()
    _record(
        membership,
        actor=actor,
        action=action,
        state_before=state_before,
        role_before=role_before,
        note=note,
    )
    return membership


def _new_or_existing(community: Community, member: Member) -> Membership:
    membership = _membership_for_update(community, member)
    if membership is None:
        membership = Membership(community=community, member=member, state="", role=Role.MEMBER)
    return membership


def _default_role(community: Community) -> str:
    return Role.MEMBER if community.is_kc else Role.PARTICIPANT


def _require_open_for_joining(community: Community) -> None:
    if community.status == Community.Status.ARCHIVED:
        raise MembershipError(_("This community is archived and accepts no new members."))
    if community.status == Community.Status.PROPOSED:
        raise MembershipError(_("This community is only proposed; it has no members yet."))


def _require_kc(community: Community) -> None:
    if not community.is_kc:
        raise MembershipError(
            _("Communities of practice have no membership list; people simply practise there.")
        )


def _keeps_a_sponsor(community: Community, membership: Membership) -> None:
    """Refuse to take the sponsor out of an active KC (appointing a new one swaps)."""
    if not (community.is_kc and community.status == Community.Status.ACTIVE):
        return
    if membership.state == State.ACTIVE and membership.role == Role.SPONSOR:
        raise MembershipError(
            _(
                "%(name)s sponsors %(community)s, and an active knowledge community needs a "
                "sponsor. Appoint another sponsor first."
            )
            % {"name": membership.member.display_name, "community": community.name}
        )


def _keeps_a_steward(community: Community, membership: Membership) -> None:
    """Refuse to take the last active steward out of an active KC."""
    if not (community.is_kc and community.status == Community.Status.ACTIVE):
        return
    if membership.state != State.ACTIVE or membership.role != Role.STEWARD:
        return
    others = (
        Membership.objects.filter(community=community, state=State.ACTIVE, role=Role.STEWARD)
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others:
        raise MembershipError(
            _(
                "%(name)s is the last steward of %(community)s, and an active knowledge "
                "community needs at least one. Make someone else a steward first."
            )
            % {"name": membership.member.display_name, "community": community.name}
        )


# -- staff -----------------------------------------------------------------------------


@transaction.atomic
def join_community(*, community: Community, member: Member) -> Membership:
    """Join an open KC at once (or say you practise in a CoP)."""
    community = _lock(community)
    _require_open_for_joining(community)
    membership = _new_or_existing(community, member)
    if membership.state == State.ACTIVE:
        raise MembershipError(_("You are already a member."))
    if community.is_kc and community.join_policy != Community.JoinPolicy.OPEN:
        raise MembershipError(_("This knowledge community does not take members directly."))
    if membership.state == State.REMOVED:
        raise MembershipError(
            _("A steward removed you from this community; ask them to add you again.")
        )
    if membership.state == State.REQUESTED:
        raise MembershipError(_("Your request is already waiting for a steward."))
    if membership.state == State.INVITED:
        raise MembershipError(_("You are invited: accept the invitation instead."))
    return _transition(
        membership,
        actor=member,
        action=Action.JOINED if community.is_kc else Action.PRACTISING,
        state=State.ACTIVE,
        role=_default_role(community),
    )


@transaction.atomic
def request_membership(*, community: Community, member: Member, note: str = "") -> Membership:
    """Ask to join a request-only KC; its stewards are told."""
    community = _lock(community)
    _require_open_for_joining(community)
    _require_kc(community)
    if community.join_policy != Community.JoinPolicy.REQUEST:
        raise MembershipError(_("This knowledge community does not take requests."))
    membership = _new_or_existing(community, member)
    if membership.state == State.ACTIVE:
        raise MembershipError(_("You are already a member."))
    if membership.state == State.REQUESTED:
        raise MembershipError(_("Your request is already waiting for a steward."))
    if membership.state == State.INVITED:
        raise MembershipError(_("You are invited: accept the invitation instead."))
    membership = _transition(
        membership,
        actor=member,
        action=Action.REQUESTED,
        state=State.REQUESTED,
        role=Role.MEMBER,
        note=note,
    )
    notifications.request_received(membership)
    return membership


@transaction.atomic
def cancel_request(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.REQUESTED:
        raise MembershipError(_("You have no request waiting here."))
    return _transition(membership, actor=member, action=Action.CANCELLED, state=State.LEFT)


@transaction.atomic
def accept_invitation(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    _require_open_for_joining(community)
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.INVITED:
        raise MembershipError(_("You have no invitation to this community."))
    return _transition(membership, actor=member, action=Action.ACCEPTED, state=State.ACTIVE)


@transaction.atomic
def decline_invitation(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.INVITED:
        raise MembershipError(_("You have no invitation to this community."))
    return _transition(membership, actor=member, action=Action.DECLINED, state=State.LEFT)


@transaction.atomic
def leave_community(*, community: Community, member: Member) -> Membership:
    community = _lock(community)
    membership = _membership_for_update(community, member)
    if membership is None or membership.state != State.ACTIVE:
        raise MembershipError(_("You are not a member of this community."))
    _keeps_a_steward(community, membership)
    _keeps_a_sponsor(community, membership)
    return _transition(membership, actor=member, action=Action.LEFT, state=State.LEFT)


# -- stewards and directory admins ------------------------------------------------------


def _locked_membership(community: Community, membership: Membership) -> Membership:
    locked = (
        Membership.objects.select_for_update()
        .select_related("member__user")
        .filter(pk=membership.pk, community=community)
        .first()
    )
    if locked is None:
        raise MembershipError(_("That person is not on this community's list."))
    return locked


@transaction.atomic
def approve_request(
    *, community: Community, membership: Membership, actor: Member, note: str = ""
) -> Membership:
    community = _lock(community)
    _require_open_for_joining(community)
    membership = _locked_membership(community, membership)
    if membership.state != State.REQUESTED:
        raise MembershipError(
            _("%(name)s has no request waiting (it was already decided or withdrawn).")
            % {"name": membership.member.display_name}
        )
    membership = _transition(
        membership, actor=actor, action=Action.APPROVED, state=State.ACTIVE, decided=True, note=note
    )
    notifications.request_decided(membership)
    return membership


@transaction.atomic
def deny_request(
    *, community: Community, membership: Membership, actor: Member, reason: str = ""
) -> Membership:
    community = _lock(community)
    membership = _locked_membership(community, membership)
    if membership.state != State.REQUESTED:
        raise MembershipError(
            _("%(name)s has no request waiting (it was already decided or withdrawn).")
            % {"name": membership.member.display_name}
        )
    membership = _transition(
        membership, actor=actor, action=Action.DENIED, state=State.DENIED, decided=True, note=reason
    )
    notifications.request_decided(membership)
    return membership


@dataclass
class BulkResult:
    """What a bulk roster action did, for the summary people see."""

    done: list[Member] = field(default_factory=list)
    already: list[Member] = field(default_factory=list)
    refused: list[tuple[Member, str]] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)


@transaction.atomic
def add_members(
    *, community: Community, members: Iterable[Member], actor: Member, invite: bool = False
) -> BulkResult:
    """Add people as active members, or invite them (``invite=True``), in one transaction.

    People already on the list (active, or already invited when inviting) are
    reported, not changed.
    """
    community = _lock(community)
    _require_open_for_joining(community)
    result = BulkResult()
    for member in members:
        membership = _new_or_existing(community, member)
        if membership.state == State.ACTIVE or (invite and membership.state == State.INVITED):
            result.already.append(member)
            continue
        if membership.state == State.REQUESTED:
            # They asked already: adding or inviting them is saying yes.
            _transition(
                membership, actor=actor, action=Action.APPROVED, state=State.ACTIVE, decided=True
            )
            notifications.request_decided(membership)
        elif invite:
            _transition(
                membership,
                actor=actor,
                action=Action.INVITED,
                state=State.INVITED,
                role=_default_role(community),
                decided=True,
            )
            notifications.invited(membership)
        else:
            _transition(
                membership,
                actor=actor,
                action=Action.ADDED,
                state=State.ACTIVE,
                role=_default_role(community),
                decided=True,
            )
        result.done.append(member)
    return result


@transaction.atomic
def remove_member(
    *, community: Community, membership: Membership, actor: Member, reason: str = ""
) -> Membership:
    """Take someone off the list (or withdraw their invitation or request)."""
    community = _lock(community)
    membership = _locked_membership(community, membership)
    if membership.state not in (State.ACTIVE, State.INVITED, State.REQUESTED):
        raise MembershipError(
            _("%(name)s is not on the list.") % {"name": membership.member.display_name}
        )
    _keeps_a_steward(community, membership)
    _keeps_a_sponsor(community, membership)
    return _transition(
        membership,
        actor=actor,
        action=Action.REMOVED,
        state=State.REMOVED,
        decided=True,
        note=reason,
    )


@transaction.atomic
def change_role(
    *, community: Community, membership: Membership, actor: Member, role: str
) -> Membership:
    """Make an active member a member, steward or sponsor.

    Appointing a sponsor makes the previous sponsor a member (one sponsor per KC).
    """
    community = _lock(community)
    membership = _locked_membership(community, membership)
    if role not in Role.values:
        raise MembershipError(_("Unknown role."))
    if membership.state != State.ACTIVE:
        raise MembershipError(_("Only active members can have a role."))
    if community.is_kc and role == Role.PARTICIPANT:
        raise MembershipError(_("Knowledge communities have members, not participants."))
    if not community.is_kc and role == Role.SPONSOR:
        raise MembershipError(_("Communities of practice have no sponsor."))
    if not community.is_kc and role == Role.MEMBER:
        raise MembershipError(_("Communities of practice have participants, not members."))
    if role == membership.role:
        raise MembershipError(
            _("%(name)s is already a %(role)s.")
            % {"name": membership.member.display_name, "role": membership.get_role_display()}
        )
    _keeps_a_steward(community, membership)
    _keeps_a_sponsor(community, membership)
    if role == Role.SPONSOR:
        previous = (
            Membership.objects.select_for_update()
            .select_related("member")
            .filter(community=community, state=State.ACTIVE, role=Role.SPONSOR)
            .first()
        )
        if previous is not None:
            _transition(
                previous,
                actor=actor,
                action=Action.ROLE_CHANGED,
                state=State.ACTIVE,
                role=Role.MEMBER,
                decided=True,
            )
    return _transition(
        membership,
        actor=actor,
        action=Action.ROLE_CHANGED,
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


def _unique_slug(text: str, *, model=Community, max_length: int = 150) -> str:
    """A slug for ``text`` not yet used by ``model``: "name", then "name-2", "name-3"…"""
    base = slugify(text)[:max_length] or model._meta.model_name
    slug, n = base, 2
    while model.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


# -- roster import ---------------------------------------------------------------------


@transaction.atomic
def preview_roster_import(
    *, community: Community, actor: Member, file_name: str, text: str, remove_absent: bool
) -> RosterImport:
    """Store an upload for preview (after checking it can be read at all)."""
    roster_upload.read_rows(text)  # raises RosterFileError for a file-level problem
    return RosterImport.objects.create(
        community=community,
        uploaded_by=actor,
        file_name=file_name[:255],
        content=text,
        remove_absent=remove_absent,
        fingerprint=roster_upload.roster_fingerprint(community),
    )


@transaction.atomic
def apply_roster_import(*, roster_import: RosterImport, actor: Member) -> dict[str, int]:
    """Apply every valid row of a previewed import in one transaction, once.

    Refused (nothing applied) if it was applied already, if the roster changed
    since the preview, or if the result would break a community rule.
    """
    community = _lock(roster_import.community)
    _require_open_for_joining(community)
    roster_import = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
    if roster_import.applied_at is not None:
        raise MembershipError(_("This import was already applied; nothing more to do."))
    if roster_upload.roster_fingerprint(community) != roster_import.fingerprint:
        raise MembershipError(
            _(
                "The membership list changed since this preview, so nothing was applied. "
                "Upload the file again to see a fresh preview."
            )
        )
    plan = roster_upload.plan_import(
        community, roster_import.content, remove_absent=roster_import.remove_absent
    )
    if plan.problems:
        raise MembershipError(" ".join(plan.problems))
    now = timezone.now()
    source = _("Imported from %(file)s") % {"file": roster_import.file_name}
    added: list[tuple] = []  # ("member_id", "role", "note") of each new membership
    changed: list[tuple[Membership, bool]] = []  # (membership, was it the sponsor?)
    events: list[tuple] = []  # _IMPORT_EVENT_COLUMNS of each event
    for row in plan.changes:
        membership = row.membership
        state_before = membership.state if membership else ""
        role_before = membership.role if membership else ""
        if row.action == "remove":
            action, state_after, role_after = Action.REMOVED, State.REMOVED, role_before
        else:
            action = Action.ADDED if row.action == "add" else Action.ROLE_CHANGED
            state_after, role_after = State.ACTIVE, row.role
        note = f"{source}: {row.note}" if row.note else source
        if membership is None:
            added.append((row.member.pk, role_after, note))
        else:
            was_sponsor = state_before == State.ACTIVE and role_before == Role.SPONSOR
            membership.state, membership.role, membership.note = state_after, role_after, note
            membership.decided_by, membership.decided_at, membership.updated_at = actor, now, now
            changed.append((membership, was_sponsor))
        events.append(
            (row.member.pk, row.member.display_name, action)
            + (state_before, state_after, role_before, role_after, note)
        )
    fields = ["state", "role", "decided_by", "decided_at", "note", "updated_at"]
    # Former sponsors first, in their own statement: the one-active-sponsor index is
    # checked row by row, so the new sponsor must come after the old one steps down.
    for was_sponsor in (True, False):
        Membership.objects.bulk_update(
            [m for m, flag in changed if flag is was_sponsor], fields, batch_size=1000
        )
    _insert_rows(
        Membership,
        {
            "community_id": community.pk,
            "state": State.ACTIVE,
            "decided_by_id": actor.pk,
            "decided_at": now,
            "created_at": now,
            "updated_at": now,
        },
        ("member_id", "role", "note"),
        added,
    )
    _insert_rows(
        MembershipEvent,
        {
            "community_id": community.pk,
            "actor_id": actor.pk,
            "actor_name": actor.display_name,
            "created_at": now,
        },
        _IMPORT_EVENT_COLUMNS,
        events,
    )
    roster_import.applied_at, roster_import.applied_by = now, actor
    roster_import.save(update_fields=["applied_at", "applied_by"])
    return plan.totals()


_IMPORT_EVENT_COLUMNS = (
    "target_id",
    "target_name",
    "action",
    "state_before",
    "state_after",
    "role_before",
    "role_after",
    "note",
)


def _insert_rows(model, same: dict, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert ``rows`` of ``model`` (values for ``columns``, attnames), each with the
    ``same`` values too: on PostgreSQL one ``INSERT … SELECT … FROM unnest(…)`` of an
    array per column (one statement, no model instances); elsewhere ``bulk_create`` in
    batches. Neither calls ``save()`` or sends signals."""
    if not rows:
        return
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            (model(**same, **dict(zip(columns, row, strict=True))) for row in rows),
            batch_size=1000,
        )
        return
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in (*same, *columns)]
    names = ", ".join(quote(each.column) for each in fields)
    constants = ", ".join(["%s"] * len(same))
    arrays = ", ".join(f"%s::{each.db_type(connection)}[]" for each in fields[len(same) :])
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608 (names from _meta)
        f"SELECT {constants}, u.* FROM unnest({arrays}) AS u"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*same.values(), *(list(values) for values in zip(*rows, strict=True))])


# -- Botkin's model: CoPs, proposals, formalisation, the ladder ------------------------


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
        raise MembershipError(
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
def record_cop(
    *,
    actor: Member,
    name: str,
    summary: str,
    cadence: str = "",
    description: str = "",
    practise_here: bool = True,
) -> Community:
    """Record a community of practice someone sees; listed at once."""
    community = Community.objects.create(
        name=name,
        slug=_unique_slug(name),
        kind=Community.Kind.COP,
        status=Community.Status.ACTIVE,
        summary=summary,
        description=description,
        cadence=cadence,
        stage=Community.Stage.SHARING,
    )
    if practise_here:
        join_community(community=community, member=actor)
    return community


STOP_WORDS = {
    "the",
    "and",
    "for",
    "our",
    "with",
    "from",
    "that",
    "this",
    "who",
    "all",
    "new",
    "how",
    "community",
    "communities",
    "practice",
    "group",
    "team",
    "club",
    "network",
}


def _significant_words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3} - STOP_WORDS


def similar_communities(
    name: str, summary: str = "", *, limit: int = 5, exclude_pk=None
) -> list[Community]:
    """Listed communities most like this name and summary, best first: shared words in
    the name count most, then in the summary, then how alike the names read."""
    name_words = _significant_words(name)
    words = name_words | _significant_words(summary)
    if not words:
        return []
    query = Q()
    for word in sorted(words)[:12]:
        query |= Q(name__icontains=word) | Q(summary__icontains=word)
    candidates = Community.objects.listed().filter(query).exclude(pk=exclude_pk)[:100]

    def score(candidate):
        shared_name = len(name_words & _significant_words(candidate.name))
        shared_any = len(words & _significant_words(f"{candidate.name} {candidate.summary}"))
        alike = difflib.SequenceMatcher(None, name.lower(), candidate.name.lower()).ratio()
        return (shared_name, shared_any, alike)

    return sorted(candidates, key=score, reverse=True)[:limit]


@transaction.atomic
def merge_communities(*, source: Community, target: Community, actor: Member) -> Community:
    """Merge a duplicate into ``target``: people, purposes and history move; the
    duplicate is archived and points at the survivor."""
    if source.pk == target.pk:
        raise MembershipError(_("Choose a different community to merge into."))
    if source.kind != target.kind:
        raise MembershipError(_("Only communities of the same kind can be merged."))
    # Lock both rows in a fixed order so two merges cannot deadlock.
    locked = {
        c.pk: c
        for c in Community.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id:
        raise MembershipError(_("This community was already merged."))
    if target.status in (Community.Status.ARCHIVED, Community.Status.PROPOSED):
        raise MembershipError(_("Merge into a community that is not archived or proposed."))
    # History first, so the moves below are recorded after it in the survivor.
    source.events.update(community=target)
    for membership in source.memberships.select_for_update().select_related("member"):
        if membership.state != State.ACTIVE:
            continue
        moved = _new_or_existing(target, membership.member)
        if moved.state == State.ACTIVE:
            continue
        _transition(
            moved,
            actor=actor,
            action=Action.MERGED,
            state=State.ACTIVE,
            role=Role.STEWARD if membership.role == Role.STEWARD else _default_role(target),
            decided=True,
            note=_("From %(name)s") % {"name": source.name},
        )
    source.memberships.all().delete()
    target.purposes.add(*source.purposes.all())
    source.status = Community.Status.ARCHIVED
    source.merged_into = target
    source.save(update_fields=["status", "merged_into", "updated_at"])
    return target


@transaction.atomic
def propose_kc(
    *,
    actor: Member,
    name: str,
    purpose_statement: str,
    summary: str = "",
    suggested_sponsor: Member | None = None,
    formed_from: Community | None = None,
) -> Community:
    """A staff member proposes a knowledge community; directory admins decide."""
    if formed_from is not None:
        _require_not_formalised(formed_from)
    purpose = future_purpose(purpose_statement)
    community = Community.objects.create(
        name=name,
        slug=_unique_slug(name),
        kind=Community.Kind.KC,
        status=Community.Status.PROPOSED,
        summary=summary,
        proposed_by=actor,
        suggested_sponsor=suggested_sponsor,
        formed_from=formed_from,
    )
    community.purposes.add(purpose)
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
        raise MembershipError(_("This proposal was already decided."))
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
    return community


@transaction.atomic
def decline_proposal(*, community: Community, actor: Member, reason: str = "") -> Community:
    community = _lock(community)
    if community.status != Community.Status.PROPOSED or community.declined_at:
        raise MembershipError(_("This proposal was already decided."))
    community.declined_at = timezone.now()
    community.decision_note = reason
    community.save(update_fields=["declined_at", "decision_note", "updated_at"])
    notifications.proposal_decided(community, approved=False)
    return community


def _carry_over_participants(cop: Community, kc: Community, *, actor, invite: bool) -> int:
    """The CoP's active participants become invited to (or members of) the KC."""
    carried = 0
    participants = cop.memberships.filter(state=State.ACTIVE).select_related("member__user")
    for participant in participants:
        membership = _new_or_existing(kc, participant.member)
        if membership.state == State.ACTIVE:
            continue
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
        carried += 1
    return carried


def _require_not_formalised(cop: Community) -> None:
    already = cop.formalised_as.exclude(status=Community.Status.PROPOSED).first()
    if already is not None:
        raise MembershipError(
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
    purposes,
    sponsor: Member,
    stewards: Iterable[Member],
    join_policy: str = Community.JoinPolicy.REQUEST,
    invite_participants: bool = True,
    archive_cop: bool = False,
) -> Community:
    """Turn a promising community of practice into a knowledge community, at once."""
    cop = _lock(cop)
    if not cop.is_cop:
        raise MembershipError(_("Only a community of practice can be formalised."))
    if cop.status == Community.Status.ARCHIVED:
        raise MembershipError(_("This community of practice is archived."))
    _require_not_formalised(cop)
    stewards = [s for s in dict.fromkeys(stewards) if s != sponsor]
    purposes = list(purposes)
    _require_activatable(sponsor=sponsor, stewards=stewards, purposes=purposes)
    kc = Community.objects.create(
        name=name,
        slug=_unique_slug(name),
        kind=Community.Kind.KC,
        status=Community.Status.ACTIVE,
        summary=cop.summary,
        description=cop.description,
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
    return kc


@transaction.atomic
def set_stage(*, community: Community, actor: Member, stage: str, note: str = "") -> StageChange:
    community = _lock(community)
    if stage not in Community.Stage.values:
        raise MembershipError(_("Unknown stage."))
    if stage == community.stage:
        raise MembershipError(_("The community is already at that stage."))
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
        raise MembershipError(
            _(
                "“%(statement)s” is already a purpose that spreads practice. A knowledge "
                "community needs a purpose that shapes the future: word it differently."
            )
            % {"statement": purpose.statement}
        )
    return purpose
