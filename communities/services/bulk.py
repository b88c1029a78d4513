"""Roster changes many people at a time: adding or inviting a list, and importing a
roster CSV (planned once at upload and the plan stored for a preview, then applied
once, in one transaction)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from background.jobs import start_job
from background.models import Job
from members.models import Member

from .. import notifications, overlaps
from ..csv_io import pg_copy, roster_upload
from ..models import Community, Membership, MembershipEvent, RosterImport, RosterImportRow
from ._common import (
    Action,
    MembershipError,
    Role,
    State,
    _default_role,
    _lock,
    _new_or_existing,
    _require_open_for_joining,
    _start_terms,
    _transition,
)
from ._counts import _recount_members


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
    reported, not changed; a lapsed invitation is sent anew.
    """
    community = _lock(community)
    _require_open_for_joining(community)
    with notifications.batch():  # one email each, over one connection, after commit
        result = _add_members(community, members, actor=actor, invite=invite)
    _recount_members([community.pk])
    return result


ADD_CHUNK = 200


@transaction.atomic
def queue_add_members(
    *,
    community: Community,
    members: list[Member],
    not_found: list[str],
    actor: Member,
    invite: bool,
    user,
) -> Job:
    """Add or invite a long list in the worker (``communities.tasks.add_members``),
    ``ADD_CHUNK`` people per transaction, its page showing how many are done."""
    _require_open_for_joining(community)
    label = (
        _("Inviting %(count)s people to %(community)s")
        if invite
        else _("Adding %(count)s people to %(community)s")
    ) % {"count": len(members), "community": community.name}
    return start_job(
        label=label,
        func="communities.tasks.add_members",
        args=[community.pk, [member.pk for member in members], actor.pk, invite, not_found],
        user=user,
        return_url=reverse("communities:community_manage", args=[community.slug]),
        total=len(members),
    )


def _add_members(community, members, *, actor, invite) -> BulkResult:
    result = BulkResult()
    for member in members:
        membership = _new_or_existing(community, member)
        invited = membership.state == State.INVITED and not membership.invitation_has_lapsed()
        if membership.state == State.ACTIVE or (invite and invited):
            result.already.append(member)
            continue
        if membership.state == State.REQUESTED:
            # They asked already: adding or inviting them is saying yes.
            _transition(
                membership,
                actor=actor,
                action=Action.APPROVED,
                state=State.ACTIVE,
                decided=True,
                counted=False,
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
                counted=False,
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
                counted=False,
            )
            notifications.added(membership, actor=actor)
        result.done.append(member)
    return result


# -- roster import ---------------------------------------------------------------------

ROSTER_IMPORT_KEPT_FOR = timedelta(hours=24)

_PLAN_ROW_COLUMNS = ("position", "line", "key", "action", "role", "note", "message", "member_id")


@transaction.atomic
def preview_roster_import(
    *,
    community: Community,
    actor: Member,
    file_name: str,
    text: str,
    remove_absent: bool,
    mode: str = RosterImport.Mode.ALL_OR_NOTHING,
) -> RosterImport:
    """Plan an upload once and store the plan, for its preview and its confirmation.

    ``mode`` (a ``RosterImport.Mode``) is what rows with errors will do: block the
    import (all or nothing) or be skipped. The plan's rows are stored errors first,
    then what changes, then what stays unchanged.

    Raises ``RosterFileError`` (nothing stored) for a file that cannot be read as a
    whole or has more rows than ``ROSTER_IMPORT_MAX_ROWS``. Once the file is planned,
    anyone's imports older than a day are deleted (``clear_stale_roster_imports``).
    """
    mode = RosterImport.Mode(mode)
    plan = roster_upload.plan_import(community, text, remove_absent=remove_absent)
    clear_stale_roster_imports()
    rows = sorted(
        plan.rows,
        key=lambda row: (row.action != "error", row.action == "unchanged", row.line),
    )
    pending = RosterImport.objects.create(
        community=community,
        uploaded_by=actor,
        file_name=file_name[:255],
        remove_absent=remove_absent,
        mode=mode,
        fingerprint=plan.fingerprint,
        totals=plan.totals(),
        problems=plan.problems,
        row_count=len(rows),
    )
    _store_plan_rows(pending, rows)
    return pending


def _store_plan_rows(pending: RosterImport, rows: list[roster_upload.PlanRow]) -> None:
    """The plan's rows, numbered in preview order: one ``COPY`` on PostgreSQL (several
    times faster than an ``INSERT`` for tens of thousands), ``bulk_create`` elsewhere."""
    values = [
        (position, row.line, row.key, row.action, row.role, row.note, row.message)
        + (row.member.pk if row.member else None,)
        for position, row in enumerate(rows)
    ]
    if not pg_copy.available():
        _insert_rows(RosterImportRow, {"roster_import_id": pending.pk}, _PLAN_ROW_COLUMNS, values)
        return
    fields = [RosterImportRow._meta.get_field(name) for name in _PLAN_ROW_COLUMNS]
    pg_copy.copy_in(
        RosterImportRow._meta.db_table,
        [RosterImportRow._meta.get_field("roster_import").column] + [f.column for f in fields],
        ((pending.pk, *row) for row in values),
    )


