"""``manage.py bench``: how kcdir performs on enterprise-scale data.

Prints one report, in four parts, each with its targets marked met / not met:

1. pages and actions through Django's test client, in process: queries, and p50/p95
   server time (``perf_counter`` around the request, streamed bodies included);
2. the same searches in the Django admin's change lists, and the ratio;
3. throughput under gunicorn with the production config (``gunicorn.conf.py``,
   DEBUG off, collected static files), measured with wrk (20 connections): the
   directory, a constant "hello" behind the production middleware for the same
   signed-in user, and a "hello" with no middleware at all;
4. a 10,000-row roster import and a 1,000,000-row membership export.

It loads the enterprise data first if it is absent, and always exits 0: it is a
report. The last line says how many targets were met.
"""

import http.client
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from communities import services
from communities.access import DIRECTORY_ADMINS_GROUP
from communities.csv_io import exports
from communities.enterprise import BENCH_COMMUNITY_SLUG, EnterpriseBuilder, enterprise_present
from communities.models import Community, Membership, Purpose
from members.models import Department, Member

PAGE_P95_MS = 20.0
PAGE_P95_MS_SQLITE = 50.0  # SQLite, the zero-setup default, on the same data
PAGE_QUERIES = 10
SEARCH_RATIO = 10.0
DIRECTORY_VS_HELLO = 0.5
WRITES_PER_SECOND = 5.0  # joins and leaves during the directory's throughput under change
HELLO_VS_BARE = 0.4
IMPORT_SECONDS = 2.0
EXPORT_ROWS_PER_SECOND = 100_000
EXPORT_GROWTH_MB = 50.0

COMMUNITY_TERM = "claims"
PEOPLE_TERM = "okafor"
BENCH_STAFF, BENCH_ADMIN = "kcdir-bench-staff", "kcdir-bench-admin"


@dataclass
class Measured:
    what: str
    samples_ms: list[float] = field(default_factory=list)
    queries: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Page:
    what: str
    url: str
    user: object
    method: str = "get"
    expect: int = 200
    targeted: bool = True  # the exports are measured, without the pages' target


class PeakRss:
    """Peak growth of this process's resident memory while the block runs, sampled
    every few milliseconds (``/proc/self/statm``; ``ru_maxrss`` elsewhere)."""

    def __init__(self):
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.growth_mb = 0.0

    def rss(self) -> int:
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * self.page
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def __enter__(self):
        self.start = self.peak = self.rss()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.rss())
        self.growth_mb = (self.peak - self.start) / 2**20
        return False


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


