import time

from django.core.management.base import BaseCommand
from django.db import transaction

from communities import overlaps


class Command(BaseCommand):
    help = (
        "Count again, from the memberships, the people every two communities share (the "
        "stored overlaps that profiles' connected communities and the knowledge map read) "
        "and replace the stored counts, in one transaction. The app keeps them as "
        "memberships change; run this after changing memberships outside it (SQL by hand, "
        "a superuser deleting a person). --check only compares."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only say how many stored pairs differ from a fresh count; change nothing.",
        )

    def handle(self, *args, check=False, **options):
        started = time.monotonic()
        if check:
            stored, counted = overlaps.stored(), overlaps.counted()
            pairs = stored.keys() | counted.keys()
            wrong = [pair for pair in pairs if stored.get(pair) != counted.get(pair)]
            self.stdout.write(
                f"{len(counted):,} pairs counted, {len(stored):,} stored, {len(wrong):,} differ "
                f"({time.monotonic() - started:.1f} s)."
            )
            return
        with transaction.atomic():
            rows = overlaps.rebuild()
        self.stdout.write(f"{rows:,} pairs stored ({time.monotonic() - started:.1f} s).")
