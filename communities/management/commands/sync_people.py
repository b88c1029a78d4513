import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from communities import services
from communities.people_sync import (
    OPTIONAL_COLUMNS,
    PROGRESS_EVERY,
    REQUIRED_COLUMNS,
    SyncError,
    SyncPlan,
    format_summary,
    parse_hr_csv,
    plan_sync,
)

LISTED_CHANGES = 10  # of each kind


class Command(BaseCommand):
    help = (
        "Make users, members and departments match an HR extract (CSV with a header row; "
        f"required columns: {', '.join(REQUIRED_COLUMNS)}; optional: "
        f"{', '.join(OPTIONAL_COLUMNS)}). People missing from the file are deactivated, "
        "never deleted; superusers and staff are never touched. A dry run unless --apply."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv", help="The HR extract, UTF-8 CSV.")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Apply the changes, in one transaction (default: dry run, nothing changes).",
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help=f"List every change, not only the first {LISTED_CHANGES} of each kind.",
        )

    def handle(self, *args, file, apply=False, verbose=False, **options):
        started = time.monotonic()
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        try:
            extract = parse_hr_csv(data)
        except SyncError as error:
            raise CommandError(f"{path}:\n{error}\nNothing was changed.") from None
        self.stdout.write(f"Read {len(extract.rows):,} people from {path}.")
        if extract.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(extract.ignored_columns)}.")

        large = len(extract.rows) > PROGRESS_EVERY
        plan = plan_sync(extract.rows, progress=self._progress if large else None)
        self._show_plan(plan, limit=None if verbose else LISTED_CHANGES)
        if plan.errors:
            for problem in plan.errors:
                self.stderr.write(problem)
            raise CommandError(f"{len(plan.errors)} problems in {path}; nothing was changed.")

        if not apply:
            self.stdout.write(
                self.style.WARNING("Dry run: nothing changed. Run again with --apply to apply.")
            )
            self._finish("Summary (dry run)", plan.summary(), started)
            return
        if plan.is_empty:
            self.stdout.write("Nothing to change: the directory already matches the file.")
            self._finish("Summary", plan.summary(), started)
            return
        try:
            summary = services.sync_people(plan=plan, progress=self._progress if large else None)
        except DatabaseError as error:
            # e.g. someone created one of these users while we worked: all rolled back.
            raise CommandError(
                f"The database refused the changes ({error}); nothing was changed. "
                "Run the sync again."
            ) from None
        self.stdout.write(self.style.SUCCESS("Applied in one transaction."))
        self._finish("Summary", summary, started)

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stdout.write(f"  {stage}: {done:,} of {total:,}")

    def _show_plan(self, plan: SyncPlan, *, limit: int | None) -> None:
        for kind, changes, more in plan.sample(limit):
            self.stdout.write(f"To {kind}:")
            for change in changes:
                self.stdout.write(f"  {change.describe()}")
            if more:
                self.stdout.write(f"  … and {more:,} more (--verbose lists them all).")
        if plan.new_departments:
            names = list(plan.new_departments)
            more = f" and {len(names) - 10:,} more" if len(names) > 10 else ""
            self.stdout.write(f"New departments: {', '.join(names[:10])}{more}.")
        counts = plan.summary()
        for label in ("created", "updated", "reactivated", "deactivated", "unchanged"):
            self.stdout.write(f"  {label:<12} {counts[label]:>9,}")
        if counts["memberships_left"]:
            self.stdout.write(
                f"{counts['memberships_left']:,} memberships of deactivated people will be "
                "marked left (one history event each); some communities may be left "
                "without a steward."
            )
        if plan.skipped_admins or plan.kept_admins:
            self.stdout.write(
                "Admin and service accounts (superusers and staff) are never changed or "
                f"deactivated by a sync: {len(plan.skipped_admins):,} in the file skipped"
                + (f" ({', '.join(plan.skipped_admins[:10])})" if plan.skipped_admins else "")
                + f", {plan.kept_admins:,} not in the file left active."
            )

    def _finish(self, label: str, summary: dict[str, int], started: float) -> None:
        elapsed = time.monotonic() - started
        self.stdout.write(f"{label}: {format_summary(summary)}; {elapsed:.1f} s.")
