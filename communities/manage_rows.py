"""The rows of the membership manage page and of a community's roster, as plain data.

The manage page lists fifty memberships and up to fifty waiting requests, a community's
page a page of its roster; building a model instance for each membership, member, user
and department costs more than drawing them. These rows come from ``values()`` and carry
only what the page shows (and read like the models they stand for:
``entry.member.display_name``).
"""

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(slots=True)
class Person:
    display_name: str
    username: str
    email: str = ""
    job_title: str = ""
    department: str = ""  # the department's name, or ""

    def __str__(self):
        return self.display_name


@dataclass(slots=True)
class Entry:
    """A membership on the manage page: on the list, or a request waiting."""

    pk: int
    member: Person
    state: str = ""
    role: str = ""
    note: str = ""
    updated_at: datetime | None = None
    decided_at: datetime | None = None
    active_since: datetime | None = None
    ends_on: date | None = None  # the membership's end date, if it has one
    by_rule: bool = False  # the community's membership rule put them there


ROSTER_COLUMNS = (
    "pk",
    "state",
    "role",
    "decided_at",  # with updated_at: when an invitation was sent (it lapses)
    "updated_at",
    "member__display_name",
    "member__user__username",
    "member__user__email",
    "member__department__name",
    "active_since",
    "term__ends_on",
    "term__since",
    "rule_mark__id",
)
# A community's roster, on its page: name and job title, role, department, since when.
MEMBER_COLUMNS = (
    "pk",
    "role",
    "active_since",
    "member__display_name",
    "member__user__username",
    "member__job_title",
    "member__department__name",
    "term__ends_on",
    "term__since",
)
WAITING_COLUMNS = (
    "pk",
    "note",
    "updated_at",
    "member__display_name",
    "member__user__username",
    "member__job_title",
    "member__department__name",
)


def _ends_on(row: dict) -> date | None:
    """The membership's end date, when it was set for this stretch of membership."""
    if row.get("state", "active") != "active" or row["term__since"] != row["active_since"]:
        return None
    return row["term__ends_on"]


def roster_entry(row: dict) -> Entry:
    return Entry(
        pk=row["pk"],
        state=row["state"],
        role=row["role"],
        decided_at=row["decided_at"],
        updated_at=row["updated_at"],
        ends_on=_ends_on(row),
        by_rule=row.get("rule_mark__id") is not None,
        member=Person(
            display_name=row["member__display_name"],
            username=row["member__user__username"],
            email=row["member__user__email"],
            department=row["member__department__name"] or "",
        ),
    )


def _person(row: dict) -> Person:
    return Person(
        display_name=row["member__display_name"],
        username=row["member__user__username"],
        job_title=row["member__job_title"],
        department=row["member__department__name"] or "",
    )


def waiting_entry(row: dict) -> Entry:
    return Entry(
        pk=row["pk"],
        note=row["note"],
        updated_at=row["updated_at"],
        member=_person(row),
    )


def member_entry(row: dict) -> Entry:
    return Entry(
        pk=row["pk"],
        role=row["role"],
        active_since=row["active_since"],
        ends_on=_ends_on(row),
        member=_person(row),
    )
