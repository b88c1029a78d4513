"""Part 5: varied requests, what the first visitor waits for.

Part 1 times the same URL 50 times, so after the first request most pages come from the
directory cache. Here every URL that ``varied.VariedRequests`` drew is requested exactly
once:

- in process, through the test client, after a warm-up with other URLs of each kind and
  with every cache cleared: time and queries of every request (``measure_in_process``);
- under gunicorn with the production config and ``--connections`` (20) connections, all
  kinds mixed, against the signed-in hello measured on the same server in the same run
  (``measure_under_gunicorn``), with wrk and ``each_once.lua`` (or a threaded Python client
  when wrk is missing).

The in-process and gunicorn URLs are different draws: no URL is requested twice.
"""

import http.client
import math
import os
import queue
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection, reset_queries
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from .pages import Page, PageTimer
from .people import People
from .report import Report, load_average, percent, rate_text
from .throughput import SIGNED_IN_HELLO, Throughput, drain, gunicorn_environment, http_get
from .varied import (
    KINDS,
    SEED,
    Draw,
    VariedRequests,
    Visit,
    clear_caches,
    sign_in,
    sign_out,
)

VARIED_P95_MS = 25.0
VARIED_P95_MS_SQLITE = 60.0  # SQLite, the zero-setup default, on the same data
VARIED_QUERIES = 10
MIX_VS_HELLO = 0.3
LUA_SCRIPT = Path(__file__).with_name("each_once.lua")


# -- in process --------------------------------------------------------------------------


