"""People sync from HR: make users, members and departments match an HR extract.

Three steps, so that a dry run is the real thing minus the last one:

    parse_hr_csv(data) -> HRExtract   read the CSV; any problem in the file raises
                                      ``SyncError`` listing every bad line
    plan_sync(rows) -> SyncPlan       read the directory once (a fixed number of
                                      queries, whatever the size) and work out every
                                      change; writes nothing
    apply_sync(plan)                  write the plan in one transaction, in batches

Who HR manages: every user except superusers and staff. Admin and service accounts
are never created, changed, deactivated or reactivated by a sync, even when the file
lists them. Managed people missing from the file are deactivated, never deleted; their
open memberships (active, requested, invited) move to ``left`` with one
``MembershipEvent`` each, so the history stays. That deliberately bypasses the
last-steward rule of ``communities.services``: someone who left the organisation cannot
stay a steward, and the admin dashboard shows communities left without one. People who
come back are reactivated; their old memberships are not restored.

HR owns the columns it sends: a column missing from the header is left alone (for new
people it is blank), an empty cell in a column that is there clears the field.
"""

import codecs
import csv
import io
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify

from communities.models import Membership, MembershipEvent

from .models import Department, Member

REQUIRED_COLUMNS = ("username", "email")
OPTIONAL_COLUMNS = (
    "first_name",
    "last_name",
    "display_name",
    "job_title",
    "department",
    "location",
)
USER_FIELDS = ("email", "first_name", "last_name")
MEMBER_FIELDS = ("display_name", "job_title", "department", "location")

BATCH_SIZE = 1000  # rows per INSERT/UPDATE (Django lowers it where a database needs)
IN_CHUNK = 900  # ids per ``pk__in``: under SQLite's historical limit of 999 variables
PROGRESS_EVERY = 5000  # rows between progress reports
MAX_PROBLEMS_SHOWN = 25

