import argparse
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from communities.models import Community
from devtools.demo import DemoBuilder
from devtools.enterprise import EnterpriseBuilder, Sizes


class Command(BaseCommand):
    help = (
        "Load a believable demo organisation: departments, 300 people, 25 purposes and 40 "
        "communities with memberships and history, plus the accounts admin, steward and staff "
        "(password from KCDIR_DEMO_PASSWORD). Safe to run twice. With --scale enterprise: "
        "100 departments, 100,000 people, 10,000 communities, 5,000 purposes and 1,000,000 "
        "memberships with their history, bulk-loaded (for benchmarks; no known passwords)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=["demo", "enterprise"],
            default="demo",
            help="demo (default): the small demo organisation; enterprise: the large data set.",
        )
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
        # Tests shrink the enterprise data set (0.001 is about a thousandth).
        parser.add_argument("--enterprise-factor", type=float, default=1.0, help=argparse.SUPPRESS)

    def handle(
        self, *args, scale="demo", if_empty=False, force=False, enterprise_factor=1.0, **options
    ):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo data with DEBUG off: the demo accounts have a known "
                "password. Use --force if this really is a demo server."
            )
        if if_empty and Community.objects.exists():
            self.stdout.write("The directory already has communities; demo data not loaded.")
            return
        if scale == "enterprise":
            self.load_enterprise(enterprise_factor)
            return
        self.stdout.write("Loading demo data…")
        counts = DemoBuilder(password=settings.KCDIR_DEMO_PASSWORD, log=self.stdout.write).build()
        summary = ", ".join(f"{value} {name}" for name, value in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {summary}."))

    def load_enterprise(self, factor: float) -> None:
        started = time.perf_counter()
        builder = EnterpriseBuilder(sizes=Sizes.scaled(factor), log=self.stdout.write)
        counts = builder.build()
        if counts is None:
            return
        summary = ", ".join(f"{value:,} {name}" for name, value in counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Enterprise data ready in {time.perf_counter() - started:.1f} s: {summary}."
            )
        )
