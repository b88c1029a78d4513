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
        "never deleted; superusers and staff are never touched. A dry run unless --apply. "
        "Refuses to deactivate more than KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE of the people "
        "(default 5%) unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv", help="The HR extract, UTF-8 CSV.")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Apply the changes, in one transaction (default: dry run, nothing changes).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help=(
                "Apply even if the file deactivates more than the allowed share of people "
                "(KCDIR_PEOPLE_SYNC_MAX_DEACTIVATE): only when you have checked it is right."
            ),
        )
        parser.add_argument(
            "--sha256",
            metavar="HEX",
            help=(
                "Apply only if the file's SHA-256 is this (as the dry run printed it), so "
                "exactly the file you checked is applied."
            ),
        )
        parser.add_argument(
            "--verbose",
            action="store_true",
            help=f"List every change, not only the first {LISTED_CHANGES} of each kind.",
        )

    def handle(self, *args, file, apply=False, force=False, sha256=None, verbose=False, **options):
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
        fingerprint = services.file_fingerprint(data)
        self.stdout.write(f"Read {len(extract.rows):,} people from {path}.")
        self.stdout.write(f"SHA-256 of the file: {fingerprint}")
        if sha256 is not None and sha256.strip().lower() != fingerprint:
            raise CommandError(
                f"{path} is not the file you checked: its SHA-256 is {fingerprint}, not "
                f"{sha256.strip()}. Nothing was changed."
            )
        if extract.ignored_columns:
            self.stdout.write(f"Ignored columns: {', '.join(extract.ignored_columns)}.")

        large = len(extract.rows) > PROGRESS_EVERY
        plan = plan_sync(extract.rows, progress=self._progress if large else None)
        self._show_plan(plan, limit=None if verbose else LISTED_CHANGES)
        if plan.errors:
            for problem in plan.errors:
                self.stderr.write(problem)
            raise CommandError(f"{len(plan.errors)} problems in {path}; nothing was changed.")

        refusal = services.deactivation_refusal(plan)
        if not apply:
            if refusal:
                self.stdout.write(self.style.WARNING(f"Applying it would be refused: {refusal}"))
            self.stdout.write(
                self.style.WARNING("Dry run: nothing changed. Run again with --apply to apply.")
            )
            self._finish("Summary (dry run)", plan.summary(), started)
            return
        if plan.is_empty:
            self.stdout.write("Nothing to change: the directory already matches the file.")
            self._finish("Summary", plan.summary(), started)
            return
        if refusal and force:
            self.stdout.write(
                self.style.WARNING(
                    "--force: applying although it deactivates more people than one sync "
                    "normally may."
                )
            )
        try:
            summary = services.sync_people(
                plan=plan, progress=self._progress if large else None, force=force
            )
        except services.SyncRefused as error:
            raise CommandError(f"{error} Nothing was changed.") from None
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