@transaction.atomic
def choose_roster_import_mode(*, roster_import: RosterImport, mode: str) -> RosterImport:
    """Change what a previewed, not yet applied import does with its rows with errors
    (a ``RosterImport.Mode``); the plan itself stays as it was planned."""
    mode = RosterImport.Mode(mode)
    roster_import = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
    if roster_import.applied_at is not None:
        raise MembershipError(_("This import was already applied; nothing more to do."))
    if roster_import.mode != mode:
        roster_import.mode = mode
        roster_import.save(update_fields=["mode"])
    return roster_import


@transaction.atomic
def queue_memberships_export(*, user) -> Job:
    """Export every membership of every community in the worker; the file is offered on
    the job's page."""
    return start_job(
        label=_("Export of every membership"),
        func="communities.tasks.export_memberships",
        args=[],
        user=user,
        return_url=reverse("communities:dashboard"),
        total=Membership.objects.count(),
    )


@transaction.atomic
def queue_roster_import(
    *, roster_import: RosterImport, actor: Member, mode: str | None, user
) -> Job:
    """Apply a big previewed import in the worker (``communities.tasks``), exactly as
    ``apply_roster_import`` applies it on the page; the job's page shows how it goes."""
    community = roster_import.community
    return start_job(
        label=_("Roster import of %(file)s into %(community)s")
        % {"file": roster_import.file_name, "community": community.name},
        func="communities.tasks.apply_roster_import",
        args=[roster_import.pk, actor.pk, mode],
        user=user,
        return_url=reverse(
            "communities:roster_import_preview", args=[community.slug, roster_import.pk]
        ),
        total=roster_import.row_count,
    )


@transaction.atomic
def apply_roster_import(
    *, roster_import: RosterImport, actor: Member, mode: str | None = None
) -> dict[str, int]:
    """Apply a previewed import's stored plan in one transaction, once, then delete
    the plan's rows (the import itself stays, to say it was applied; so do the rows
    with errors it skipped, for the page to list).

    ``mode``: the mode the confirming page showed; refused if the import's stored mode
    is no longer that one. Refused (nothing applied) too if it was applied already, if
    it is all or nothing and a row has an error, if the roster changed since the
    preview, if someone it adds or promotes has left the directory since, or if the
    result would break a community rule (all checked again, on the locked rows).

    Returns the plan's totals, with ``skipped``: the rows with errors left out.
    """
    community = _lock(roster_import.community)
    _require_open_for_joining(community)
    roster_import = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
    if roster_import.applied_at is None and mode is not None and mode != roster_import.mode:
        raise MembershipError(
            _(
                "The choice for rows with errors changed since this page was shown, so "
                "nothing was applied. Look at the preview again."
            )
        )
    changes = _stored_plan_still_valid(community, roster_import)
    now = timezone.now()
    source = _("Imported from %(file)s") % {"file": roster_import.file_name}
    memberships = {
        m.member_id: m
        for m in community.memberships.filter(
            member_id__in=Subquery(_change_rows(roster_import).values("member_id"))
        )
    }
    rows = _ImportRows.of(changes, memberships, actor=actor, now=now, source=source)
    rows.write(community, actor=actor, now=now)
    _recount_members([community.pk])
    notifications.roster_imported(community, rows.events, actor=actor)
    roster_import.applied_at, roster_import.applied_by = now, actor
    roster_import.save(update_fields=["applied_at", "applied_by"])
    skipped = roster_import.listed_row_count  # the error rows, stored first
    roster_import.rows.filter(position__gte=skipped).delete()
    return {**roster_import.totals, "skipped": skipped}