@dataclass
class KindResult:
    kind: str
    ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")
    most: tuple[int, str] = (0, "")  # the most queries, and where

    def add(self, url: str, ms: float, queries: int, sql_ms: float) -> None:
        self.ms.append(ms)
        self.queries.append(queries)
        self.sql_ms.append(sql_ms)
        self.slowest = max(self.slowest, (ms, url))
        self.most = max(self.most, (queries, url))

    def percentile(self, share: float) -> float:
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class QueryClock:
    """A database execute wrapper adding up the time spent executing queries (the log's
    times are rounded to the millisecond)."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def timed(request: Callable[[], object]) -> tuple[float, int, float]:
    """ms, queries and ms in queries of one request. The query log is emptied first:
    ``CaptureQueriesContext`` stops Django emptying it at each request, and once full
    (9,000 queries) it would count nothing."""
    reset_queries()
    clock = QueryClock()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(clock):
        started = time.perf_counter()
        request()
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len(captured.captured_queries), clock.seconds * 1000


def measure_in_process(
    report: Report, draw: Draw, *, per_kind: int, rng: random.Random
) -> dict[str, KindResult]:
    users = get_user_model().objects.in_bulk(
        {visit.viewer for visit in [*draw.warm_up, *draw.in_process]}
    )
    sessions: dict[int, str] = {}
    # One client for everyone, given the viewer's session cookie (and no other) before
    # each request: a new test client loads the middleware again on its first request,
    # and WhiteNoise's reads every static file's details (hundreds of ms).
    client = Client()
    timer = PageTimer(report, requests=0)

    def get(visit: Visit):
        client.cookies.clear()
        client.cookies[settings.SESSION_COOKIE_NAME] = sessions[visit.viewer]
        return timer.request(client, Page(visit.kind, visit.url, None))

    try:
        warm_up_sessions = sign_in_all(users, [*draw.warm_up])
        sessions.update(warm_up_sessions)
        for visit in draw.warm_up:  # templates, connections: URLs not measured below
            get(visit)
        clear_caches()
        sign_out(warm_up_sessions.values())
        # Signed in after the caches are emptied: a session is in the shared cache from
        # the moment one signs in, as in production.
        sessions.update(sign_in_all(users, draw.in_process))
        visits = list(draw.in_process)
        rng.shuffle(visits)
        report.write(
            f"\n5. Varied requests (first visitor): distinct URLs drawn by a seeded generator "
            f"(seed {SEED}), up to {per_kind} of each kind, each requested exactly once, the "
            f"kinds mixed; no URL repeats (checked), in process or under gunicorn. In "
            f"process: after one warm-up request of each kind (other URLs), every cache was "
            f"cleared (cache.clear() on each of {', '.join(settings.CACHES)}) and then the "
            f"viewers signed in; server time and queries of each request. Load average "
            f"{load_average()}"
        )
        results = {kind: KindResult(kind) for kind in KINDS}
        for visit in visits:
            results[visit.kind].add(visit.url, *timed(lambda visit=visit: get(visit)))
    finally:
        sign_out(sessions.values())
    report_in_process(report, results)
    return results


def sign_in_all(users: dict, visits: list[Visit]) -> dict[int, str]:
    """A new session for each viewer of ``visits``."""
    return {pk: sign_in(users[pk]) for pk in dict.fromkeys(visit.viewer for visit in visits)}


def report_in_process(report: Report, results: dict[str, KindResult]) -> None:
    limit = VARIED_P95_MS_SQLITE if connection.vendor == "sqlite" else VARIED_P95_MS
    report.table_header(
        ["kind", "n", "q med/max", "p50 ms", "p95 ms", "max ms", "SQL p50", "target", "met?"],
        [32, 4, 9, 7, 7, 7, 7, 15, 7],
    )
    for kind, result in results.items():
        if not result.ms:
            report.table_row([kind, "0", "", "", "", "", "", "(no data)", ""])
            continue
        p95, most = result.percentile(0.95), max(result.queries)
        met = p95 <= limit and most <= VARIED_QUERIES
        report.target(f"varied, in process: {kind}", met)
        report.table_row(
            [
                kind,
                str(len(result.ms)),
                f"{statistics.median(result.queries):g}/{most}",
                f"{statistics.median(result.ms):.1f}",
                f"{p95:.1f}",
                f"{max(result.ms):.1f}",
                f"{statistics.median(result.sql_ms):.1f}",
                f"≤{limit:.0f} ms, ≤{VARIED_QUERIES} q",
                report.met(met),
            ]
        )
    report.write(f"  load average after these requests: {load_average()}; slowest of each kind:")
    for result in results.values():
        if result.ms:
            report.write(f"    {result.slowest[0]:7.1f} ms  {result.slowest[1]}")
    over = [result.most for result in results.values() if result.most[0] > VARIED_QUERIES]
    if over:
        report.write(f"  most queries, where over {VARIED_QUERIES}:")
        for queries, url in over:
            report.write(f"    {queries:4d} queries  {url}")


# -- under gunicorn ----------------------------------------------------------------------


@dataclass
class MixResult:
    requests: int
    answered: int
    failed: int
    seconds: float
    latency: str  # "p50 / p99 ms", from wrk

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def measure_under_gunicorn(
    report: Report,
    people: People,
    draw: Draw,
    static_root: Path,
    *,
    duration: int,
    connections: int,
    rng: random.Random,
) -> None:
    visits = list(draw.under_gunicorn)
    if not visits:
        report.write("  Under gunicorn: no URLs left for it (the data is too small).")
        return
    rng.shuffle(visits)
    throughput = Throughput(report, people, duration=duration, connections=connections)
    env, secret_key = gunicorn_environment(static_root)
    env["DJANGO_SETTINGS_MODULE"] = "devtools.bench_settings"
    staff = Visit("hello", "/bench/hello/", people.staff.pk)
    users = get_user_model().objects.in_bulk(
        {visit.viewer for visit in [*visits, *draw.warm_up, staff]}
    )
    name = settings.SESSION_COOKIE_NAME
    sessions: list[str] = []

    def cookies_for(visits: list[Visit]) -> dict[int, str]:
        with override_settings(SECRET_KEY=secret_key):
            signed_in = sign_in_all(users, visits)
        sessions.extend(signed_in.values())
        return {pk: f"{name}={key}" for pk, key in signed_in.items()}

    tool = "wrk" if shutil.which("wrk") else None
    try:
        cookies = cookies_for([staff, *draw.warm_up])
        with throughput.gunicorn("kcdir.wsgi", env) as port:
            throughput.check_signed_in(port, staff.url, cookies[staff.viewer])
            hello = throughput.load(port, staff.url, cookies[staff.viewer])
            warm_up(port, [(v.url, cookies[v.viewer]) for v in draw.warm_up])
            caches["default"].clear()
            cookies = cookies_for(visits)  # in the shared cache from sign-in, as in production
            drain(port)
            lines = [(visit.url, cookies[visit.viewer]) for visit in visits]
            if tool:
                mix = wrk_each_once(port, lines, connections)
            else:
                mix = python_each_once(port, lines, connections)
    finally:
        with override_settings(SECRET_KEY=secret_key):
            sign_out(sessions)
    report_mix(report, hello, mix, tool=tool, connections=connections, duration=duration)


def warm_up(port: int, requests: list[tuple[str, str]], rounds: int = 4) -> None:
    """Each warm-up URL a few times from several threads at once, so that every worker
    has loaded its templates and opened its connections (none of these URLs is measured)."""

    def run() -> None:
        for path, cookie in requests:
            http_get(port, path, cookie)

    threads = [threading.Thread(target=run) for _ in range(rounds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def wrk_each_once(port: int, lines: list[tuple[str, str]], connections: int) -> MixResult:
    threads = max(1, min(os.cpu_count() or 1, connections, len(lines)))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="kcdir-varied-") as file:
        file.writelines(f"{path}\t{cookie}\n" for path, cookie in lines)
        file.flush()
        process = subprocess.Popen(  # noqa: S603 (wrk, our script, our file)
            [
                shutil.which("wrk"),
                f"-t{threads}",
                f"-c{max(connections, threads)}",
                "-d3600s",
                "--timeout",
                "60s",
                "-s",
                str(LUA_SCRIPT),
                f"http://127.0.0.1:{port}",
                "--",
                file.name,
                str(threads),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # wrk runs for its whole -d: stop it (SIGINT, as Ctrl-C) once every thread has
        # said it is done, or after a second a request at most (then the report says
        # how many went unanswered).
        watchdog = threading.Timer(120 + len(lines), process.send_signal, [signal.SIGINT])
        watchdog.start()
        try:
            done = 0
            for line in process.stderr:
                done += line.startswith("each-once: done")
                if done == threads:
                    break
            process.send_signal(signal.SIGINT)
            output = process.communicate(timeout=60)[0]
        finally:
            watchdog.cancel()
    found = re.search(
        r"each-once: answered=(\d+) failed=(\d+) seconds=([\d.]+) p50=([\d.]+) p99=([\d.]+)",
        output,
    )
    if not found:
        raise RuntimeError(f"wrk said nothing the bench understands:\n{output}")
    answered, failed, seconds, p50, p99 = found.groups()
    return MixResult(len(lines), int(answered), int(failed), float(seconds), f"{p50} / {p99} ms")


def python_each_once(port: int, lines: list[tuple[str, str]], connections: int) -> MixResult:
    """wrk's job, roughly, when wrk is missing: ``connections`` threads take the next
    line until none is left (the client's own GIL makes the rate a lower bound)."""
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for line in lines:
        pending.put(line)
    latencies: list[float] = []
    failed = [0]

    def worker() -> None:
        while True:
            try:
                path, cookie = pending.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            try:
                status, _body = http_get(port, path, cookie)
            except (OSError, http.client.HTTPException):
                status = 0
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                failed[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    return MixResult(
        len(lines), len(latencies), failed[0], seconds,
        f"{statistics.median(ordered):.1f} / {p99:.1f} ms",
    )  # fmt: skip


def report_mix(
    report: Report, hello: float, mix: MixResult, *, tool, connections: int, duration: int
) -> None:
    report.write(
        f"  Under gunicorn (as in part 3, 2 workers), {connections} connections, with "
        f"{tool or 'a threaded Python client (wrk is not installed)'}: the signed-in hello "
        f"for {duration} s, a warm-up with the same warm-up URLs as above, the shared cache "
        f"cleared, the viewers signed in, then the kinds' other URLs mixed, each once (the "
        f"rate is all of them over "
        f"the time from the first sent to the last answered). Load average at the end "
        f"{load_average()}"
    )
    report.table_header(
        ["what", "requests", "seconds", "requests/s", "ratio", "target", "met?"],
        [42, 8, 8, 10, 24, 6, 7],
    )
    report.table_row([SIGNED_IN_HELLO, "", f"{duration}", rate_text(hello), "", "", ""])
    ratio = mix.rate / hello if hello else 0.0
    met = ratio >= MIX_VS_HELLO and mix.failed == 0 and mix.answered == mix.requests
    report.target(f"varied mix under gunicorn ≥ {MIX_VS_HELLO:.0%} of the signed-in hello", met)
    report.table_row(
        [
            "varied mix, each URL once",
            f"{mix.answered:,}",
            f"{mix.seconds:.1f}",
            rate_text(mix.rate),
            f"{percent(ratio)} of signed-in hello",
            f"≥{MIX_VS_HELLO:.0%}",
            report.met(met),
        ]
    )
    report.write(f"  latency under load (p50 / p99): {mix.latency}")
    if mix.failed or mix.answered != mix.requests:
        report.write(
            f"  warning: {mix.failed} answers were not 200 and "
            f"{mix.requests - mix.answered} of {mix.requests} requests went unanswered"
        )


def run_varied(
    report: Report,
    people: People,
    static_root: Path | None,
    *,
    per_kind: int,
    gunicorn: bool,
    duration: int,
    connections: int,
) -> None:
    rng = random.Random(SEED + 1)  # noqa: S311 (the order of the requests)
    draw = VariedRequests(people).draw(per_kind)
    measure_in_process(report, draw, per_kind=per_kind, rng=rng)
    if not gunicorn:
        report.write("  Under gunicorn: skipped.")
        return
    clear_caches()
    measure_under_gunicorn(
        report,
        people,
        draw,
        static_root,
        duration=duration,
        connections=connections,
        rng=rng,
    )
