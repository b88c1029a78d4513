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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from members.models import Member

from .models import Community, Membership

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


def roster_rows(community: Community, *, states=(Membership.State.ACTIVE,)) -> Iterator[list]:
    memberships = (
        community.memberships.filter(state__in=states)
        .select_related("member__user", "member__department", "decided_by")
        .order_by("member__display_name", "pk")
    )
    for membership in memberships.iterator(chunk_size=2000):
        member = membership.member
        yield [
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
    people = people_by_key([key for key in keys if key])
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


def people_by_key(keys: list[str]) -> dict[str, Member | None]:
    """Active members by lower-cased username and email, for the given lower-cased keys.

    An email that several people share maps to None: it names no one for sure.
    """
    people: dict[str, Member | None] = {}
    usernames: set[str] = set()
    for start in range(0, len(keys), 2000):
        chunk = keys[start : start + 2000]
        found = (
            Member.objects.active()
            .select_related("user")
            .annotate(email_lower=Lower("user__email"), username_lower=Lower("user__username"))
            .filter(Q(email_lower__in=chunk) | Q(username_lower__in=chunk))
        )
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
