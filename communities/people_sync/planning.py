"""Planning an HR sync: read the directory once and work out every change; no writes."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils.text import slugify

from members.models import Department, Member

from ..models import Membership
from .parsing import HRRow

USER_FIELDS = ("email", "first_name", "last_name")
MEMBER_FIELDS = ("display_name", "job_title", "department", "location")
PROGRESS_EVERY = 5000  # rows between progress reports
OPEN_STATES = (
    Membership.State.ACTIVE,
    Membership.State.REQUESTED,
    Membership.State.INVITED,
)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` every ``PROGRESS_EVERY`` rows."""


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
    """Everything a sync would do; ``services.sync_people`` writes it."""

    rows: int = 0
    changes: list[PersonChange] = field(default_factory=list)
    unchanged: int = 0
    skipped_admins: list[str] = field(default_factory=list)  # in the file, never touched
    kept_admins: int = 0  # active admin accounts not in the file, never deactivated
    active_people: int = 0  # active people HR manages (not admins), before the sync
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

    def deactivates_too_many(self, max_share: float) -> bool:
        """Whether the plan deactivates more than ``max_share`` of the active people HR
        manages (a truncated or wrong extract, most likely)."""
        return len(self.of_kind(ChangeKind.DEACTIVATE)) > max_share * self.active_people

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
    users = _users()
    members = _members()
    departments = _Departments(plan)
    plan.active_people = sum(1 for user in users.values() if user.is_active and not user.is_admin)
    in_file = _plan_rows(plan, rows, users, members, departments, progress)
    _plan_leavers(plan, users, members, in_file)
    if progress and len(rows) % PROGRESS_EVERY:
        progress("Planning", len(rows), len(rows))
    return plan


def _users() -> dict[str, _User]:
    """Every user, by username, in one query."""
    return {
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


def _members() -> dict[int, _Member]:
    """Every member, by user id, in one query."""
    return {
        values[0]: _Member(*values[1:])
        for values in Member.objects.values_list(
            "user_id", "pk", "display_name", "job_title", "department_id", "location"
        )
    }


def _plan_rows(
    plan: SyncPlan,
    rows: Sequence[HRRow],
    users: dict[str, _User],
    members: dict[int, _Member],
    departments: _Departments,
    progress: Progress | None,
) -> dict[str, int]:
    """Plan the people in the file; returns the line each username is first on."""
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
    return first_line


def _plan_leavers(
    plan: SyncPlan,
    users: dict[str, _User],
    members: dict[int, _Member],
    in_file: dict[str, int],
) -> None:
    """Plan the active people missing from the file: deactivated (admins are kept)."""
    leaving = []
    for user in users.values():
        if user.username in in_file or not user.is_active:
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
    if not leaving:
        return
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
