import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from communities import services
from communities.models import Membership, invitations_lapse_before


class Command(BaseCommand):
    help = (
        "End the invitations nobody answered within KCDIR_INVITATION_EXPIRY_DAYS days "
        "(INVITATION_EXPIRY_DAYS): each moves to 'left' with a history event "
        "'Invitation lapsed'. Safe to run again (it changes nothing the second time); "
        "run it daily, e.g. from cron. Lapsed invitations cannot be accepted even before "
        "it runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the invitations that have lapsed; change nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Invitations ended per transaction (default 500).",
        )

    def handle(self, *args, dry_run=False, batch_size=500, **options):
        started = time.monotonic()
        now = timezone.now()
        days = settings.INVITATION_EXPIRY_DAYS
        cutoff = timezone.localtime(invitations_lapse_before(now))
        due = Membership.objects.lapsed_invitations(now).count()
        self.stdout.write(
            f"Invitations lapse after {days} day{'s' if days != 1 else ''}: "
            f"{due:,} sent before {cutoff:%Y-%m-%d %H:%M} and not answered."
        )
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing changed."))
            return
        if not due:
            self.stdout.write("Nothing to do.")
            return
        result = services.lapse_invitations(
            now=now, batch_size=max(batch_size, 1), progress=self._progress
        )
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Lapsed {result.lapsed:,} invitation{'s' if result.lapsed != 1 else ''} "
                f"in {result.communities:,} communit{'ies' if result.communities != 1 else 'y'}"
                f"; {elapsed:.1f} s."
            )
        )

    def _progress(self, done: int, total: int) -> None:
        self.stdout.write(f"  {done:,} of {total:,}")
