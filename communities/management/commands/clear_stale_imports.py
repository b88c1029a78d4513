from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from communities import services


class Command(BaseCommand):
    help = (
        "Delete roster imports (waiting for confirmation or applied) and their stored "
        "plans once they are older than a day. Uploads do this too; run it daily (cron) "
        "so a quiet site is cleared as well. Progress on standard error."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=float,
            default=services.ROSTER_IMPORT_KEPT_FOR.total_seconds() / 3600,
            help="Delete imports older than this many hours (default: 24).",
        )
        parser.add_argument(
            "--batch", type=int, default=100, help="Imports deleted per transaction."
        )

    def handle(self, *args, hours: float, batch: int, **options):
        if hours < 0 or batch < 1:
            raise CommandError("--hours must be 0 or more and --batch at least 1.")

        def progress(done: int, total: int) -> None:
            self.stderr.write(f"  {done:,} of {total:,} imports deleted")

        imports, rows = services.clear_stale_roster_imports(
            older_than=timedelta(hours=hours), batch_size=batch, progress=progress
        )
        self.stdout.write(
            f"Deleted {imports:,} roster imports older than {hours:g} hours "
            f"({rows:,} planned rows)."
        )