SYNC_ACTOR_NAME = "HR sync"
LEFT_NOTE = "Left the organisation"
OPEN_STATES = (
    Membership.State.ACTIVE,
    Membership.State.REQUESTED,
    Membership.State.INVITED,
)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` every ``PROGRESS_EVERY`` rows."""


class SyncError(Exception):
    """The extract cannot be synced. ``problems`` lists each one, with its line."""

    def __init__(self, problems: str | Sequence[str]):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(self.problems[0] if self.problems else "")

    def __str__(self) -> str:
        shown = self.problems[:MAX_PROBLEMS_SHOWN]
        hidden = len(self.problems) - len(shown)
        if hidden:
            shown = [*shown, f"… and {hidden} more problems."]
        return "\n".join(shown)


# -- parsing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HRRow:
    """One person in the extract. ``None``: that column is not in the file."""

    line: int
    username: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    job_title: str | None = None
    department: str | None = None
    location: str | None = None


@dataclass
class HRExtract:
    rows: list[HRRow]
    ignored_columns: list[str] = field(default_factory=list)


def _column_key(heading: str) -> str:
    """``" First Name"`` and ``"first-name"`` both mean ``first_name``."""
    return "_".join(heading.strip().lower().replace("-", " ").split())


def _max_lengths() -> dict[str, int]:
    user_model = get_user_model()
    lengths = {
        name: user_model._meta.get_field(name).max_length
        for name in ("username", "email", "first_name", "last_name")
    }
    lengths.update(
        {
            name: Member._meta.get_field(name).max_length
            for name in ("display_name", "job_title", "location")
        }
    )
    lengths["department"] = Department._meta.get_field("name").max_length
    return lengths


def parse_hr_csv(data: bytes) -> HRExtract:
    """Read an HR extract (UTF-8 CSV, with or without BOM, any line endings).

    Raises ``SyncError`` listing every problem, so a file is either wholly usable or
    not used at all: a half-read extract would deactivate everyone it failed to read.
    """
    if not data.strip():
        raise SyncError("The file is empty.")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise SyncError(
            f"Line {line}: the file contains NUL bytes, so it is not a CSV text file "
            "(an Excel workbook, or a UTF-16 export?). Save it as 'CSV UTF-8' and try again."
        )
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SyncError(
            f"Line {line}: not valid UTF-8 (byte 0x{data[error.start]:02x}). "
            "Save the file as 'CSV UTF-8' and try again."
        ) from None

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
        if header is None:
            raise SyncError("The file is empty.")
        index, ignored = _read_header(header, line=reader.line_num)
        rows, problems = _read_rows(reader, index=index, width=len(header))
    except csv.Error as error:
        raise SyncError(f"Line {reader.line_num}: not valid CSV ({error}).") from None
    if problems:
        raise SyncError(problems)
    if not rows:
        raise SyncError(
            "The file has a header but no people. A sync with no people would deactivate "
            "everyone, so nothing was done."
        )
    return HRExtract(rows=rows, ignored_columns=ignored)


def _read_header(header: list[str], *, line: int) -> tuple[dict[str, int], list[str]]:
    index: dict[str, int] = {}
    ignored: list[str] = []
    for position, heading in enumerate(header):
        key = _column_key(heading)
        if key not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            if heading.strip():
                ignored.append(heading.strip())
            continue
        if key in index:
            raise SyncError(f"Line {line}: the column '{key}' appears twice in the header.")
        index[key] = position
    missing = [name for name in REQUIRED_COLUMNS if name not in index]
    if missing:
        message = (
            f"Line {line}: the header has no {' or '.join(repr(n) for n in missing)} column "
            f"(required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)})."
        )
        if len(header) == 1 and ";" in header[0]:
            message += " The file seems to use ';' between values: save it comma-separated."
        raise SyncError(message)
    return index, ignored


def _read_rows(reader, *, index: dict[str, int], width: int) -> tuple[list[HRRow], list[str]]:
    normalize_username = get_user_model().normalize_username
    normalize_email = get_user_model().objects.normalize_email
    check_username = UnicodeUsernameValidator()
    max_lengths = _max_lengths()
    rows: list[HRRow] = []
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    while True:
        line = reader.line_num + 1
        record = next(reader, None)
        if record is None:
            break
        if not any(cell.strip() for cell in record):
            continue  # blank lines, and the ",,,," rows spreadsheets leave at the end
        if len(record) != width:
            problems.append(
                f"Line {line}: {len(record)} values, but the header has {width} columns."
            )
            continue
        values = {name: record[position].strip() for name, position in index.items()}
        username = normalize_username(values["username"])
        row_problems = []
        if not username:
            row_problems.append(f"Line {line}: the username is empty.")
        else:
            try:
                check_username(username)
            except ValidationError:
                row_problems.append(
                    f"Line {line}: the username '{username}' may contain only letters, "
                    "digits and @ . + - _"
                )
            if username in first_seen:
                row_problems.append(
                    f"Line {line}: the username '{username}' appears again "
                    f"(first on line {first_seen[username]})."
                )
            else:
                first_seen[username] = line
        if not values["email"]:
            row_problems.append(f"Line {line}: the email is empty.")
        else:
            try:
                validate_email(values["email"])
            except ValidationError:
                row_problems.append(
                    f"Line {line}: '{values['email']}' is not a valid email address."
                )
        for name, value in values.items():
            if len(value) > max_lengths[name]:
                row_problems.append(
                    f"Line {line}: {name} is longer than {max_lengths[name]} characters."
                )
        if row_problems:
            problems.extend(row_problems)
            continue
        rows.append(
            HRRow(
                line=line,
                username=username,
                email=normalize_email(values["email"]),
                **{name: values.get(name) for name in OPTIONAL_COLUMNS},
            )
        )
    return rows, problems


# -- planning --------------------------------------------------------------------------


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REACTIVATE = "reactivate"
    DEACTIVATE = "deactivate"


@dataclass(slots=True)
class PersonChange:
    """One person the sync changes.

    ``user_fields`` and ``member_fields`` hold the values after the sync (every field,
    not only the changed ones; the department by name); ``changed`` holds
    ``field: (before, after)`` for the fields that differ.
    """

    kind: ChangeKind
    username: str
    display_name: str
    line: int | None = None  # in the file; None for people missing from it
    user_id: int | None = None
    member_id: int | None = None
    user_fields: dict[str, str] = field(default_factory=dict)
    member_fields: dict[str, str | None] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    memberships_left: int = 0

    def details(self) -> list[str]:
        """What changes, in words (column names as in the file)."""
        if self.kind == ChangeKind.DEACTIVATE:
            return [f"open memberships: {self.memberships_left}"] if self.memberships_left else []
        if self.kind == ChangeKind.CREATE:
            department = self.member_fields.get("department")
            return [f"department: {department}"] if department else []
        details = [
            f"{name}: '{before}' -> '{after}'" for name, (before, after) in self.changed.items()
        ]
        if self.member_id is None:
            details.append("member profile created")
        return details

    def describe(self) -> str:
        where = f", line {self.line}" if self.line else ""
        details = "; ".join(self.details())
        return f"{self.username} ({self.display_name}{where})" + (f": {details}" if details else "")


@dataclass
class SyncPlan:
    """Everything a sync would do; ``apply_sync`` writes it."""

    rows: int = 0
    changes: list[PersonChange] = field(default_factory=list)
    unchanged: int = 0
    skipped_admins: list[str] = field(default_factory=list)  # in the file, never touched
    kept_admins: int = 0  # active admin accounts not in the file, never deactivated
    new_departments: dict[str, str] = field(default_factory=dict)  # name: slug
    department_ids: dict[str, int] = field(default_factory=dict)  # existing, by name
    errors: list[str] = field(default_factory=list)

    def of_kind(self, kind: ChangeKind) -> list[PersonChange]:
        return [change for change in self.changes if change.kind == kind]

    def sample(self, per_kind: int | None) -> list[tuple[ChangeKind, list[PersonChange], int]]:
        """For display: ``(kind, first changes, how many more)`` for each kind there is,
        so a long list of new people never hides the few who would be deactivated."""
        groups = []
        for kind in ChangeKind:
            changes = self.of_kind(kind)
            shown = changes if per_kind is None else changes[:per_kind]
            if shown:
                groups.append((kind, shown, len(changes) - len(shown)))
        return groups

    @property
    def is_empty(self) -> bool:
        return not self.changes and not self.new_departments

    def summary(self) -> dict[str, int]:
        kinds = Counter(change.kind for change in self.changes)
        return {
            "rows": self.rows,
            "created": kinds[ChangeKind.CREATE],
            "updated": kinds[ChangeKind.UPDATE],
            "reactivated": kinds[ChangeKind.REACTIVATE],
            "deactivated": kinds[ChangeKind.DEACTIVATE],
            "memberships_left": sum(change.memberships_left for change in self.changes),
            "unchanged": self.unchanged,
            "departments_created": len(self.new_departments),
            "admin_accounts_skipped": len(self.skipped_admins),
            "errors": len(self.errors),
        }


def format_summary(summary: dict[str, int]) -> str:
    """``summary()`` in one line, for the command and the log."""
    return (
        f"{summary['rows']:,} rows: {summary['created']:,} created, "
        f"{summary['updated']:,} updated, {summary['reactivated']:,} reactivated, "
        f"{summary['deactivated']:,} deactivated "
        f"({summary['memberships_left']:,} memberships marked left), "
        f"{summary['unchanged']:,} unchanged; new departments: "
        f"{summary['departments_created']:,}; admin accounts skipped: "
        f"{summary['admin_accounts_skipped']:,}"
    )


class _User(NamedTuple):
    pk: int
    username: str
    email: str
    first_name: str
    last_name: str
    is_active: bool
    is_admin: bool


class _Member(NamedTuple):
    pk: int
    display_name: str
    job_title: str
    department_id: int | None
    location: str


class _Departments:
    """Departments by name, found again by slug ("claims" is "Claims"), created if new."""

    def __init__(self, plan: SyncPlan):
        self.plan = plan
        self.names: dict[int, str] = {}
        self.by_slug: dict[str, str] = {}
        for pk, name, slug in Department.objects.values_list("pk", "name", "slug"):
            self.names[pk] = name
            self.by_slug[slug] = name
            plan.department_ids[name] = pk

    def resolve(self, name: str) -> str | None:
        """The department's name as the directory spells it ('' means none)."""
        if not name:
            return None
        if name in self.plan.department_ids or name in self.plan.new_departments:
            return name
        slug = slugify(name)[:120]
        if slug and slug in self.by_slug:
            return self.by_slug[slug]
        base = slug or "department"
        slug, n = base, 2
        while slug in self.by_slug:
            slug, n = f"{base[:110]}-{n}", n + 1
        self.by_slug[slug] = name
        self.plan.new_departments[name] = slug
        return name


def _default_display_name(first_name: str, last_name: str, username: str) -> str:
    return (f"{first_name} {last_name}".strip() or username)[:150]


def plan_sync(rows: Sequence[HRRow], *, progress: Progress | None = None) -> SyncPlan:
    """Work out what syncing ``rows`` would change. Reads only; four queries at most."""
    plan = SyncPlan(rows=len(rows))
    users = {
        values[1]: _User(*values[:6], is_admin=values[6] or values[7])
        for values in get_user_model().objects.values_list(
            "pk",
            "username",
            "email",
            "first_name",
            "last_name",
            "is_active",
            "is_staff",
            "is_superuser",
        )
    }
    members = {
        values[0]: _Member(*values[1:])
        for values in Member.objects.values_list(
            "user_id", "pk", "display_name", "job_title", "department_id", "location"
        )
    }
    departments = _Departments(plan)
    usernames_by_case = {username.lower(): username for username in users}

    first_line: dict[str, int] = {}
    for done, row in enumerate(rows, start=1):
        user = users.get(row.username)
        if row.username in first_line:  # parse_hr_csv refuses these; rows from elsewhere
            plan.errors.append(
                f"Line {row.line}: the username '{row.username}' appears again "
                f"(first on line {first_line[row.username]})."
            )
            continue
        first_line[row.username] = row.line
        if user is None:
            other = usernames_by_case.get(row.username.lower())
            if other is not None:
                plan.errors.append(
                    f"Line {row.line}: the username '{row.username}' differs only in capitals "
                    f"from the existing user '{other}'. Correct the file or the user so they "
                    "match."
                )
            else:
                plan.changes.append(_creation(row, departments))
        elif user.is_admin:
            plan.skipped_admins.append(row.username)
        else:
            change = _update(row, user, members.get(user.pk), departments)
            if change is None:
                plan.unchanged += 1
            else:
                plan.changes.append(change)
        if progress and done % PROGRESS_EVERY == 0:
            progress("Planning", done, len(rows))

    leaving = []
    for user in users.values():
        if user.username in first_line or not user.is_active:
            continue
        if user.is_admin:
            plan.kept_admins += 1
            continue
        member = members.get(user.pk)
        leaving.append(
            PersonChange(
                kind=ChangeKind.DEACTIVATE,
                username=user.username,
                display_name=member.display_name if member else user.username,
                user_id=user.pk,
                member_id=member.pk if member else None,
            )
        )
    if leaving:
        open_counts = dict(
            Membership.objects.filter(state__in=OPEN_STATES, member__user__is_active=True)
            .order_by()
            .values("member_id")
            .annotate(n=Count("pk"))
            .values_list("member_id", "n")
        )
        for change in leaving:
            change.memberships_left = open_counts.get(change.member_id, 0)
        plan.changes.extend(sorted(leaving, key=lambda change: change.username))
    if progress and len(rows) % PROGRESS_EVERY:
        progress("Planning", len(rows), len(rows))
    return plan


def _creation(row: HRRow, departments: _Departments) -> PersonChange:
    first_name, last_name = row.first_name or "", row.last_name or ""
    display_name = row.display_name or _default_display_name(first_name, last_name, row.username)
    return PersonChange(
        kind=ChangeKind.CREATE,
        username=row.username,
        display_name=display_name,
        line=row.line,
        user_fields={"email": row.email, "first_name": first_name, "last_name": last_name},
        member_fields={
            "display_name": display_name,
            "job_title": row.job_title or "",
            "department": departments.resolve(row.department or ""),
            "location": row.location or "",
        },
    )


def _update(
    row: HRRow, user: _User, member: _Member | None, departments: _Departments
) -> PersonChange | None:
    """The change for someone already in the directory, or None if there is none."""
    user_before = {"email": user.email, "first_name": user.first_name, "last_name": user.last_name}
    user_after = {
        "email": row.email,
        "first_name": user.first_name if row.first_name is None else row.first_name,
        "last_name": user.last_name if row.last_name is None else row.last_name,
    }
    if member is not None:
        member_before = {
            "display_name": member.display_name,
            "job_title": member.job_title,
            "department": departments.names.get(member.department_id),
            "location": member.location,
        }
    else:
        member_before = dict.fromkeys(MEMBER_FIELDS)
    if row.display_name:
        display_name = row.display_name
    elif row.display_name is None and member is not None:
        display_name = member.display_name  # no such column: leave the name people chose
    else:
        display_name = _default_display_name(
            user_after["first_name"], user_after["last_name"], row.username
        )
    member_after = {
        "display_name": display_name,
        "job_title": member_before["job_title"] if row.job_title is None else row.job_title,
        "department": member_before["department"]
        if row.department is None
        else departments.resolve(row.department),
        "location": member_before["location"] if row.location is None else row.location,
    }
    if member is None:
        member_after = {name: value or "" for name, value in member_after.items()}
        member_after["department"] = member_after["department"] or None
    changed = {
        name: (before or "", after or "")
        for name, before, after in [
            *((n, user_before[n], user_after[n]) for n in USER_FIELDS),
            *((n, member_before[n], member_after[n]) for n in MEMBER_FIELDS),
        ]
        if (before or "") != (after or "")
    }
    if not changed and member is not None and user.is_active:
        return None
    return PersonChange(
        kind=ChangeKind.UPDATE if user.is_active else ChangeKind.REACTIVATE,
        username=row.username,
        display_name=display_name,
        line=row.line,
        user_id=user.pk,
        member_id=member.pk if member else None,
        user_fields=user_after,
        member_fields=member_after,
        changed=changed,
    )


# -- applying --------------------------------------------------------------------------


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _unusable_password() -> str:
    # What make_password(None) stores, without 40 calls to secrets.choice per person.
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)


@transaction.atomic
def apply_sync(plan: SyncPlan, *, progress: Progress | None = None) -> dict[str, int]:
    """Write ``plan`` in one transaction; returns its ``summary()`` as applied.

    Writes in batches (one statement per ``BATCH_SIZE`` rows, never one per person).
    Accounts that became admin accounts since planning are left alone.
    """
    if plan.errors:
        raise SyncError(plan.errors)
    admin_ids = set(
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(is_superuser=True))
        .values_list("pk", flat=True)
    )
    department_ids = {**plan.department_ids, **_create_departments(plan.new_departments)}
    _create_people(plan.of_kind(ChangeKind.CREATE), department_ids, progress)
    changing = [
        change
        for change in plan.changes
        if change.kind in (ChangeKind.UPDATE, ChangeKind.REACTIVATE)
        and change.user_id not in admin_ids
    ]
    _update_people(changing, department_ids, progress)
    leaving = [
        change for change in plan.of_kind(ChangeKind.DEACTIVATE) if change.user_id not in admin_ids
    ]
    memberships_left = _deactivate_people(leaving, progress)
    summary = plan.summary()
    summary["memberships_left"] = memberships_left
    return summary


def _create_departments(new_departments: dict[str, str]) -> dict[str, int]:
    created = Department.objects.bulk_create(
        [Department(name=name, slug=slug) for name, slug in new_departments.items()],
        batch_size=BATCH_SIZE,
    )
    return {department.name: department.pk for department in created}


def _create_people(
    changes: list[PersonChange], department_ids: dict[str, int], progress: Progress | None
) -> None:
    user_model = get_user_model()
    done = 0
    for chunk in _chunks(changes, PROGRESS_EVERY):
        users = user_model.objects.bulk_create(
            [
                user_model(
                    username=change.username, password=_unusable_password(), **change.user_fields
                )
                for change in chunk
            ],
            batch_size=BATCH_SIZE,
        )
        _fill_primary_keys(users)
        Member.objects.bulk_create(
            [
                _new_member(user.pk, change, department_ids)
                for user, change in zip(users, chunk, strict=True)
            ],
            batch_size=BATCH_SIZE,
        )
        done += len(chunk)
        if progress:
            progress("Creating", done, len(changes))


def _fill_primary_keys(users: list) -> None:
    """SQLite before 3.35 cannot return the new rows' keys from a bulk insert."""
    if all(user.pk is not None for user in users):
        return
    ids = {}
    for chunk in _chunks([user.username for user in users], IN_CHUNK):
        ids.update(
            get_user_model().objects.filter(username__in=chunk).values_list("username", "pk")
        )
    for user in users:
        user.pk = ids[user.username]


def _new_member(user_id: int, change: PersonChange, department_ids: dict[str, int]) -> Member:
    fields = change.member_fields
    return Member(
        user_id=user_id,
        display_name=fields["display_name"],
        job_title=fields["job_title"],
        department_id=department_ids.get(fields["department"]) if fields["department"] else None,
        location=fields["location"],
    )


def _update_people(
    changes: list[PersonChange], department_ids: dict[str, int], progress: Progress | None
) -> None:
    """Write changed fields and reactivations; untouched people get no UPDATE at all.

    ``bulk_update`` writes the union of the changed fields for every row in the batch,
    which is safe because each ``PersonChange`` carries every field's value.
    """
    user_model = get_user_model()
    now = timezone.now()
    done = 0
    for chunk in _chunks(changes, PROGRESS_EVERY):
        users, user_fields = [], set()
        members, member_fields, new_members = [], set(), []
        for change in chunk:
            changed_user_fields = {name for name in change.changed if name in USER_FIELDS}
            if change.kind == ChangeKind.REACTIVATE:
                changed_user_fields.add("is_active")
            if changed_user_fields:
                users.append(user_model(pk=change.user_id, is_active=True, **change.user_fields))
                user_fields |= changed_user_fields
            if change.member_id is None:
                new_members.append(_new_member(change.user_id, change, department_ids))
                continue
            changed_member_fields = {name for name in change.changed if name in MEMBER_FIELDS}
            if changed_member_fields:
                member = _new_member(change.user_id, change, department_ids)
                member.pk, member.updated_at = change.member_id, now
                members.append(member)
                member_fields |= changed_member_fields
        if users:
            user_model.objects.bulk_update(users, sorted(user_fields), batch_size=BATCH_SIZE)
        if members:
            Member.objects.bulk_update(
                members, [*sorted(member_fields), "updated_at"], batch_size=BATCH_SIZE
            )
        Member.objects.bulk_create(new_members, batch_size=BATCH_SIZE)
        done += len(chunk)
        if progress:
            progress("Updating", done, len(changes))


def _deactivate_people(changes: list[PersonChange], progress: Progress | None) -> int:
    """Deactivate people and move their open memberships to ``left``, one event each.

    Returns how many memberships were marked left.
    """
    if not changes:
        return 0
    user_model = get_user_model()
    now = timezone.now()
    for chunk in _chunks([change.user_id for change in changes], IN_CHUNK):
        user_model.objects.filter(pk__in=chunk, is_staff=False, is_superuser=False).update(
            is_active=False
        )
    if progress:
        progress("Deactivating", len(changes), len(changes))
    # One read for all of them: open memberships of inactive people, narrowed to the
    # people deactivated now (someone deactivated by hand earlier is not this sync's).
    leaving = {change.member_id for change in changes if change.member_id is not None}
    memberships = [
        values
        for values in Membership.objects.filter(
            state__in=OPEN_STATES, member__user__is_active=False
        ).values_list("pk", "community_id", "member_id", "member__display_name", "state", "role")
        if values[2] in leaving
    ]
    for chunk in _chunks([values[0] for values in memberships], IN_CHUNK):
        Membership.objects.filter(pk__in=chunk).update(
            state=Membership.State.LEFT, note=LEFT_NOTE, updated_at=now
        )
    MembershipEvent.objects.bulk_create(
        [
            MembershipEvent(
                community_id=community_id,
                actor=None,
                actor_name=SYNC_ACTOR_NAME,
                target_id=member_id,
                target_name=display_name,
                action=MembershipEvent.Action.LEFT,
                state_before=state,
                state_after=Membership.State.LEFT,
                role_before=role,
                role_after=role,
                note=LEFT_NOTE,
                created_at=now,
            )
            for _pk, community_id, member_id, display_name, state, role in memberships
        ],
        batch_size=BATCH_SIZE,
    )
    if progress:
        progress("Marking memberships left", len(memberships), len(memberships))
    return len(memberships)
