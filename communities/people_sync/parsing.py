"""Reading an HR extract: a UTF-8 CSV with a header row, wholly usable or not used.
Columns are separated by ``,``, ``;`` or tabs, told by the header (``csv_io.separators``)."""

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from members.models import Department, Member

from ..csv_io.separators import AmbiguousSeparator, detect_separator

REQUIRED_COLUMNS = ("username", "email")
OPTIONAL_COLUMNS = (
    "first_name",
    "last_name",
    "display_name",
    "job_title",
    "department",
    "location",
)
MAX_PROBLEMS_SHOWN = 25


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

    try:
        separator = detect_separator(
            text, REQUIRED_COLUMNS + OPTIONAL_COLUMNS, normalize=_column_key
        )
    except AmbiguousSeparator as error:
        raise SyncError(
            f"The header mixes separators ({error.names()}), so its columns are unclear. "
            "Save the file with one separator between the columns "
            f"(required: {', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)})."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
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
        raise SyncError(
            f"Line {line}: the header has no {' or '.join(repr(n) for n in missing)} column "
            f"(required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)}; separated by ',' or ';')."
        )
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
