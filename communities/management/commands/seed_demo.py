from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from communities.demo import DemoBuilder
from communities.models import Community


class Command(BaseCommand):
    help = (
        "Load a believable demo organisation: departments, 300 people, 25 purposes and 40 "
        "communities with memberships and history, plus the accounts admin, steward and staff "
        "(password from KCDIR_DEMO_PASSWORD). Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already has communities (used by `make run`).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (demo accounts have a known password!).",
        )

    def handle(self, *args, if_empty=False, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: the demo accounts have a known "
                "password. Use --force if this really is a demo server."
            )
        if if_empty and Community.objects.exists():
            self.stdout.write("The directory already has communities; demo data not loaded.")
            return
        self.stdout.write("Loading demo data…")
        counts = DemoBuilder(password=settings.KCDIR_DEMO_PASSWORD, log=self.stdout.write).build()
        summary = ", ".join(f"{value} {name}" for name, value in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {summary}."))
