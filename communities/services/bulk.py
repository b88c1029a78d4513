"""Roster changes many people at a time: adding or inviting a list, and importing a
roster CSV (stored for a preview, then applied once, in one transaction)."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from .. import notifications
from ..csv_io import roster_upload
from ..models import Community, Membership, MembershipEvent, RosterImport
from ._common import (
    Action,
    MembershipError,
    Role,
    State,
    _default_role,
    _lock,
    _new_or_existing,
    _require_open_for_joining,
    _transition,
)


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
    plan = _plan_still_valid(community, roster_import)
    now = timezone.now()
    source = _("Imported from %(file)s") % {"file": roster_import.file_name}
    rows = _ImportRows.of(plan, actor=actor, now=now, source=source)
    rows.write(community, actor=actor, now=now)
    roster_import.applied_at, roster_import.applied_by = now, actor
    roster_import.save(update_fields=["applied_at", "applied_by"])
    return plan.totals()


def _plan_still_valid(
    community: Community, roster_import: RosterImport
) -> roster_upload.RosterPlan:
    """The import's plan, worked out again now; refused if it cannot be applied."""
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
    return plan


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


@dataclass
class _ImportRows:
    """An import's writes: new memberships, changed ones, and one event for each."""

    added: list[tuple] = field(default_factory=list)  # ("member_id", "role", "note")
    changed: list[tuple[Membership, bool]] = field(default_factory=list)  # (it, was sponsor?)
    events: list[tuple] = field(default_factory=list)  # _IMPORT_EVENT_COLUMNS

    @classmethod
    def of(cls, plan: roster_upload.RosterPlan, *, actor: Member, now, source: str):
        rows = cls()
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
                rows.added.append((row.member.pk, role_after, note))
            else:
                was_sponsor = state_before == State.ACTIVE and role_before == Role.SPONSOR
                membership.state, membership.role, membership.note = state_after, role_after, note
                membership.decided_by, membership.decided_at = actor, now
                membership.updated_at = now
                if state_after == State.ACTIVE and state_before != State.ACTIVE:
                    membership.active_since = now
                rows.changed.append((membership, was_sponsor))
            rows.events.append(
                (row.member.pk, row.member.display_name, action)
                + (state_before, state_after, role_before, role_after, note)
            )
        return rows

    def write(self, community: Community, *, actor: Member, now) -> None:
        fields = ["state", "role", "decided_by", "decided_at", "active_since", "note", "updated_at"]
        # Former sponsors first, in their own statement: the one-active-sponsor index is
        # checked row by row, so the new sponsor must come after the old one steps down.
        for was_sponsor in (True, False):
            Membership.objects.bulk_update(
                [m for m, flag in self.changed if flag is was_sponsor], fields, batch_size=1000
            )
        _insert_rows(
            Membership,
            {
                "community_id": community.pk,
                "state": State.ACTIVE,
                "decided_by_id": actor.pk,
                "decided_at": now,
                "active_since": now,
                "created_at": now,
                "updated_at": now,
            },
            ("member_id", "role", "note"),
            self.added,
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
            self.events,
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
