"""Part 1: pages and actions through Django's test client, in process: queries per
request and p50/p95 server time."""

import math
import statistics
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from communities.models import Community, Membership
from members.models import Member

from .people import People
from .report import Report, load_average

PAGE_P95_MS = 20.0
PAGE_P95_MS_SQLITE = 50.0  # SQLite, the zero-setup default, on the same data
PAGE_QUERIES = 10

COMMUNITY_TERM = "claims"
PEOPLE_TERM = "okafor"


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


class PageTimer:
    """Times pages for signed-in people, one test client each, and reports them."""

    def __init__(self, report: Report, *, requests: int):
        self.report = report
        self.requests = requests
        self.clients: dict[int, Client] = {}

    def client_for(self, user) -> Client:
        if user.pk not in self.clients:
            client = Client()
            client.force_login(user)
            self.clients[user.pk] = client
        return self.clients[user.pk]

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

    def measure_join_leave(self, people: People) -> list[Measured]:
        client = self.client_for(people.staff)
        slug = people.community.slug
        join = Page("join (POST, open KC)", f"/c/{slug}/join/", people.staff, "post", 302)
        leave = Page("leave (POST, open KC)", f"/c/{slug}/leave/", people.staff, "post", 302)
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
            people.community.memberships.filter(member__user=people.staff).values_list(
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
            self.report.target(result.what, met)
        self.report.table_row(
            [
                result.what,
                str(len(result.samples_ms)),
                str(result.queries),
                f"{result.p50:.1f}",
                f"{result.p95:.1f}",
                f"≤{limit:.0f} ms, ≤{PAGE_QUERIES} q" if targeted else "(no target)",
                self.report.met(met) if targeted else "",
            ]
        )
        return result


def measure_pages(timer: PageTimer, people: People) -> dict[str, Measured]:
    pages = pages_to_measure(people)
    # What the first visitor after a change waits for: the same pages drawn without
    # the directory cache (for information; the targets are on the pages as served).
    uncached = [
        Page(f"{page.what} (uncached)", page.url, page.user, targeted=False) for page in pages[:6]
    ]
    timer.report.write(
        f"\n1. Pages and actions: in-process server time over {timer.requests} requests "
        f"each (after a warm-up), queries per request. Load average {load_average()}"
    )
    timer.report.table_header(
        ["what", "n", "queries", "p50 ms", "p95 ms", "target", "met?"],
        [42, 4, 7, 8, 8, 15, 7],
    )
    results = {}
    for page in pages:
        results[page.what] = timer.report_page(timer.measure(page), targeted=page.targeted)
    for result in timer.measure_join_leave(people):
        results[result.what] = timer.report_page(result)
    with override_settings(DIRECTORY_CACHE_SECONDS=0):
        for page in uncached:
            results[page.what] = timer.report_page(timer.measure(page), targeted=False)
    return results


def pages_to_measure(people: People) -> list[Page]:
    staff, steward, admin = people.staff, people.steward, people.admin
    slug = people.community.slug
    listed = Community.objects.listed().count()
    deep = max(1, int(math.ceil(listed / settings.PAGE_SIZE) * 0.75))
    roster = people.community.memberships.active().count()
    deep_roster = max(1, int(math.ceil(roster / settings.PAGE_SIZE) * 0.75))
    subject = people.subject.username
    filters = f"q={COMMUNITY_TERM}&kind=kc&stage=community&department={people.department.slug}"
    return [
        Page("directory: first page", "/", staff),
        Page(f"directory: deep page ({deep})", f"/?page={deep}", staff),
        Page(f"directory: search “{COMMUNITY_TERM}”", f"/?q={COMMUNITY_TERM}", staff),
        Page("directory: search + filters", f"/?{filters}", staff),
        Page(f"community ({roster:,} roster): first page", f"/c/{slug}/", staff),
        Page(
            f"community ({roster:,} roster): page {deep_roster}",
            f"/c/{slug}/?page={deep_roster}",
            staff,
        ),
        Page("manage membership (steward)", f"/c/{slug}/manage/", steward),
        Page(
            f"people search “{PEOPLE_TERM}” ({Member.objects.count():,})",
            f"/people/?q={PEOPLE_TERM}",
            staff,
        ),
        Page("profile (busiest person)", f"/people/{subject}/", staff),
        Page("history: person (admin)", f"/people/{subject}/history/", admin),
        Page("history: community (steward)", f"/c/{slug}/history/", steward),
        Page(f"roster CSV export ({roster:,})", f"/c/{slug}/export.csv", steward, targeted=False),
        Page(f"directory CSV export ({listed:,})", "/directory/export.csv", admin, targeted=False),
    ]
