"""Long actions the worker runs for communities (background/jobs.py runs them)."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from background.jobs import JobRefused
from members.models import Member

from . import services
from .models import RosterImport


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
