"""The real worker (``manage.py worker``, django-q2's cluster) in a process of its own,
a local mail server on loopback (aiosmtpd) that fails when told to, and a database both
share: pytest-django's PostgreSQL test database, or on SQLite a file (the default test
database lives in this process's memory, out of the worker's reach)."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, connections
from django_q.models import OrmQ

from background.models import OutboxMessage

ROOT = Path(__file__).resolve().parents[2]


class MailServer:
    """Accepts mail on loopback; ``fail_next`` refuses that many deliveries first (451),
    ``hold`` keeps the next delivery waiting until ``release()``."""

    def __init__(self):
        self.received: list[str] = []  # Message-IDs, in the order accepted
        self.refused = 0
        self.fail_next = 0
        self.hold = False
        self.holding = threading.Event()
        self._released = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message_id = message_from_bytes(envelope.content)["Message-ID"]
        if self.hold:
            self.hold = False
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Held, then refused"
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return "451 4.3.0 Try again later"
        self.received.append(message_id)
        return "250 OK"

    def release(self):
        self._released.set()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mail_server():
    handler = MailServer()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    handler.release()
    controller.stop()


@pytest.fixture(scope="module")
def _sqlite_file(tmp_path_factory, django_db_blocker):
    """On SQLite: this module's tests use a migrated file database, in place of the
    in-memory one (restored after)."""
    if "sqlite" not in django_settings.DATABASES["default"]["ENGINE"]:
        yield None
        return
    path = tmp_path_factory.mktemp("worker") / "kcdir.sqlite3"
    original = connections["default"]
    test = {**original.settings_dict["TEST"], "NAME": str(path)}
    settings_dict = {**original.settings_dict, "NAME": str(path), "TEST": test}
    wrapper = type(original)(settings_dict, "default")
    connections["default"] = wrapper
    try:
        with django_db_blocker.unblock():
            call_command("migrate", verbosity=0, interactive=False)
        yield f"sqlite:///{path}"
    finally:
        wrapper.close()
        connections["default"] = original


@pytest.fixture
def shared_database(_sqlite_file, django_db_blocker, settings):
    """The database URL the worker uses; this test's process uses the same database (the
    tests are marked ``django_db(transaction=True)``: what they write is committed)."""
    settings.KCDIR_TASKS = "worker"
    if _sqlite_file is None:
        db = connection.settings_dict
        yield (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
        return
    with django_db_blocker.unblock():
        OutboxMessage.objects.all().delete()
        OrmQ.objects.all().delete()
        yield _sqlite_file


class Worker:
    def __init__(self, env: dict):
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = ""

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed whole
        )
        return self

    def kill(self):
        """Kill the cluster and all its processes at once (a crash, a power cut)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        output, _ = self.process.communicate(timeout=10)
        self.log += output.decode(errors="replace")
        self.process = None


@pytest.fixture
def worker(shared_database, mail_server):
    """Starts (``worker.start()``) the real worker against the shared database, sending
    to ``mail_server``; killed at the end of the test."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "devtools.settings",
        "DATABASE_URL": shared_database,
        "SECRET_KEY": "kcdir-tests-only-not-a-secret",
        "DEBUG": "0",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_server.port),
        "EMAIL_TIMEOUT": "5",
        "KCDIR_TASKS": "worker",
        "KCDIR_EMAIL_RETRY_SECONDS": "0.2",
        "KCDIR_EMAIL_MAX_ATTEMPTS": "4",
        "KCDIR_EMAIL_LEASE_SECONDS": "2",
        "KCDIR_WORKER_PROCESSES": "1",
        "KCDIR_QUEUE_POLL_SECONDS": "0.1",
        "KCDIR_QUEUE_TIMEOUT_SECONDS": "20",
        "KCDIR_QUEUE_RETRY_SECONDS": "25",
        "LOG_LEVEL": "WARNING",
    }
    running = Worker(env)
    yield running
    running.kill()


def wait_for(condition, *, seconds: float = 20, what: str = "the worker", worker=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    if worker is not None:
        worker.kill()
        pytest.fail(f"{what} did not happen in {seconds} s; worker output:\n{worker.log}")
    pytest.fail(f"{what} did not happen in {seconds} s")
