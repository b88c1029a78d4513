"""An uploaded roster CSV, read into a plan a steward previews before it is applied.

Format: a header row with ``email`` or ``username`` (or both), ``role``, and optionally
``note`` and ``state``; other columns are ignored, so a file exported by kcdir imports
unchanged. Columns are separated by ``,``, ``;`` or tabs (``separators``). Reads only:
``services.preview_roster_import`` stores the plan (once, at upload) and
``services.apply_roster_import`` writes it.
"""

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from members.models import Member

from ..models import Community, Membership
from ..selectors import people_by_key
from .cells import unsafe_cell
from .separators import AmbiguousSeparator, detect_separator

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
COLUMNS = ("email", "username", "role", "note", "state")

ROLE_ALIASES = {
    "member": Membership.Role.MEMBER,
    "steward": Membership.Role.STEWARD,
    "sponsor": Membership.Role.SPONSOR,
    "participant": Membership.Role.PARTICIPANT,
    "coordinator": Membership.Role.STEWARD,
}
Role, State = Membership.Role, Membership.State


class RosterFileError(Exception):
    """The file as a whole cannot be read; the message says how to fix it."""


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
    fingerprint: str = ""  # of the roster the plan was computed against

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


def read_rows(text: str, *, max_rows: int | None = None) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; header names lower-cased and trimmed.

    A file with more than ``max_rows`` rows (default: the ``ROSTER_IMPORT_MAX_ROWS``
    setting) is refused; past the limit the rest are only counted, for the message.
    """
    if max_rows is None:
        max_rows = settings.ROSTER_IMPORT_MAX_ROWS
    if "\x00" in text:
        raise RosterFileError(_("This is not a text file. Save the roster as CSV and try again."))
    text = text.removeprefix("\ufeff")  # decode_upload drops it; a caller may not have
    try:
        separator = detect_separator(text, COLUMNS)
    except AmbiguousSeparator as error:
        raise RosterFileError(
            _(
                "The first row mixes separators (%(separators)s), so its columns are "
                "unclear. Save the file with one separator; the first row must name the "
                "columns: “email” or “username”, and “role” (optionally “note”)."
            )
            % {"separators": error.names()}
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise RosterFileError(_("The file has no header row.")) from None
    header = [unsafe_cell(name.strip().lower()) for name in header]
    if not ({"email", "username"} & set(header)) or "role" not in header:
        raise RosterFileError(
            _(
                "The first row must name the columns, separated by “,” or “;”: “email” or "
                "“username”, and “role” (optionally “note”). Found: %(found)s."
            )
            % {"found": ", ".join(name for name in header if name) or _("nothing")}
        )
    rows, count = [], 0
    try:
        for values in reader:
            count += 1
            if count > max_rows:
                continue
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
    if count > max_rows:
        raise RosterFileError(
            _(
                "The file has %(count)s rows; the most one import takes is %(limit)s. "
                "Split it into smaller files."
            )
            % {
                "count": number_format(count, force_grouping=True),
                "limit": number_format(max_rows, force_grouping=True),
            }
        )
    return rows


def roster_fingerprint(community: Community) -> str:
    """A digest of the community's memberships: changes when anyone's state or role does."""
    return fingerprint_of(
        community.memberships.order_by("pk").values_list("pk", "state", "role").iterator()
    )


def fingerprint_of(memberships: Iterable[tuple[int, str, str]]) -> str:
    """The digest of (pk, state, role) of each membership, in pk order."""
    digest = hashlib.sha256()
    for pk, state, role in memberships:
        digest.update(f"{pk}:{state}:{role};".encode())
    return digest.hexdigest()


def plan_import(community: Community, text: str, *, remove_absent: bool = False) -> RosterPlan:
    """What importing ``text`` would do to ``community``'s roster, row by row."""
    rows = read_rows(text)
    keys = [(row.get("email") or row.get("username") or "").lower() for _line, row in rows]
    people = people_by_key([key for key in keys if key], names_only=True)
    memberships = {
        m.member_id: m
        for m in community.memberships.select_related("member__user").iterator(chunk_size=2000)
    }
    planner = _RowPlanner(community, people, memberships)
    plan = RosterPlan()
    for (line, row), key in zip(rows, keys, strict=True):
        plan.rows.append(planner.plan(line, row, key))
    if remove_absent:
        plan.rows.extend(planner.removals())
    plan.problems = broken_rules(
        community,
        {m.member_id: m.role for m in memberships.values() if m.state == State.ACTIVE},
        ((row.action, row.member.pk, row.role) for row in plan.changes),
    )
    # From the memberships the plan was computed against, not read again: a change
    # in between would otherwise pass for the state the plan assumed.
    plan.fingerprint = fingerprint_of(sorted((m.pk, m.state, m.role) for m in memberships.values()))
    return plan


