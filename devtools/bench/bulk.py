"""Part 4: a roster import into a fresh knowledge community (rolled back) and the
membership export, with their speed and the memory they take."""

import os
import resource
import threading
import time

from django.contrib.auth import get_user_model
from django.db import transaction

from communities import services
from communities.csv_io import exports
from communities.models import Community, Purpose
from members.models import Member

from .people import People
from .report import Report, load_average

IMPORT_SECONDS = 2.0
EXPORT_ROWS_PER_SECOND = 100_000
EXPORT_GROWTH_MB = 50.0


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


def time_import(report: Report, people: People, *, quick: bool) -> None:
    admin = Member.objects.for_user(people.admin)
    sponsor, steward = Member.objects.exclude(user__username__startswith="kcdir-bench").order_by(
        "pk"
    )[:2]
    wanted = 1_000 if quick else 10_000
    usernames = list(
        get_user_model()
        .objects.filter(is_active=True, member__isnull=False)
        .exclude(pk__in=[sponsor.user_id, steward.user_id])
        .order_by("pk")
        .values_list("username", flat=True)[:wanted]
    )
    text = "username,role\n" + "".join(f"{name},member\n" for name in usernames)
    report.write(
        f"\n4. Bulk work: roster import into a fresh knowledge community (rolled back), "
        f"membership export as CSV. Load average {load_average()}"
    )
    report.table_header(
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
        times, totals, memory = import_roster(community, admin, text)
        transaction.set_rollback(True)
    if totals["add"] != len(usernames):
        report.write(f"  warning: the import added {totals['add']} of {len(usernames)}")
    report_import(report, len(usernames), times, memory)


def import_roster(community: Community, admin: Member, text: str):
    """Preview and apply ``text`` as a roster import: the seconds each took, the
    import's totals and the memory it grew by."""
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
    return (previewed - started, applied - previewed), totals, memory


def report_import(report: Report, rows: int, times: tuple[float, float], memory: PeakRss):
    preview, apply = times
    total = preview + apply
    met = total <= IMPORT_SECONDS
    report.target(f"roster import of {rows:,} rows ≤ {IMPORT_SECONDS:.0f} s", met)
    for what, seconds in (
        ("  preview (plan, store the plan)", preview),
        ("  apply (check, write)", apply),
    ):
        report.table_row([what, "", f"{seconds:.2f}", "", "", "", ""])
    report.table_row(
        [
            "roster import: preview + apply",
            f"{rows:,}",
            f"{total:.2f}",
            f"{rows / total:,.0f}",
            f"{memory.growth_mb:.1f}",
            f"≤{IMPORT_SECONDS:.0f} s",
            report.met(met),
        ]
    )


def time_export(report: Report, *, quick: bool, export_seconds: float) -> None:
    """Every membership through the product's own export, ``exports.export_memberships``
    (what ``export_roster --all-communities`` writes): COPY on PostgreSQL."""
    limit = 10_000 if quick else None
    count = size = 0

    def counted(rows: int) -> None:
        nonlocal count
        count += rows

    with PeakRss() as memory:
        started = time.perf_counter()
        deadline = started + export_seconds
        chunks = exports.export_memberships(on_rows=counted)
        for chunk in chunks:
            size += len(chunk)
            if limit and count >= limit:
                break
            if time.perf_counter() > deadline:
                report.write(f"  (export stopped after {export_seconds:.0f} s)")
                break
        elapsed = time.perf_counter() - started
        chunks.close()  # stopped early: the rest of the query is read and dropped
    rate = count / elapsed if elapsed else 0
    fast = rate >= EXPORT_ROWS_PER_SECOND
    lean = memory.growth_mb <= EXPORT_GROWTH_MB
    report.target(f"membership export ≥ {EXPORT_ROWS_PER_SECOND:,} rows/s", fast)
    report.target(f"membership export grows memory ≤ {EXPORT_GROWTH_MB:.0f} MB", lean)
    report.table_row(
        [
            f"membership export ({size / 2**20:.0f} MB CSV)",
            f"{count:,}",
            f"{elapsed:.2f}",
            f"{rate:,.0f}",
            f"{memory.growth_mb:.1f}",
            f"≥{EXPORT_ROWS_PER_SECOND:,} rows/s",
            report.met(fast),
        ]
    )
    report.table_row(["", "", "", "", "", f"≤{EXPORT_GROWTH_MB:.0f} MB growth", report.met(lean)])