class Command(BaseCommand):
    help = (
        "Benchmark kcdir on enterprise-scale data (loaded first if absent): page times and "
        "queries, admin comparison, gunicorn throughput, roster import and export."
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
            default="pages,throughput,bulk",
            help="Which parts to run, comma-separated: pages (with the admin comparison), "
            "throughput, bulk (default: all). Targets count only what ran.",
        )
        parser.add_argument(
            "--export-seconds",
            type=float,
            default=120,
            help="Stop the 1,000,000-row export after this long (its rate is what counts).",
        )

    def handle(self, *args, requests=50, quick=False, skip_throughput=False, **options):
        self.requests = max(1, requests)
        self.quick = quick
        self.duration = 2 if quick else max(1, options["duration"])
        self.connections = options["connections"]
        self.export_seconds = options["export_seconds"]
        self.targets: list[tuple[str, bool]] = []
        if settings.DEBUG:
            self.stdout.write("Warning: DEBUG is on; run with DEBUG=0 for production numbers.")
        if not enterprise_present():
            self.stdout.write("No enterprise data here: loading it first.")
            EnterpriseBuilder(log=self.stdout.write).build()
        self.header()
        self._clients = {}
        sections = {part.strip() for part in options["sections"].split(",")}
        skip_throughput = skip_throughput or "throughput" not in sections
        with self.static_files(for_gunicorn=not skip_throughput) as static_root, self.test_hosts():
            self.prepare_people()
            if "pages" in sections:
                pages = self.measure_pages()
                self.compare_admin(pages)
            if skip_throughput:
                self.stdout.write("\nThroughput: skipped.")
            else:
                self.throughput(static_root)
        if "bulk" in sections:
            self.time_import()
            self.time_export()
        met = sum(1 for _what, ok in self.targets if ok)
        self.stdout.write(f"\nLoad average at the end: {load_average()}")
        self.stdout.write(f"targets met: {met}/{len(self.targets)}")

    # -- set-up ----------------------------------------------------------------------------

    def header(self) -> None:
        database = connection.settings_dict["NAME"]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = cursor.fetchone()[0]
            engine = f"PostgreSQL {version.split()[0]}"
        else:
            engine = f"{connection.display_name} {connection.Database.sqlite_version}"
        self.stdout.write(
            f"kcdir benchmark: {engine} ({Path(str(database)).name}), "
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, DEBUG={settings.DEBUG}"
        )
        self.stdout.write(
            f"Data: {Community.objects.count():,} communities, {Member.objects.count():,} "
            f"people, {Purpose.objects.count():,} purposes, "
            f"{Membership.objects.count():,} memberships"
        )
        cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[1]
        self.stdout.write(
            f"Cache: {cache}; sessions: {settings.SESSION_ENGINE.rsplit('.', 1)[1]}"
            + ("" if settings.SHARED_CACHE else " (set REDIS_URL for production's shared cache)")
        )
        self.stdout.write(f"Load average at the start: {load_average()} (1, 5, 15 min)")

    @contextmanager
    def static_files(self, *, for_gunicorn: bool):
        """Production serves collected, hashed static files (WhiteNoise's manifest): pages
        cannot render without them, so collect them into a temporary folder, for this
        process and for gunicorn. (Tests use plain storage and need none.)"""
        manifest = "Manifest" in settings.STORAGES["staticfiles"]["BACKEND"]
        if not (manifest or for_gunicorn):
            yield None
            return
        root = Path(tempfile.mkdtemp(prefix="kcdir-bench-static-"))
        try:
            started = time.perf_counter()
            # Hashed names and the manifest, as in production, without WhiteNoise's
            # compression (a minute on this machine; no page in the bench loads a file).
            storages = {
                **settings.STORAGES,
                "staticfiles": {
                    "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
                },
            }
            with override_settings(STORAGES=storages, STATIC_ROOT=root):
                call_command("collectstatic", interactive=False, verbosity=0)
            with override_settings(STATIC_ROOT=root):
                self.stdout.write(
                    f"Static files collected in {time.perf_counter() - started:.1f} s"
                )
                yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)

    @contextmanager
    def test_hosts(self):
        with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            yield

    def prepare_people(self) -> None:
        """The signed-in people (accounts without a usable password; the bench signs them
        in with ``force_login``): a plain member of staff (no memberships of their own),
        a directory admin who is also a superuser (exports, the admin), a steward of the
        5,000-person community, and the busiest person (whose profile is viewed)."""
        User = get_user_model()
        self.community = Community.objects.get(slug=BENCH_COMMUNITY_SLUG)
        department = Department.objects.order_by("pk").first()
        staff, _ = User.objects.get_or_create(
            username=BENCH_STAFF,
            defaults={"first_name": "Bench", "last_name": "Staff", "password": make_password(None)},
        )
        member = Member.objects.for_user(staff)
        if member.department_id is None:
            member.department = department
            member.job_title = "Analyst"
            member.save()
        admin, _ = User.objects.get_or_create(
            username=BENCH_ADMIN,
            defaults={
                "first_name": "Bench",
                "last_name": "Admin",
                "password": make_password(None),
                "is_staff": True,
                "is_superuser": True,
            },
        )
        admin.groups.add(Group.objects.get(name=DIRECTORY_ADMINS_GROUP))
        Member.objects.for_user(admin)
        self.staff, self.admin = staff, admin
        self.steward = (
            self.community.memberships.active()
            .filter(role=Membership.Role.STEWARD)
            .select_related("member__user")
            .order_by("pk")
            .first()
            .member.user
        )
        busiest = (
            Membership.objects.active()
            .values("member")
            .annotate(n=Count("pk"))
            .order_by("-n", "member")
            .first()
        )
        self.subject = Member.objects.select_related("user").get(pk=busiest["member"]).user
        self.department = (
            Department.objects.filter(members__memberships__community=self.community)
            .order_by("pk")
            .first()
            or department
        )
        mine = self.community.memberships.filter(member=member, state=Membership.State.ACTIVE)
        if mine.exists():  # left over from an interrupted run
            services.leave_community(community=self.community, member=member)

    # -- 1. pages and actions ----------------------------------------------------------------

    def measure_pages(self) -> dict[str, Measured]:
        slug = self.community.slug
        listed = Community.objects.listed().count()
        deep = max(1, int(math.ceil(listed / settings.PAGE_SIZE) * 0.75))
        roster = self.community.memberships.active().count()
        deep_roster = max(1, int(math.ceil(roster / settings.PAGE_SIZE) * 0.75))
        subject = self.subject.username
        filters = f"q={COMMUNITY_TERM}&kind=kc&stage=community&department={self.department.slug}"
        pages = [
            Page("directory: first page", "/", self.staff),
            Page(f"directory: deep page ({deep})", f"/?page={deep}", self.staff),
            Page(f"directory: search “{COMMUNITY_TERM}”", f"/?q={COMMUNITY_TERM}", self.staff),
            Page("directory: search + filters", f"/?{filters}", self.staff),
            Page(f"community ({roster:,} roster): first page", f"/c/{slug}/", self.staff),
            Page(
                f"community ({roster:,} roster): page {deep_roster}",
                f"/c/{slug}/?page={deep_roster}",
                self.staff,
            ),
            Page("manage membership (steward)", f"/c/{slug}/manage/", self.steward),
            Page(
                f"people search “{PEOPLE_TERM}” ({Member.objects.count():,})",
                f"/people/?q={PEOPLE_TERM}",
                self.staff,
            ),
            Page("profile (busiest person)", f"/people/{subject}/", self.staff),
            Page("history: person (admin)", f"/people/{subject}/history/", self.admin),
            Page("history: community (steward)", f"/c/{slug}/history/", self.steward),
            Page(
                f"roster CSV export ({roster:,})",
                f"/c/{slug}/export.csv",
                self.steward,
                targeted=False,
            ),
            Page(
                f"directory CSV export ({listed:,})",
                "/directory/export.csv",
                self.admin,
                targeted=False,
            ),
        ]
        # What the first visitor after a change waits for: the same pages drawn without
        # the directory cache (for information; the targets are on the pages as served).
        uncached = [
            Page(f"{page.what} (uncached)", page.url, page.user, targeted=False)
            for page in pages[:6]
        ]
        self.stdout.write(
            f"\n1. Pages and actions: in-process server time over {self.requests} requests "
            f"each (after a warm-up), queries per request. Load average {load_average()}"
        )
        self.table_header(
            ["what", "n", "queries", "p50 ms", "p95 ms", "target", "met?"],
            [42, 4, 7, 8, 8, 15, 7],
        )
        results = {}
        for page in pages:
            results[page.what] = self.report_page(self.measure(page), targeted=page.targeted)
        for result in self.measure_join_leave():
            results[result.what] = self.report_page(result)
        with override_settings(DIRECTORY_CACHE_SECONDS=0):
            for page in uncached:
                results[page.what] = self.report_page(self.measure(page), targeted=False)
        return results

    def client_for(self, user) -> Client:
        clients = self._clients
        if user.pk not in clients:
            client = Client()
            client.force_login(user)
            clients[user.pk] = client
        return clients[user.pk]

    def request(self, client: Client, page: Page):
        """One request, its streamed body read to the end; refuses a wrong status."""
        secure = settings.SECURE_SSL_REDIRECT
        response = getattr(client, page.method)(page.url, secure=secure)
        if response.streaming:
            for _chunk in response.streaming_content:
                pass
        if response.status_code != page.expect:
            raise RuntimeError(
                f"{page.method.upper()} {page.url} answered {response.status_code}, "
                f"not {page.expect}"
            )
        return response

    def measure(self, page: Page) -> Measured:
        client = self.client_for(page.user)
        self.request(client, page)  # warm-up: templates, connections, caches
        with CaptureQueriesContext(connection) as captured:
            self.request(client, page)
        result = Measured(page.what, queries=len(captured.captured_queries))
        for _ in range(self.requests):
            started = time.perf_counter()
            self.request(client, page)
            result.samples_ms.append((time.perf_counter() - started) * 1000)
        return result

    def measure_join_leave(self) -> list[Measured]:
        client = self.client_for(self.staff)
        slug = self.community.slug
        join = Page("join (POST, open KC)", f"/c/{slug}/join/", self.staff, "post", 302)
        leave = Page("leave (POST, open KC)", f"/c/{slug}/leave/", self.staff, "post", 302)
        results = [Measured(join.what), Measured(leave.what)]
        for round_ in range(self.requests + 1):
            for page, result in zip((join, leave), results, strict=True):
                if round_ == 0:
                    with CaptureQueriesContext(connection) as captured:
                        self.request(client, page)
                    result.queries = len(captured.captured_queries)
                else:
                    started = time.perf_counter()
                    self.request(client, page)
                    result.samples_ms.append((time.perf_counter() - started) * 1000)
                client.cookies.pop("messages", None)
        state = (
            self.community.memberships.filter(member__user=self.staff).values_list(
                "state", flat=True
            )
        ).first()
        if state != Membership.State.LEFT:
            raise RuntimeError(f"join/leave left the bench user {state!r}, not 'left'")
        return results

    def report_page(self, result: Measured, *, targeted: bool = True) -> Measured:
        limit = PAGE_P95_MS_SQLITE if connection.vendor == "sqlite" else PAGE_P95_MS
        met = result.p95 <= limit and result.queries <= PAGE_QUERIES
        if targeted:
            self.target(result.what, met)
        self.table_row(
            [
                result.what,
                str(len(result.samples_ms)),
                str(result.queries),
                f"{result.p50:.1f}",
                f"{result.p95:.1f}",
                f"≤{limit:.0f} ms, ≤{PAGE_QUERIES} q" if targeted else "(no target)",
                self.met(met) if targeted else "",
            ]
        )
        return result

    # -- 2. the admin --------------------------------------------------------------------------

    def compare_admin(self, pages: dict[str, Measured]) -> None:
        slug, pk = self.community.slug, self.community.pk
        app_communities = pages[f"directory: search “{COMMUNITY_TERM}”"]
        app_people = next(m for what, m in pages.items() if what.startswith("people search"))
        app_roster = self.measure(
            Page(
                f"manage: roster search “{PEOPLE_TERM}”",
                f"/c/{slug}/manage/?q={PEOPLE_TERM}",
                self.steward,
            )
        )
        comparisons = [
            (
                f"communities “{COMMUNITY_TERM}”",
                app_communities,
                f"/admin/communities/community/?q={COMMUNITY_TERM}",
            ),
            (f"members “{PEOPLE_TERM}”", app_people, f"/admin/members/member/?q={PEOPLE_TERM}"),
            (
                f"memberships “{PEOPLE_TERM}” in the big community",
                app_roster,
                f"/admin/communities/membership/?community__id__exact={pk}&q={PEOPLE_TERM}",
            ),
        ]
        self.stdout.write(
            f"\n2. Searches: kcdir's pages against the Django admin's change lists "
            f"(superuser), p50 over {self.requests} requests. Load average {load_average()}"
        )
        self.table_header(
            ["search", "app q", "app p50", "admin q", "admin p50", "ratio", "target", "met?"],
            [42, 5, 10, 7, 10, 8, 6, 7],
        )
        uncached = pages.get(f"directory: search “{COMMUNITY_TERM}” (uncached)")
        if uncached:
            comparisons.append(
                (f"communities “{COMMUNITY_TERM}” (uncached)", uncached, comparisons[0][2])
            )
        admins = {}
        for what, app, admin_url in comparisons:
            targeted = not what.endswith("(uncached)")
            if admin_url not in admins:
                admins[admin_url] = self.measure(Page(f"admin: {what}", admin_url, self.admin))
            admin = admins[admin_url]
            ratio = admin.p50 / app.p50 if app.p50 else float("inf")
            met = ratio >= SEARCH_RATIO
            if targeted:
                self.target(f"search {what}: ≥{SEARCH_RATIO:.0f}× faster than the admin", met)
            self.table_row(
                [
                    what,
                    str(app.queries),
                    f"{app.p50:.1f} ms",
                    str(admin.queries),
                    f"{admin.p50:.1f} ms",
                    f"{ratio:.2f}×",
                    f"≥{SEARCH_RATIO:.0f}×" if targeted else "",
                    self.met(met) if targeted else "",
                ]
            )

    # -- 3. throughput under gunicorn -------------------------------------------------------

    def throughput(self, static_root: Path) -> None:
        secret_key = secrets.token_urlsafe(50)
        with override_settings(SECRET_KEY=secret_key):
            session = Client()
            session.force_login(self.staff)
            name = settings.SESSION_COOKIE_NAME
            cookie = f"{name}={session.cookies[name].value}"
        tool = "wrk" if shutil.which("wrk") else None
        self.stdout.write(
            f"\n3. Throughput under gunicorn (gunicorn.conf.py, 2 workers, DEBUG off, access log "
            f"to /dev/null), {self.connections} connections, {self.duration} s per URL, with "
            f"{'wrk' if tool else 'a threaded Python client (wrk is not installed)'}. "
            f"Load average {load_average()}"
        )
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": secret_key,
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": str(static_root),
            "GUNICORN_WORKERS": "2",
            # An empty GUNICORN_ACCESS_LOG is not "no log" to gunicorn.conf.py, and
            # stdout would cost a pipe write per request: /dev/null is closest.
            "GUNICORN_ACCESS_LOG": "/dev/null",
        }
        rates = {}
        urls = {
            "directory: first page": "/",
            f"directory: search “{COMMUNITY_TERM}”": f"/?q={COMMUNITY_TERM}",
            "hello, signed in (production middleware)": "/bench/hello/",
        }
        signed_in_env = {**env, "DJANGO_SETTINGS_MODULE": "kcdir.bench_settings"}
        with self.gunicorn("kcdir.wsgi", signed_in_env) as port:
            for path in urls.values():
                self.check_signed_in(port, path, cookie)
            for what, path in urls.items():
                rates[what] = self.load(port, path, cookie)
            # Every committed change empties the cached directory: the same page while
            # someone joins or leaves the big community WRITES_PER_SECOND times a second.
            with self.joining_and_leaving(WRITES_PER_SECOND) as writes:
                churn = self.load(port, "/", cookie)
        with self.gunicorn("kcdir.bench_wsgi", env) as port:
            rates["hello, no middleware"] = self.load(port, "/bench/hello/", cookie)
        SessionStore(session_key=cookie.partition("=")[2]).delete()
        hello = rates["hello, signed in (production middleware)"]
        bare = rates["hello, no middleware"]
        self.table_header(["what", "requests/s", "ratio", "target", "met?"], [42, 10, 26, 6, 7])
        self.table_row(["hello, no middleware", rate_text(bare), "", "", ""])
        ratio = hello / bare if bare else 0
        self.target("signed-in hello ≥ 40% of middleware-free hello", ratio >= HELLO_VS_BARE)
        self.table_row(
            [
                "hello, signed in (production middleware)",
                rate_text(hello),
                f"{percent(ratio)} of no-middleware",
                f"≥{HELLO_VS_BARE:.0%}",
                self.met(ratio >= HELLO_VS_BARE),
            ]
        )
        for what in list(urls)[:2]:
            ratio = rates[what] / hello if hello else 0
            self.target(f"{what} throughput ≥ 50% of signed-in hello", ratio >= DIRECTORY_VS_HELLO)
            self.table_row(
                [
                    what,
                    rate_text(rates[what]),
                    f"{percent(ratio)} of signed-in hello",
                    f"≥{DIRECTORY_VS_HELLO:.0%}",
                    self.met(ratio >= DIRECTORY_VS_HELLO),
                ]
            )

        ratio = churn / hello if hello else 0
        self.table_row(
            [
                f"directory, {writes.per_second:.1f} joins/leaves a second",
                rate_text(churn),
                f"{percent(ratio)} of signed-in hello",
                "",
                "",
            ]
        )

    @contextmanager
    def joining_and_leaving(self, per_second: float):
        """Join and leave the big community ``per_second`` times a second (through the
        services, in this process) while the block runs; reports the rate achieved."""
        member = Member.objects.get(user=self.staff)
        stop = threading.Event()
        writes = SimpleNamespace(count=0, per_second=0.0)

        def write():
            try:
                actions = (services.join_community, services.leave_community)
                while not stop.wait(1 / per_second):
                    actions[writes.count % 2](community=self.community, member=member)
                    writes.count += 1
            finally:
                connection.close()

        thread = threading.Thread(target=write, daemon=True)
        started = time.perf_counter()
        thread.start()
        try:
            yield writes
        finally:
            stop.set()
            thread.join()
            writes.per_second = writes.count / (time.perf_counter() - started)
            mine = self.community.memberships.filter(member=member, state="active")
            if mine.exists():
                services.leave_community(community=self.community, member=member)

    @contextmanager
    def gunicorn(self, app: str, env: dict):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [
                sys.executable,
                "-m",
                "gunicorn",
                app,
                "-c",
                str(settings.BASE_DIR / "gunicorn.conf.py"),
            ],
            cwd=settings.BASE_DIR,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            self.wait_until_up(process, port, log)
            yield port
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()

    def wait_until_up(self, process, port: int, log) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"gunicorn stopped:\n{log.read().decode(errors='replace')}")
            try:
                status, _body = http_get(port, "/healthz/")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz/ within 60 s")

    def check_signed_in(self, port: int, path: str, cookie: str) -> None:
        status, _body = http_get(port, path, cookie)
        if status != 200:
            raise RuntimeError(f"{path} answered {status} to the signed-in bench user, not 200")

    def load(self, port: int, path: str, cookie: str) -> float:
        """Requests per second over ``self.duration`` seconds, from an idle server."""
        self.drain(port)
        if shutil.which("wrk"):
            return self.wrk(f"http://127.0.0.1:{port}{path}", cookie)
        return python_load(port, path, cookie, self.connections, self.duration)

    def drain(self, port: int) -> None:
        """Wait until the server has worked through what an earlier run left queued (a
        closed client's requests are still served): two quick health checks in a row."""
        quick = 0
        deadline = time.monotonic() + 300
        while quick < 2 and time.monotonic() < deadline:
            started = time.monotonic()
            http_get(port, "/healthz/")
            quick = quick + 1 if time.monotonic() - started < 0.1 else 0

    def wrk(self, url: str, cookie: str) -> float:
        threads = max(1, min(os.cpu_count() or 1, self.connections))
        completed = subprocess.run(  # noqa: S603
            [
                shutil.which("wrk"),
                f"-t{threads}",
                f"-c{self.connections}",
                f"-d{self.duration}s",
                "--timeout",
                "60s",
                "-H",
                f"Cookie: {cookie}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=self.duration + 60,
        )
        output = completed.stdout
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        errors = re.search(r"Socket errors: (.*)", output)
        if bad or errors:
            self.stdout.write(f"  warning ({url}): {(bad or errors).group(0)}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    # -- 4. import and export ----------------------------------------------------------------

    def time_import(self) -> None:
        admin = Member.objects.for_user(self.admin)
        sponsor, steward = Member.objects.exclude(
            user__username__startswith="kcdir-bench"
        ).order_by("pk")[:2]
        wanted = 1_000 if self.quick else 10_000
        usernames = list(
            get_user_model()
            .objects.filter(is_active=True, member__isnull=False)
            .exclude(pk__in=[sponsor.user_id, steward.user_id])
            .order_by("pk")
            .values_list("username", flat=True)[:wanted]
        )
        text = "username,role\n" + "".join(f"{name},member\n" for name in usernames)
        self.stdout.write(
            f"\n4. Bulk work: roster import into a fresh knowledge community (rolled back), "
            f"membership export as CSV. Load average {load_average()}"
        )
        self.table_header(
            ["what", "rows", "seconds", "rows/s", "peak RSS +MB", "target", "met?"],
            [42, 9, 7, 9, 12, 19, 7],
        )
        with transaction.atomic():
            community = services.create_community(
                actor=admin,
                name="Benchmark Import",
                sponsor=sponsor,
                stewards=[steward],
                purposes=[Purpose.objects.filter(orientation="shape_future").first()],
                join_policy=Community.JoinPolicy.REQUEST,
            )
            with PeakRss() as memory:
                started = time.perf_counter()
                pending = services.preview_roster_import(
                    community=community,
                    actor=admin,
                    file_name="bench.csv",
                    text=text,
                    remove_absent=False,
                )
                previewed = time.perf_counter()
                totals = services.apply_roster_import(roster_import=pending, actor=admin)
                applied = time.perf_counter()
            transaction.set_rollback(True)
        if totals["add"] != len(usernames):
            self.stdout.write(f"  warning: the import added {totals['add']} of {len(usernames)}")
        total = applied - started
        met = total <= IMPORT_SECONDS
        self.target(f"roster import of {len(usernames):,} rows ≤ {IMPORT_SECONDS:.0f} s", met)
        for what, seconds in (
            ("  preview (store, fingerprint)", previewed - started),
            ("  apply (plan, write)", applied - previewed),
        ):
            self.table_row([what, "", f"{seconds:.2f}", "", "", "", ""])
        self.table_row(
            [
                "roster import: preview + apply",
                f"{len(usernames):,}",
                f"{total:.2f}",
                f"{len(usernames) / total:,.0f}",
                f"{memory.growth_mb:.1f}",
                f"≤{IMPORT_SECONDS:.0f} s",
                self.met(met),
            ]
        )

    def time_export(self) -> None:
        """Every membership through the product's own export, ``exports.export_memberships``
        (what ``export_roster --all-communities`` writes): COPY on PostgreSQL."""
        limit = 10_000 if self.quick else None
        count = size = 0

        def counted(rows: int) -> None:
            nonlocal count
            count += rows

        with PeakRss() as memory:
            started = time.perf_counter()
            deadline = started + self.export_seconds
            chunks = exports.export_memberships(on_rows=counted)
            for chunk in chunks:
                size += len(chunk)
                if limit and count >= limit:
                    break
                if time.perf_counter() > deadline:
                    self.stdout.write(f"  (export stopped after {self.export_seconds:.0f} s)")
                    break
            elapsed = time.perf_counter() - started
            chunks.close()  # stopped early: the rest of the query is read and dropped
        rate = count / elapsed if elapsed else 0
        fast = rate >= EXPORT_ROWS_PER_SECOND
        lean = memory.growth_mb <= EXPORT_GROWTH_MB
        self.target(f"membership export ≥ {EXPORT_ROWS_PER_SECOND:,} rows/s", fast)
        self.target(f"membership export grows memory ≤ {EXPORT_GROWTH_MB:.0f} MB", lean)
        self.table_row(
            [
                f"membership export ({size / 2**20:.0f} MB CSV)",
                f"{count:,}",
                f"{elapsed:.2f}",
                f"{rate:,.0f}",
                f"{memory.growth_mb:.1f}",
                f"≥{EXPORT_ROWS_PER_SECOND:,} rows/s",
                self.met(fast),
            ]
        )
        self.table_row(["", "", "", "", "", f"≤{EXPORT_GROWTH_MB:.0f} MB growth", self.met(lean)])

    # -- output ------------------------------------------------------------------------------

    def target(self, what: str, met: bool) -> None:
        self.targets.append((what, met))

    @staticmethod
    def met(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    def table_header(self, columns: list[str], widths: list[int]) -> None:
        self.widths = widths
        self.table_row(columns)
        self.table_row(["-" * width for width in widths])

    def table_row(self, values: list[str]) -> None:
        cells = [
            value.ljust(width) if index == 0 else value.rjust(width)
            for index, (value, width) in enumerate(zip(values, self.widths, strict=True))
        ]
        self.stdout.write("  ".join(cells).rstrip())


def percent(ratio: float) -> str:
    return f"{ratio:.0%}" if ratio >= 0.1 else f"{ratio:.1%}"


def rate_text(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"


def http_get(port: int, path: str, cookie: str = "") -> tuple[int, bytes]:
    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection_.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection_.getresponse()
        return response.status, response.read()
    finally:
        connection_.close()


def python_load(port: int, path: str, cookie: str, connections: int, duration: float) -> float:
    """wrk's job, roughly, when wrk is missing: keep-alive GETs from ``connections``
    threads for ``duration`` seconds (the client's own GIL makes it a lower bound)."""
    deadline = time.monotonic() + duration
    counts = [0] * connections

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < deadline:
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    counts[index] += 1
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)
