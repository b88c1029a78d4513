"""Roster CSV: reading an uploaded roster into a previewable plan, and writing
rosters and the directory as streamed, spreadsheet-safe CSV.

Import format: a header row with ``email`` or ``username`` (or both), ``role``,
and optionally ``note`` and ``state``; other columns are ignored, so a file
exported by kcdir imports unchanged.
"""

import codecs
import csv
import hashlib
import io
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from members.models import Member

from . import csv_export
from .models import Community, Membership, Purpose

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

ROLE_ALIASES = {
    "member": Membership.Role.MEMBER,
    "steward": Membership.Role.STEWARD,
    "sponsor": Membership.Role.SPONSOR,
    "participant": Membership.Role.PARTICIPANT,
    "coordinator": Membership.Role.STEWARD,
}


class RosterFileError(Exception):
    """The file as a whole cannot be read; the message says how to fix it."""


# -- writing ---------------------------------------------------------------------------


def safe_cell(value) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def unsafe_cell(text: str) -> str:
    """Undo ``safe_cell`` when a kcdir export comes back in."""
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


class _Echo:
    def write(self, value):
        return value


def csv_rows(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """Encode rows as CSV lines one at a time (for StreamingHttpResponse)."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so spreadsheet programs read the file as UTF-8
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


ROSTER_HEADER = ["name", "email", "username", "department", "role", "state", "joined", "decided_by"]
# Every membership (``export_memberships``): the community's slug, then a roster row.
MEMBERSHIPS_HEADER = ["community", *ROSTER_HEADER]


def roster_export_rows(
    community: Community, *, states=(Membership.State.ACTIVE,)
) -> Iterator[list]:
    """The community's memberships in ``states``, by name: ``ROSTER_HEADER``."""
    memberships = (
        community.memberships.filter(state__in=states)
        .select_related("member__user", "member__department", "decided_by")
        .order_by("member__display_name", "pk")
    )
    for membership in memberships.iterator(chunk_size=2000):
        yield _roster_row(membership)


def membership_rows(*, states=None) -> Iterator[list]:
    """Every membership (in ``states``, if given) in id order: ``MEMBERSHIPS_HEADER``."""
    memberships = Membership.objects.select_related(
        "community", "member__user", "member__department", "decided_by"
    ).order_by("pk")
    if states is not None:
        memberships = memberships.filter(state__in=states)
    for membership in memberships.iterator(chunk_size=5000):
        yield [membership.community.slug, *_roster_row(membership)]


def _roster_row(membership: Membership) -> list:
    member = membership.member
    return [
        member.display_name,
        member.user.email,
        member.user.username,
        member.department.name if member.department else "",
        membership.role,
        membership.state,
        membership.created_at.date().isoformat(),
        membership.decided_by.display_name if membership.decided_by else "",
    ]


DIRECTORY_HEADER = [
    "name",
    "slug",
    "kind",
    "status",
    "stage",
    "join_policy",
    "purposes",
    "sponsor",
    "stewards",
    "member_count",
]


def directory_communities():
    """The communities the directory export lists, with what its rows show."""
    return Community.objects.listed().with_counts().with_leaders().order_by("name", "pk")


def directory_rows(communities) -> Iterator[list]:
    for community in communities.iterator(chunk_size=500):
        yield [
            community.name,
            community.slug,
            community.kind,
            community.status,
            community.stage,
            community.join_policy if community.is_kc else "",
            "; ".join(purpose.statement for purpose in community.purposes.all()),
            community.sponsor.display_name if community.sponsor else "",
            "; ".join(steward.display_name for steward in community.stewards),
            community.active_member_count or 0,
        ]


# -- the export files: bytes, streamed; COPY on PostgreSQL ------------------------------
#
# Each export_* function returns an iterator of bytes: a BOM and the header, then the
# rows. On PostgreSQL with psycopg2 the rows come from one SQL query copied out as CSV
# (``csv_export``: the same bytes as the Python rows above, many times faster);
# elsewhere (or with ``use_copy=False``) from the row generators above through
# ``csv_rows``. ``on_rows(n)`` is called as rows are handed out (for progress and
# benchmarks). Nothing is queried until the first chunk is read.

Chunks = Generator[bytes, None, None]


def export_roster(
    community: Community,
    *,
    states=(Membership.State.ACTIVE,),
    use_copy: bool | None = None,
    on_rows=None,
) -> Chunks:
    """A community's roster (``ROSTER_HEADER``), by name: what Export CSV downloads."""
    if not _copying(use_copy):
        return _encoded(ROSTER_HEADER, roster_export_rows(community, states=states), on_rows)
    # The decider looked up row by row: cheaper, for one roster, than joining every member.
    decider = (
        f"(SELECT dp.display_name FROM {_tables()['member']} dp "  # noqa: S608 (_meta name)
        "WHERE dp.id = m.decided_by_id)"
    )
    query = (
        f"SELECT {', '.join(_roster_cells(decider))} {_membership_joins(join_decider=False)} "
        "WHERE m.community_id = %s AND m.state = ANY(%s) ORDER BY p.display_name, m.id"
    )
    return _copied(ROSTER_HEADER, query, [community.pk, list(states)], on_rows)


def export_memberships(*, states=None, use_copy: bool | None = None, on_rows=None) -> Chunks:
    """Every membership (in ``states``, if given) in id order (``MEMBERSHIPS_HEADER``):
    ``manage.py export_roster --all-communities`` and the benchmark."""
    if not _copying(use_copy):
        return _encoded(MEMBERSHIPS_HEADER, membership_rows(states=states), on_rows)
    tables = _tables()
    where, params = ("WHERE m.state = ANY(%s) ", [list(states)]) if states is not None else ("", [])
    query = (
        f"SELECT {_sql_cell('c.slug')}, {', '.join(_roster_cells())} {_membership_joins()} "
        f"JOIN {tables['community']} c ON c.id = m.community_id {where}ORDER BY m.id"
    )
    return _copied(MEMBERSHIPS_HEADER, query, params, on_rows)


def export_directory(*, use_copy: bool | None = None, on_rows=None) -> Chunks:
    """Every listed community (``DIRECTORY_HEADER``), by name: one aggregated query."""
    if not _copying(use_copy):
        return _encoded(DIRECTORY_HEADER, directory_rows(directory_communities()), on_rows)
    t = _tables()
    cells = ", ".join(
        _sql_cell(f"x.{name}")
        for name in ("name", "slug", "kind", "status", "stage", "join_policy")
        + ("purposes", "sponsor", "stewards", "member_count")
    )
    # Table names come from the models' _meta; every value is a parameter.
    query = f"""
        SELECT {cells} FROM (
            SELECT c.id, c.name, c.slug, c.kind, c.status, c.stage,
                CASE WHEN c.kind = %s THEN c.join_policy END AS join_policy,
                pu.statements AS purposes, l.sponsor, l.stewards,
                coalesce(n.active, 0)::text AS member_count
            FROM {t["community"]} c
            LEFT JOIN (
                SELECT cp.community_id,
                    string_agg(pp.statement, '; ' ORDER BY pp.statement) AS statements
                FROM {t["community_purposes"]} cp
                JOIN {t["purpose"]} pp ON pp.id = cp.purpose_id
                GROUP BY cp.community_id
            ) pu ON pu.community_id = c.id
            LEFT JOIN (
                SELECT community_id, count(*) AS active FROM {t["membership"]}
                WHERE state = %s GROUP BY community_id
            ) n ON n.community_id = c.id
            LEFT JOIN (
                SELECT m.community_id,
                    min(p.display_name) FILTER (WHERE m.role = %s) AS sponsor,
                    string_agg(p.display_name, '; ' ORDER BY p.display_name, m.id)
                        FILTER (WHERE m.role = %s) AS stewards
                FROM {t["membership"]} m JOIN {t["member"]} p ON p.id = m.member_id
                WHERE m.state = %s AND m.role IN (%s, %s)
                GROUP BY m.community_id
            ) l ON l.community_id = c.id
            WHERE c.status <> %s
        ) x
        ORDER BY x.name, x.id
    """  # noqa: S608
    Role, State = Membership.Role, Membership.State
    params = [
        Community.Kind.KC,
        State.ACTIVE,
        Role.SPONSOR,
        Role.STEWARD,
        State.ACTIVE,
        Role.SPONSOR,
        Role.STEWARD,
        Community.Status.PROPOSED,
    ]
    return _copied(DIRECTORY_HEADER, query, params, on_rows)


def _copying(use_copy: bool | None) -> bool:
    return csv_export.available() if use_copy is None else use_copy


def _encoded(header: list[str], rows: Iterable[Iterable], on_rows) -> Chunks:
    """The Python way: ``csv_rows`` one line at a time, encoded."""
    lines = csv_rows(header, rows)
    for _preamble in range(2):  # the BOM, the header
        yield next(lines).encode()
    for line in lines:
        if on_rows is not None:
            on_rows(1)
        yield line.encode()


def _copied(header: list[str], query: str, params, on_rows) -> Chunks:
    """The PostgreSQL way: BOM and header as ``csv_rows`` writes them, then ``COPY``."""
    yield "".join(csv_rows(header, [])).encode()
    yield from csv_export.copy_csv(query, params, on_rows=on_rows)


def _sql_cell(expression: str) -> str:
    """``safe_cell`` in SQL, for a text expression."""
    return csv_export.guarded(expression, FORMULA_PREFIXES)


def _roster_cells(decider: str = "dp.display_name") -> list[str]:
    """``_roster_row`` in SQL, over ``_membership_joins``."""
    return [
        _sql_cell(expression)
        for expression in (
            "p.display_name",
            "u.email",
            "u.username",
            "d.name",
            "m.role",
            "m.state",
            csv_export.utc_date("m.created_at"),
            decider,
        )
    ]


def _membership_joins(*, join_decider: bool = True) -> str:
    """Memberships ``m`` with their member ``p``, user ``u``, department ``d`` and (unless
    ``join_decider`` is false) the member who decided ``dp``: what ``_roster_row`` reads."""
    t = _tables()
    joins = (
        f"FROM {t['membership']} m "
        f"JOIN {t['member']} p ON p.id = m.member_id "
        f"JOIN {t['user']} u ON u.id = p.user_id "
        f"LEFT JOIN {t['department']} d ON d.id = p.department_id"
    )
    if join_decider:
        joins += f" LEFT JOIN {t['member']} dp ON dp.id = m.decided_by_id"
    return joins


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        name: quote(model._meta.db_table)
        for name, model in {
            "community": Community,
            "community_purposes": Community.purposes.through,
            "department": Member._meta.get_field("department").related_model,
            "member": Member,
            "membership": Membership,
            "purpose": Purpose,
            "user": Member._meta.get_field("user").related_model,
        }.items()
    }


