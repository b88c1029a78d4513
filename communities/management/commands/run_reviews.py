import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from communities import services


class Command(BaseCommand):
    help = (
        "Start the scheduled reviews that are due, tell the sponsor of each review past "
        "its due date (once), and list on the directory admins' dashboard the reviews "
        "still open KCDIR_REVIEW_ESCALATION_GRACE_DAYS days after that. Safe to run "
        "again, or twice at once; run it daily."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        result = services.run_review_jobs(today=timezone.localdate())
        elapsed = time.monotonic() - started
        self.stdout.write(f"Scheduled reviews started: {result.started:,}.")
        self.stdout.write(f"Overdue reviews told to their sponsor: {result.sponsors_told:,}.")
        self.stdout.write(
            f"Reviews listed on the dashboard (open {settings.REVIEW_ESCALATION_GRACE_DAYS} "
            f"days after that): {result.escalated:,}."
        )
        self.stdout.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s."))
