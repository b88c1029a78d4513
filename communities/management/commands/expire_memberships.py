import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from communities import services


class Command(BaseCommand):
    help = (
        "Remind members whose membership ends within KCDIR_EXPIRY_REMINDER_DAYS days "
        "(each reminder once), then end the memberships whose end date has passed: each "
        "moves to 'left' with a history event 'Membership ended on <date>'. The last "
        "steward and the sponsor of an active knowledge community are kept and listed. "
        "Safe to run again, or twice at once; run it daily."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-reminders", action="store_true", help="Only end what passed; send nothing."
        )

    def handle(self, *args, no_reminders=False, **options):
        started = time.monotonic()
        today = timezone.localdate()
        if not no_reminders:
            days = settings.EXPIRY_REMINDER_DAYS
            sent = services.send_expiry_reminders(days=days, today=today)
            self.stdout.write(
                f"Reminders ({', '.join(str(d) for d in days)} days before): {sent:,} sent."
            )
        result = services.expire_memberships(today=today, progress=self._progress)
        for held in result.held:
            self.stdout.write(
                self.style.WARNING(
                    f"Kept: {held.member} in {held.community} (ended {held.ends_on:%Y-%m-%d}; "
                    f"{held.reason}). A steward must act."
                )
            )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Ended {result.ended:,} membership{'s' if result.ended != 1 else ''}; "
                f"kept {len(result.held):,}; {elapsed:.1f} s."
            )
        )

    def _progress(self, done: int, total: int) -> None:
        self.stdout.write(f"  {done:,} of {total:,} communities")