# -- reading ---------------------------------------------------------------------------


@dataclass
class PlanRow:
    line: int
    key: str
    action: str  # add | change | unchanged | remove | skip | error
    role: str = ""
    note: str = ""
    message: str = ""
    member: Member | None = None
    membership: Membership | None = None


@dataclass
class RosterPlan:
    rows: list[PlanRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # rules the result would break

    ACTIONS = ("add", "change", "unchanged", "remove", "skip", "error")

    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(self.ACTIONS, 0)
        for row in self.rows:
            totals[row.action] += 1
        return totals

    @property
    def changes(self) -> list[PlanRow]:
        return [row for row in self.rows if row.action in ("add", "change", "remove")]

    @property
    def can_apply(self) -> bool:
        return not self.problems and bool(self.changes)


def decode_upload(data: bytes, *, name: str = "") -> str:
    if name and not name.lower().endswith((".csv", ".txt")):
        raise RosterFileError(_("Upload a .csv file (comma-separated values)."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise RosterFileError(
            _("The file is larger than %(mb)s MB. Split it into smaller files.")
            % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
        )
    if not data.strip():
        raise RosterFileError(_("The file is empty."))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RosterFileError(
            _("The file is UTF-16 text. In your spreadsheet, save it as “CSV UTF-8” and try again.")
        )
    if b"\x00" in data:
        raise RosterFileError(_("This is not a text file. Save the roster as CSV and try again."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RosterFileError(
            _(
                "The file is not UTF-8 text (byte %(position)s). In your spreadsheet, "
                "save it as “CSV UTF-8” and try again."
            )
            % {"position": error.start}
        ) from None


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; header names lower-cased and trimmed."""
    if "\x00" in text:
        raise RosterFileError(_("This is not a text file. Save the roster as CSV and try again."))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise RosterFileError(_("The file has no header row.")) from None
    header = [unsafe_cell(name.strip().lower()) for name in header]
    if not ({"email", "username"} & set(header)) or "role" not in header:
        raise RosterFileError(
            _(
                "The first row must name the columns: “email” or “username”, and “role” "
                "(optionally “note”). Found: %(found)s."
            )
            % {"found": ", ".join(name for name in header if name) or _("nothing")}
        )
    rows = []
    try:
        for values in reader:
            row = {
                name: unsafe_cell(value.strip())
                for name, value in zip(header, values, strict=False)
                if name
            }
            rows.append((reader.line_num, row))
    except csv.Error as error:
        raise RosterFileError(
            _("Line %(line)s cannot be read as CSV: %(error)s")
            % {"line": reader.line_num, "error": error}
        ) from None
    return rows


def roster_fingerprint(community: Community) -> str:
    """A digest of the community's memberships: changes when anyone's state or role does."""
    digest = hashlib.sha256()
    for pk, state, role in (
        community.memberships.order_by("pk").values_list("pk", "state", "role").iterator()
    ):
        digest.update(f"{pk}:{state}:{role};".encode())
    return digest.hexdigest()


def plan_import(community: Community, text: str, *, remove_absent: bool = False) -> RosterPlan:
    """What importing ``text`` would do to ``community``'s roster, row by row."""
    rows = read_rows(text)
    plan = RosterPlan()
    keys = [(row.get("email") or row.get("username") or "").lower() for _line, row in rows]
    people = people_by_key([key for key in keys if key], names_only=True)
    memberships = {
        m.member_id: m
        for m in community.memberships.select_related("member__user").iterator(chunk_size=2000)
    }
    default_role = Membership.Role.MEMBER if community.is_kc else Membership.Role.PARTICIPANT
    allowed_roles = (
        {Membership.Role.MEMBER, Membership.Role.STEWARD, Membership.Role.SPONSOR}
        if community.is_kc
        else {Membership.Role.PARTICIPANT, Membership.Role.STEWARD}
    )
    seen: dict[int, int] = {}
    for (line, row), key in zip(rows, keys, strict=True):
        if not any(row.values()):
            plan.rows.append(PlanRow(line, "", "error", message=_("Empty line.")))
            continue
        if not key:
            plan.rows.append(
                PlanRow(line, "", "error", message=_("No email or username on this line."))
            )
            continue
        member = people.get(key)
        if member is None and key in people:
            plan.rows.append(
                PlanRow(
                    line,
                    key,
                    "error",
                    message=_("Several people have this email; use the username instead."),
                )
            )
            continue
        if member is None:
            plan.rows.append(
                PlanRow(
                    line,
                    key,
                    "error",
                    message=_("No one in the directory has this email or username."),
                )
            )
            continue
        if member.pk in seen:
            plan.rows.append(
                PlanRow(
                    line,
                    key,
                    "error",
                    member=member,
                    message=_("Duplicate: %(name)s is already on line %(line)s.")
                    % {"name": member.display_name, "line": seen[member.pk]},
                )
            )
            continue
        seen[member.pk] = line
        raw_role = (row.get("role") or "").lower()
        current = memberships.get(member.pk)
        if raw_role:
            role = ROLE_ALIASES.get(raw_role, "")
        elif current is not None and current.state == Membership.State.ACTIVE:
            role = current.role  # a blank role keeps whatever role they have
        else:
            role = default_role
        if role == Membership.Role.MEMBER and not community.is_kc:
            role = Membership.Role.PARTICIPANT
        if role not in allowed_roles:
            plan.rows.append(
                PlanRow(
                    line,
                    key,
                    "error",
                    member=member,
                    message=_("Unknown role “%(role)s”: use %(roles)s.")
                    % {"role": row.get("role"), "roles": ", ".join(sorted(allowed_roles))},
                )
            )
            continue
        membership = memberships.get(member.pk)
        note = row.get("note", "")[:1000]
        if (row.get("state", "").lower() or Membership.State.ACTIVE) != Membership.State.ACTIVE:
            plan.rows.append(
                PlanRow(
                    line,
                    key,
                    "skip",
                    member=member,
                    membership=membership,
                    message=_("Not active in the file; left as it is."),
                )
            )
        elif membership is None or membership.state != Membership.State.ACTIVE:
            plan.rows.append(
                PlanRow(
                    line, key, "add", role=role, note=note, member=member, membership=membership
                )
            )
        elif membership.role != role:
            plan.rows.append(
                PlanRow(
                    line,
                    key,
                    "change",
                    role=role,
                    note=note,
                    member=member,
                    membership=membership,
                    message=f"{membership.get_role_display()} → {Membership.Role(role).label}",
                )
            )
        else:
            plan.rows.append(
                PlanRow(line, key, "unchanged", role=role, member=member, membership=membership)
            )
    if remove_absent:
        for membership in memberships.values():
            if membership.state == Membership.State.ACTIVE and membership.member_id not in seen:
                plan.rows.append(
                    PlanRow(
                        0,
                        membership.member.user.username,
                        "remove",
                        role=membership.role,
                        member=membership.member,
                        membership=membership,
                        message=_("Not in the file."),
                    )
                )
    plan.problems = _broken_rules(community, plan, memberships)
    return plan


def people_by_key(keys: list[str], *, names_only: bool = False) -> dict[str, Member | None]:
    """Active members by lower-cased username and email, for the given lower-cased keys.

    An email that several people share maps to None: it names no one for sure.
    ``names_only``: members with just their id and display name loaded (what an import
    plan needs; any other field would cost a query), not their whole row and user.
    """
    people: dict[str, Member | None] = {}
    usernames: set[str] = set()
    # One query on PostgreSQL (no parameter limit; it hashes long IN lists), which scans
    # the users once instead of once per 2,000 keys; batches of 2,000 elsewhere.
    size = 2000 if connection.features.max_query_params else max(len(keys), 1)
    for start in range(0, len(keys), size):
        chunk = keys[start : start + size]
        found = (
            Member.objects.active()
            .annotate(email_lower=Lower("user__email"), username_lower=Lower("user__username"))
            .filter(Q(email_lower__in=chunk) | Q(username_lower__in=chunk))
            .order_by()
        )
        found = found.only("display_name") if names_only else found.select_related("user")
        for member in found:
            people[member.username_lower] = member
            usernames.add(member.username_lower)
            email = member.email_lower
            if email and email not in usernames:
                shared = email in people and people[email] != member
                people[email] = None if shared else member
    return people


def _broken_rules(community: Community, plan: RosterPlan, memberships) -> list[str]:
    """The community rules the roster would break after this import."""
    roles = {
        member_id: m.role
        for member_id, m in memberships.items()
        if m.state == Membership.State.ACTIVE
    }
    for row in plan.rows:
        if row.action in ("add", "change"):
            roles[row.member.pk] = row.role
        elif row.action == "remove":
            roles.pop(row.member.pk, None)
    problems = []
    if community.status in (Community.Status.ARCHIVED, Community.Status.PROPOSED):
        problems.append(_("This community is archived or proposed and accepts no new members."))
    sponsors = [member_id for member_id, role in roles.items() if role == Membership.Role.SPONSOR]
    if len(sponsors) > 1:
        problems.append(
            _(
                "A knowledge community has one sponsor; this import would leave %(n)s. "
                "Make the current sponsor a member in the file, or name no new sponsor."
            )
            % {"n": len(sponsors)}
        )
    active_kc = community.is_kc and community.status == Community.Status.ACTIVE
    if active_kc and not sponsors:
        problems.append(
            _("This import would leave the community with no sponsor; name or keep one.")
        )
    if active_kc and Membership.Role.STEWARD not in roles.values():
        problems.append(
            _("This import would leave the community with no steward; keep at least one.")
        )
    return problems
