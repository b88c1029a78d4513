"""Part 3: throughput under gunicorn with the production config, measured with wrk
(or a threaded Python client when wrk is missing), while someone joins and leaves."""

import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client, override_settings

from communities import services
from members.models import Member

from .pages import COMMUNITY_TERM
from .people import People
from .report import Report, load_average, percent, rate_text

DIRECTORY_VS_HELLO = 0.5
WRITES_PER_SECOND = 5.0  # joins and leaves during the directory's throughput under change
HELLO_VS_BARE = 0.4

SIGNED_IN_HELLO = "hello, signed in (production middleware)"
BARE_HELLO = "hello, no middleware"


class Throughput:
    def __init__(self, report: Report, people: People, *, duration: int, connections: int):
        self.report = report
        self.people = people
        self.duration = duration
        self.connections = connections

    def run(self, static_root: Path) -> None:
        env, secret_key = gunicorn_environment(static_root)
        with override_settings(SECRET_KEY=secret_key):
            session = Client()
            session.force_login(self.people.staff)
            name = settings.SESSION_COOKIE_NAME
            cookie = f"{name}={session.cookies[name].value}"
        tool = "wrk" if shutil.which("wrk") else None
        self.report.write(
            f"\n3. Throughput under gunicorn (gunicorn.conf.py, 2 workers, DEBUG off, access log "
            f"to /dev/null), {self.connections} connections, {self.duration} s per URL, with "
            f"{'wrk' if tool else 'a threaded Python client (wrk is not installed)'}. "
            f"Load average {load_average()}"
        )
        urls = {
            "directory: first page": "/",
            f"directory: search “{COMMUNITY_TERM}”": f"/?q={COMMUNITY_TERM}",
            SIGNED_IN_HELLO: "/bench/hello/",
        }
        rates, churn, writes = self.measure(env, urls, cookie)
        SessionStore(session_key=cookie.partition("=")[2]).delete()
        self.report_rates(rates, list(urls)[:2], churn, writes)

    def measure(self, env: dict, urls: dict[str, str], cookie: str):
        """Requests per second for each URL, signed in; the directory again while
        someone joins and leaves; the hello without any middleware."""
        rates = {}
        signed_in_env = {**env, "DJANGO_SETTINGS_MODULE": "devtools.bench_settings"}
        with self.gunicorn("kcdir.wsgi", signed_in_env) as port:
            for path in urls.values():
                self.check_signed_in(port, path, cookie)
            for what, path in urls.items():
                rates[what] = self.load(port, path, cookie)
            # Every committed change empties the cached directory: the same page while
            # someone joins or leaves the big community WRITES_PER_SECOND times a second.
            with joining_and_leaving(self.people, WRITES_PER_SECOND) as writes:
                churn = self.load(port, "/", cookie)
        with self.gunicorn("devtools.bench_wsgi", env) as port:
            rates[BARE_HELLO] = self.load(port, "/bench/hello/", cookie)
        return rates, churn, writes

    def report_rates(self, rates: dict[str, float], pages: list[str], churn: float, writes):
        report = self.report
        hello, bare = rates[SIGNED_IN_HELLO], rates[BARE_HELLO]
        report.table_header(["what", "requests/s", "ratio", "target", "met?"], [42, 10, 26, 6, 7])
        report.table_row([BARE_HELLO, rate_text(bare), "", "", ""])
        ratio = hello / bare if bare else 0
        report.target("signed-in hello ≥ 40% of middleware-free hello", ratio >= HELLO_VS_BARE)
        report.table_row(
            [
                SIGNED_IN_HELLO,
                rate_text(hello),
                f"{percent(ratio)} of no-middleware",
                f"≥{HELLO_VS_BARE:.0%}",
                report.met(ratio >= HELLO_VS_BARE),
            ]
        )
        for what in pages:
            ratio = rates[what] / hello if hello else 0
            report.target(
                f"{what} throughput ≥ 50% of signed-in hello", ratio >= DIRECTORY_VS_HELLO
            )
            report.table_row(
                [
                    what,
                    rate_text(rates[what]),
                    f"{percent(ratio)} of signed-in hello",
                    f"≥{DIRECTORY_VS_HELLO:.0%}",
                    report.met(ratio >= DIRECTORY_VS_HELLO),
                ]
            )
        ratio = churn / hello if hello else 0
        report.table_row(
            [
                f"directory, {writes.per_second:.1f} joins/leaves a second",
                rate_text(churn),
                f"{percent(ratio)} of signed-in hello",
                "",
                "",
            ]
        )

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
            wait_until_up(process, port, log)
            yield port
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()

    def check_signed_in(self, port: int, path: str, cookie: str) -> None:
        status, _body = http_get(port, path, cookie)
        if status != 200:
            raise RuntimeError(f"{path} answered {status} to the signed-in bench user, not 200")

    def load(self, port: int, path: str, cookie: str) -> float:
        """Requests per second over ``self.duration`` seconds, from an idle server."""
        drain(port)
        if shutil.which("wrk"):
            return self.wrk(f"http://127.0.0.1:{port}{path}", cookie)
        return python_load(port, path, cookie, self.connections, self.duration)

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
            self.report.write(f"  warning ({url}): {(bad or errors).group(0)}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def gunicorn_environment(static_root: Path) -> tuple[dict, str]:
    """gunicorn's environment (production settings, DEBUG off, 2 workers, the collected
    static files) and the fresh ``SECRET_KEY`` in it, which sessions must be signed with."""
    secret_key = secrets.token_urlsafe(50)
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
    return env, secret_key


@contextmanager
def joining_and_leaving(people: People, per_second: float):
    """Join and leave the big community ``per_second`` times a second (through the
    services, in this process) while the block runs; reports the rate achieved."""
    community = people.community
    member = Member.objects.get(user=people.staff)
    stop = threading.Event()
    writes = SimpleNamespace(count=0, per_second=0.0)

    def write():
        try:
            actions = (services.join_community, services.leave_community)
            while not stop.wait(1 / per_second):
                actions[writes.count % 2](community=community, member=member)
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
        mine = community.memberships.filter(member=member, state="active")
        if mine.exists():
            services.leave_community(community=community, member=member)


def wait_until_up(process, port: int, log) -> None:
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


def drain(port: int) -> None:
    """Wait until the server has worked through what an earlier run left queued (a
    closed client's requests are still served): two quick health checks in a row."""
    quick = 0
    deadline = time.monotonic() + 300
    while quick < 2 and time.monotonic() < deadline:
        started = time.monotonic()
        http_get(port, "/healthz/")
        quick = quick + 1 if time.monotonic() - started < 0.1 else 0


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