def clear_stale_roster_imports(
    *, older_than: timedelta = ROSTER_IMPORT_KEPT_FOR, batch_size: int = 100, progress=None
) -> tuple[int, int]:
    """Delete roster imports (applied or not) created more than ``older_than`` ago, with
    their plans, ``batch_size`` imports per transaction; ``progress(done, total)`` is
    called after each batch. Returns (imports deleted, plan rows deleted).

    When nothing is stale (the usual case, as every upload calls this) it is one query.
    """
    cutoff = timezone.now() - older_than
    stale = list(
        RosterImport.objects.filter(created_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    imports = plan_rows = 0
    for start in range(0, len(stale), batch_size):
        batch = stale[start : start + batch_size]
        with transaction.atomic():
            plan_rows += RosterImportRow.objects.filter(roster_import__in=batch).delete()[0]
            imports += RosterImport.objects.filter(pk__in=batch).delete()[0]
        if progress is not None:
            progress(start + len(batch), len(stale))
    return imports, plan_rows


@dataclass
class _Change:
    """A stored plan row that adds, changes or removes someone."""

    line: int
    action: str
    member_id: int
    name: str
    role: str
    note: str


CHANGE_ACTIONS = ("add", "change", "remove")


def _change_rows(roster_import: RosterImport):
    return roster_import.rows.filter(action__in=CHANGE_ACTIONS)


def _stored_plan_still_valid(community: Community, roster_import: RosterImport) -> list[_Change]:
    """The stored plan's changes, in file order (removals last); refused if the plan
    cannot be applied to the roster as it is now."""
    if roster_import.applied_at is not None:
        raise MembershipError(_("This import was already applied; nothing more to do."))
    roster = list(
        community.memberships.order_by("pk").values_list("pk", "state", "role", "member_id")
    )
    if roster_upload.fingerprint_of(row[:3] for row in roster) != roster_import.fingerprint:
        raise MembershipError(
            _(
                "The membership list changed since this preview, so nothing was applied. "
                "Upload the file again to see a fresh preview."
            )
        )
    # All or nothing: the rows with errors are read with the changes (one query), and
    # counted from the rows themselves, not the stored totals.
    all_or_nothing = roster_import.mode == RosterImport.Mode.ALL_OR_NOTHING
    actions = CHANGE_ACTIONS + ((RosterImportRow.Action.ERROR,) if all_or_nothing else ())
    changes, gone, errors = [], 0, 0
    for line, action, member_id, name, active, role, note in roster_import.rows.filter(
        action__in=actions
    ).values_list(
        "line",
        "action",
        "member_id",
        "member__display_name",
        "member__user__is_active",
        "role",
        "note",
    ):
        if action == RosterImportRow.Action.ERROR:
            errors += 1
        elif member_id is None or (not active and action != "remove"):
            gone += 1
        else:
            changes.append(_Change(line, action, member_id, name, role, note))
    if errors:
        raise MembershipError(
            ngettext(
                "%(n)s row has an error and this import is all or nothing, so nothing "
                "was applied. Correct the file and upload it again, or choose “Apply the "
                "valid rows”.",
                "%(n)s rows have errors and this import is all or nothing, so nothing "
                "was applied. Correct the file and upload it again, or choose “Apply the "
                "valid rows”.",
                errors,
            )
            % {"n": errors}
        )
    if gone:
        raise MembershipError(
            ngettext(
                "%(n)s person in this import has left the directory since the preview, "
                "so nothing was applied. Upload the file again to see a fresh preview.",
                "%(n)s people in this import have left the directory since the preview, "
                "so nothing was applied. Upload the file again to see a fresh preview.",
                gone,
            )
            % {"n": gone}
        )
    problems = roster_upload.broken_rules(
        community,
        {member_id: role for _pk, state, role, member_id in roster if state == State.ACTIVE},
        ((change.action, change.member_id, change.role) for change in changes),
    )
    if problems:
        raise MembershipError(" ".join(problems))
    changes.sort(key=lambda change: (change.line == 0, change.line))
    return changes


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
    """An import's writes: new memberships, changed ones, and one event for each; who
    became active and who stopped being active, for the stored overlaps."""

    added: list[tuple] = field(default_factory=list)  # ("member_id", "role", "note")
    changed: list[tuple[Membership, bool]] = field(default_factory=list)  # (it, was sponsor?)
    events: list[tuple] = field(default_factory=list)  # _IMPORT_EVENT_COLUMNS
    joined: list[int] = field(default_factory=list)  # member ids now active, before not
    left: list[int] = field(default_factory=list)  # member ids active before, now not

    @classmethod
    def of(cls, changes: list[_Change], memberships: dict[int, Membership], *, actor, now, source):
        rows = cls()
        for change in changes:
            membership = memberships.get(change.member_id)
            state_before = membership.state if membership else ""
            role_before = membership.role if membership else ""
            if change.action == "remove":
                action, state_after, role_after = Action.REMOVED, State.REMOVED, role_before
            else:
                action = Action.ADDED if change.action == "add" else Action.ROLE_CHANGED
                state_after, role_after = State.ACTIVE, change.role
            note = f"{source}: {change.note}" if change.note else source
            if (state_before == State.ACTIVE) != (state_after == State.ACTIVE):
                (rows.joined if state_after == State.ACTIVE else rows.left).append(change.member_id)
            if membership is None:
                rows.added.append((change.member_id, role_after, note))
            else:
                was_sponsor = state_before == State.ACTIVE and role_before == Role.SPONSOR
                membership.state, membership.role, membership.note = state_after, role_after, note
                membership.decided_by, membership.decided_at = actor, now
                membership.updated_at = now
                if state_after == State.ACTIVE and state_before != State.ACTIVE:
                    membership.active_since = now
                rows.changed.append((membership, was_sponsor))
            rows.events.append(
                (change.member_id, change.name, action)
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
        overlaps.people_joined(community_id=community.pk, member_ids=self.joined)
        overlaps.people_left(community_id=community.pk, member_ids=self.left)
        _start_terms(community, self.joined)
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