class _RowPlanner:
    """Plans a file's rows against a community's roster, in the file's order (so a
    person's second line is the duplicate)."""

    def __init__(self, community: Community, people: dict, memberships: dict):
        self.community, self.people, self.memberships = community, people, memberships
        self.default_role = Role.MEMBER if community.is_kc else Role.PARTICIPANT
        self.allowed_roles = (
            {Role.MEMBER, Role.STEWARD, Role.SPONSOR}
            if community.is_kc
            else {Role.PARTICIPANT, Role.STEWARD}
        )
        self.seen: dict[int, int] = {}  # member id: the line they are on

    def plan(self, line: int, row: dict[str, str], key: str) -> PlanRow:
        refused = self._unknown_person(line, row, key)
        if refused is not None:
            return refused
        member = self.people[key]
        self.seen[member.pk] = line
        role = self._role(row, member)
        if role not in self.allowed_roles:
            return PlanRow(
                line,
                key,
                "error",
                member=member,
                message=_("Unknown role “%(role)s”: use %(roles)s.")
                % {"role": row.get("role"), "roles": ", ".join(sorted(self.allowed_roles))},
            )
        return self._action(line, row, key, member, role)

    def _unknown_person(self, line: int, row: dict[str, str], key: str) -> PlanRow | None:
        """The error row when ``row`` names no one for sure, or someone already seen."""
        if not any(row.values()):
            return PlanRow(line, "", "error", message=_("Empty line."))
        if not key:
            return PlanRow(line, "", "error", message=_("No email or username on this line."))
        if key in self.people and self.people[key] is None:
            message = _("Several people have this email; use the username instead.")
            return PlanRow(line, key, "error", message=message)
        if key not in self.people:
            message = _("No one in the directory has this email or username.")
            return PlanRow(line, key, "error", message=message)
        member = self.people[key]
        if member.pk in self.seen:
            return PlanRow(
                line,
                key,
                "error",
                member=member,
                message=_("Duplicate: %(name)s is already on line %(line)s.")
                % {"name": member.display_name, "line": self.seen[member.pk]},
            )
        return None

    def _role(self, row: dict[str, str], member: Member) -> str:
        raw_role = (row.get("role") or "").lower()
        current = self.memberships.get(member.pk)
        if raw_role:
            role = ROLE_ALIASES.get(raw_role, "")
        elif current is not None and current.state == State.ACTIVE:
            role = current.role  # a blank role keeps whatever role they have
        else:
            role = self.default_role
        if role == Role.MEMBER and not self.community.is_kc:
            role = Role.PARTICIPANT
        return role

    def _action(self, line: int, row: dict[str, str], key: str, member: Member, role: str):
        membership = self.memberships.get(member.pk)
        note = row.get("note", "")[:1000]
        if (row.get("state", "").lower() or State.ACTIVE) != State.ACTIVE:
            return PlanRow(
                line,
                key,
                "skip",
                member=member,
                membership=membership,
                message=_("Not active in the file; left as it is."),
            )
        if membership is None or membership.state != State.ACTIVE:
            return PlanRow(
                line, key, "add", role=role, note=note, member=member, membership=membership
            )
        if membership.role != role:
            return PlanRow(
                line,
                key,
                "change",
                role=role,
                note=note,
                member=member,
                membership=membership,
                message=f"{membership.get_role_display()} → {Role(role).label}",
            )
        return PlanRow(line, key, "unchanged", role=role, member=member, membership=membership)

    def removals(self) -> list[PlanRow]:
        """A remove row for each active member the file does not name."""
        return [
            PlanRow(
                0,
                membership.member.user.username,
                "remove",
                role=membership.role,
                member=membership.member,
                membership=membership,
                message=_("Not in the file."),
            )
            for membership in self.memberships.values()
            if membership.state == State.ACTIVE and membership.member_id not in self.seen
        ]


def broken_rules(
    community: Community, active_roles: dict[int, str], changes: Iterable[tuple[str, int, str]]
) -> list[str]:
    """The community rules its roster would break after an import.

    ``active_roles``: member id → role of each active member now; ``changes``: (action,
    member id, role) of each row that adds, changes or removes someone.
    """
    roles = dict(active_roles)
    for action, member_id, role in changes:
        if action in ("add", "change"):
            roles[member_id] = role
        elif action == "remove":
            roles.pop(member_id, None)
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
