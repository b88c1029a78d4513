"""``manage.py bench``: how kcdir performs on enterprise-scale data (``devtools.bench``
describes the report, part by part)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from devtools.bench import environment
from devtools.bench.bulk import time_export, time_import
from devtools.bench.pages import PageTimer, measure_pages
from devtools.bench.people import prepare_people
from devtools.bench.report import Report
from devtools.bench.searches import compare_admin
from devtools.bench.throughput import Throughput
from devtools.bench.varied_run import run_varied
from devtools.enterprise import EnterpriseBuilder, enterprise_present


class Command(BaseCommand):
    help = (
        "Benchmark kcdir on enterprise-scale data (loaded first if absent): page times and "
        "queries, admin comparison, gunicorn throughput, roster import and export, and "
        "varied requests (distinct URLs, each once: the first visitor)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--requests", type=int, default=50, help="Timed requests per page (default 50)."
        )
        parser.add_argument(
            "--quick",
            action="store_true",
            help="Smaller import/export and shorter throughput runs (a smoke test).",
        )
        parser.add_argument(
            "--skip-throughput", action="store_true", help="Do not start gunicorn and wrk."
        )
        parser.add_argument(
            "--duration", type=int, default=10, help="Seconds per throughput run (default 10)."
        )
        parser.add_argument(
            "--connections", type=int, default=20, help="Concurrent connections (default 20)."
        )
        parser.add_argument(
            "--sections",
            default="pages,throughput,bulk,varied",
            help="Which parts to run, comma-separated: pages (with the admin comparison), "
            "throughput, bulk, varied (default: all). Targets count only what ran.",
        )
        parser.add_argument(
            "--varied-requests",
            type=int,
            default=300,
            help="Distinct URLs of each kind in the varied section, in process and again "
            "under gunicorn (default 300).",
        )
        parser.add_argument(
            "--export-seconds",
            type=float,
            default=120,
            help="Stop the 1,000,000-row export after this long (its rate is what counts).",
        )

    def handle(self, *args, requests=50, quick=False, skip_throughput=False, **options):
        report = Report(self.stdout)
        if settings.DEBUG:
            report.write("Warning: DEBUG is on; run with DEBUG=0 for production numbers.")
        if not enterprise_present():
            report.write("No enterprise data here: loading it first.")
            EnterpriseBuilder(log=report.write).build()
        environment.header(report)
        sections = {part.strip() for part in options["sections"].split(",")}
        unknown = sections - {"pages", "throughput", "bulk", "varied"}
        if unknown:
            report.write(f"Unknown sections, ignored: {', '.join(sorted(unknown))}")
        gunicorn = not skip_throughput and bool(sections & {"throughput", "varied"})
        duration = 2 if quick else max(1, options["duration"])
        static = environment.static_files(report, for_gunicorn=gunicorn)
        with static as static_root, environment.test_hosts():
            people = prepare_people()
            if "pages" in sections:
                timer = PageTimer(report, requests=max(1, requests))
                compare_admin(timer, people, measure_pages(timer, people))
            if skip_throughput or "throughput" not in sections:
                report.write("\nThroughput: skipped.")
            else:
                throughput = Throughput(
                    report, people, duration=duration, connections=options["connections"]
                )
                throughput.run(static_root)
            if "bulk" in sections:
                time_import(report, people, quick=quick)
                time_export(report, quick=quick, export_seconds=options["export_seconds"])
            if "varied" in sections:
                run_varied(
                    report,
                    people,
                    static_root,
                    per_kind=max(1, options["varied_requests"]),
                    gunicorn=gunicorn,
                    duration=duration,
                    connections=options["connections"],
                )
        report.summary()
