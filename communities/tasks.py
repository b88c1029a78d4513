"""Long actions the worker runs for communities (background/jobs.py runs them)."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from background.jobs import JobRefused, attach_file, report_progress
from members.models import Member

from . import services
from .csv_io import exports
from .models import Community, RosterImport
from .services.bulk import ADD_CHUNK


def describe_import(totals: dict) -> str:
    """The sentence that says what an applied import did."""
    result = (
        _("Import applied: %(add)s added, %(change)s roles changed, %(remove)s removed.") % totals
    )
    if totals["skipped"]:
        result += " " + ngettext(
            "%(skipped)s row with an error was skipped.",
            "%(skipped)s rows with errors were skipped.",
            totals["skipped"],
        ) % {"skipped": totals["skipped"]}
    return result


def apply_roster_import(job, roster_import_id: int, actor_id: int, mode: str | None) -> str:
    """Apply a previewed roster import (one transaction, as on the page) in the worker."""
    try:
        totals = services.apply_roster_import(
            roster_import=RosterImport.objects.select_related("community").get(pk=roster_import_id),
            actor=Member.objects.get(pk=actor_id),
            mode=mode,
        )
    except services.ServiceError as refusal:
        raise JobRefused(str(refusal)) from refusal
    return describe_import(totals)


def add_members(
    job, community_id: int, member_ids: list[int], actor_id: int, invite: bool, not_found: list
) -> str:
    """Add or invite a long list, ``services.ADD_CHUNK`` people per transaction, saying
    after each how many are done. A refusal part way keeps the chunks done before it."""
    community = Community.objects.get(pk=community_id)
    actor = Member.objects.get(pk=actor_id)
    done = already = 0
    for start in range(0, len(member_ids), ADD_CHUNK):
        chunk = Member.objects.filter(pk__in=member_ids[start : start + ADD_CHUNK])
        try:
            result = services.add_members(
                community=community, members=chunk, actor=actor, invite=invite
            )
        except services.ServiceError as refusal:
            raise JobRefused(
                _("Stopped after %(done)s of %(total)s people: %(reason)s")
                % {"done": start, "total": len(member_ids), "reason": refusal}
            ) from refusal
        done += len(result.done)
        already += len(result.already)
        report_progress(job, start + len(chunk))
    sentence = (_("Invited: %(done)s.") if invite else _("Added: %(done)s.")) % {"done": done}
    sentence += " " + _("Already on the list: %(already)s.") % {"already": already}
    if not_found:
        sentence += " " + _("Matched no one: %(count)s (%(entries)s).") % {
            "count": len(not_found),
            "entries": ", ".join(not_found),
        }
    return sentence


def export_memberships(job) -> str:
    """Every membership of every community, in any state, as one CSV file for the job's
    page to offer (``manage.py export_roster --all-communities --all``'s file)."""
    rows = 0

    def counted(n: int) -> None:
        nonlocal rows
        rows += n

    attach_file(
        job,
        name="kcdir-memberships.csv",
        content_type="text/csv; charset=utf-8",
        chunks=exports.export_memberships(states=None, on_rows=counted),
    )
    report_progress(job, rows)
    return ngettext("%(rows)s membership exported.", "%(rows)s memberships exported.", rows) % {
        "rows": f"{rows:,}"
    }
