"""People sync from HR: make users, members and departments match an HR extract.

Three steps, so that a dry run is the real thing minus the last one:

    parse_hr_csv(data) -> HRExtract   read the CSV; any problem in the file raises
                                      ``SyncError`` listing every bad line
    plan_sync(rows) -> SyncPlan       read the directory once (a fixed number of
                                      queries, whatever the size) and work out every
                                      change; writes nothing
    services.sync_people(plan=plan)   write the plan in one transaction, in batches

Who HR manages: every user except superusers and staff. Admin and service accounts
are never created, changed, deactivated or reactivated by a sync, even when the file
lists them. Managed people missing from the file are deactivated, never deleted; their
open memberships (active, requested, invited) move to ``left`` with one
``MembershipEvent`` each (``services.end_memberships_of``), so the history stays. That
deliberately bypasses the last-steward rule of the roster services: someone who left
the organisation cannot stay a steward, and the admin dashboard shows communities left
without one. People who come back are reactivated; their old memberships are not
restored.

HR owns the columns it sends: a column missing from the header is left alone (for new
people it is blank), an empty cell in a column that is there clears the field.
"""

from .parsing import (
    MAX_PROBLEMS_SHOWN,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    HRExtract,
    HRRow,
    SyncError,
    parse_hr_csv,
)
from .planning import (
    MEMBER_FIELDS,
    OPEN_STATES,
    PROGRESS_EVERY,
    USER_FIELDS,
    ChangeKind,
    PersonChange,
    Progress,
    SyncPlan,
    format_summary,
    plan_sync,
)

__all__ = [
    "MAX_PROBLEMS_SHOWN",
    "MEMBER_FIELDS",
    "OPEN_STATES",
    "OPTIONAL_COLUMNS",
    "PROGRESS_EVERY",
    "REQUIRED_COLUMNS",
    "USER_FIELDS",
    "ChangeKind",
    "HRExtract",
    "HRRow",
    "PersonChange",
    "Progress",
    "SyncError",
    "SyncPlan",
    "format_summary",
    "parse_hr_csv",
    "plan_sync",
]
