"""The real services the fault tests start, stop and break: a PostgreSQL cluster of
their own, a redis-server of their own, gunicorn with the production settings, and a
plain DB-API connection to look at what was written."""

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

BASE_DIR = Path(__file__).resolve().parents[2]
# The servers' SECRET_KEY: the seeded sessions are signed with it.
SECRET_KEY = "kcdir-fault-tests-only-" + "not-a-secret-" * 3
# Django accepts any 32-character CSRF cookie; posting the same value passes the check.
CSRF = "faultsfaultsfaultsfaultsfaults12"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, step: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout} s")


# -- PostgreSQL ---------------------------------------------------------------------------


def postgres_binary(name: str) -> str | None:
    """``name`` from the newest /usr/lib/postgresql/<version>/bin, else from PATH."""
    found = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if found:
        return max(found, key=lambda path: int(re.search(r"/(\d+)/bin/", path).group(1)))
    return shutil.which(name)


class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder on a free port, run as the postgres OS
    user when we are root (initdb refuses root). Stopping it stops no one else's."""

    def __init__(self):
        self.initdb, self.pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.as_user = None
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                pytest.skip("running as root without runuser: cannot run initdb as postgres")
            self.as_user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="kcdir-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgresql.log"
        self.port = free_port()
        if self.as_user:
            shutil.chown(self.root, user=self.as_user)

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", self.as_user, "--", *args] if self.as_user else list(args)
        result = subprocess.run(  # noqa: S603 (PostgreSQL's own tools, fixed arguments)
            command, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    def init(self) -> "OwnPostgres":
        self._run(
            self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                # A test cluster: nothing here needs to survive a power cut.
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        return self

    def start(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


# -- Redis --------------------------------------------------------------------------------


class OwnRedis:
    """A redis-server on a free port, keeping no snapshot unless asked to
    (``stop(save=True)`` writes one, which ``start()`` then reloads)."""

    def __init__(self, root: Path):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            pytest.skip("redis-server is not installed")
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (redis-server, fixed arguments)
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--logfile",
                str(self.root / "redis.log"),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=10, what="redis-server answering PING")

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=2)

    def stop(self, *, save: bool = False) -> None:
        if self.process is None:
            return
        if save:
            with contextlib.suppress(redis.ConnectionError):  # it hangs up as it goes
                self.client().shutdown(save=True)
        else:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.process = None

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    def url(self, db: int = 1) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


# -- gunicorn -----------------------------------------------------------------------------

# Variables of the test process that must not leak into a production-like server.
_NOT_INHERITED = ("DJANGO_", "KCDIR_", "SECURE_", "CACHE_", "SESSION_", "GUNICORN_", "EMAIL_")
_NOT_INHERITED_NAMES = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL", "DATABASE_URL")


def server_env(database_url: str, static_root: Path, **overrides: str) -> dict:
    """Production settings (kcdir.settings, DEBUG off) on ``database_url``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_NOT_INHERITED) and key not in _NOT_INHERITED_NAMES
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kcdir.settings",
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        STATIC_ROOT=str(static_root),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


class Gunicorn:
    """gunicorn with the repository's gunicorn.conf.py (2 workers here), on a free port;
    its log (errors and the access log) goes to ``log``."""

    def __init__(self, env: dict, log: Path, *, app: str = "kcdir.wsgi", workers: int = 2):
        self.port = free_port()
        self.log = log
        self.app = app
        self.env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_ACCESS_LOG": "-",
        }
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "Gunicorn":
        self._log_file = open(self.log, "ab")  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "gunicorn", self.app, "-c", str(BASE_DIR / "gunicorn.conf.py")],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log_file,
            stderr=self._log_file,
            start_new_session=True,
        )
        try:
            wait_for(self._up, timeout=60, step=0.2, what="gunicorn answering /healthz/")
            wait_for(
                lambda: len(self.workers()) == int(self.env["GUNICORN_WORKERS"]),
                timeout=30,
                what="gunicorn's workers",
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped:\n{self.log_text()[-3000:]}")
        try:
            return requests.get(self.url("/healthz/"), timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def workers(self) -> set[int]:
        """The worker processes' ids (children of the master)."""
        pids = set()
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.add(int(stat.split("/")[2]))
        return pids

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __exit__(self, *exc_info) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()


# -- HTTP ---------------------------------------------------------------------------------


def browser(cookie: str | None = None) -> requests.Session:
    """An HTTP client with a session cookie (``name=value``) and a CSRF cookie."""
    session = requests.Session()
    session.cookies.set("csrftoken", CSRF, domain="127.0.0.1")
    if cookie:
        name, _, value = cookie.partition("=")
        session.cookies.set(name, value, domain="127.0.0.1")
    return session


# -- reading the database -----------------------------------------------------------------


class Db:
    """A plain DB-API connection (psycopg2 or sqlite3) to what a server wrote; queries
    use ``%s`` placeholders on both."""

    def __init__(self, url: str):
        if url.startswith("postgres"):
            self.connection = psycopg2.connect(url)
            self.connection.autocommit = True
            self.sqlite = False
        else:
            path = url.removeprefix("sqlite:///")
            self.connection = sqlite3.connect(path, timeout=20, isolation_level=None)
            self.sqlite = True

    def rows(self, sql: str, params=()) -> list[tuple]:
        if self.sqlite:
            return self.connection.execute(sql.replace("%s", "?"), params).fetchall()
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def scalar(self, sql: str, params=()):
        return self.rows(sql, params)[0][0]

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "Db":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# Broken rules a fault must never leave behind (SQL for PostgreSQL and SQLite alike).
INVARIANTS = {
    "an active knowledge community without exactly one active sponsor": """
        SELECT c.slug FROM communities_community c
        WHERE c.kind = 'kc' AND c.status = 'active' AND (
            SELECT count(*) FROM communities_membership m WHERE m.community_id = c.id
            AND m.state = 'active' AND m.role = 'sponsor') <> 1""",
    "an active knowledge community without an active steward": """
        SELECT c.slug FROM communities_community c
        WHERE c.kind = 'kc' AND c.status = 'active' AND NOT EXISTS (
            SELECT 1 FROM communities_membership m WHERE m.community_id = c.id
            AND m.state = 'active' AND m.role = 'steward')""",
    "a membership whose latest history event says another state": """
        SELECT m.id FROM communities_membership m
        JOIN communities_membershipevent e
          ON e.community_id = m.community_id AND e.target_id = m.member_id
        WHERE e.id = (SELECT max(e2.id) FROM communities_membershipevent e2
                      WHERE e2.community_id = m.community_id AND e2.target_id = m.member_id)
          AND e.state_after <> m.state""",
    "a history event that does not start where the one before it ended": """
        SELECT id FROM (
            SELECT e.id, e.state_before, LAG(e.state_after) OVER (
                PARTITION BY e.community_id, e.target_id ORDER BY e.id) AS previous
            FROM communities_membershipevent e) chain
        WHERE previous IS NOT NULL AND state_before <> previous""",
    "a history event for a membership that does not exist": """
        SELECT e.id FROM communities_membershipevent e
        WHERE e.target_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM communities_membership m
            WHERE m.community_id = e.community_id AND m.member_id = e.target_id)""",
}


def broken_invariants(db: Db) -> dict[str, list]:
    broken = {}
    for rule, sql in INVARIANTS.items():
        found = [row[0] for row in db.rows(sql)]
        if found:
            broken[rule] = found[:10]
    return broken


def timed_get(session: requests.Session, url: str) -> tuple[int, float, str]:
    """Status, seconds and body of a GET (redirects not followed)."""
    started = time.perf_counter()
    response = session.get(url, allow_redirects=False, timeout=30)
    return response.status_code, time.perf_counter() - started, response.text


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"
