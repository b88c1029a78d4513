"""Fixtures of the fault tests: the servers they start (and always stop), the seeded
databases they break, and the figures they report at the end of the run."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from .servers import BASE_DIR, OwnPostgres, OwnRedis, server_env

FIGURES = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[FIGURES] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    figures = config.stash.get(FIGURES, [])
    if figures:
        terminalreporter.section("fault figures")
        for line in figures:
            terminalreporter.write_line(line)
        load = " ".join(f"{each:.1f}" for each in os.getloadavg())
        terminalreporter.write_line(f"({os.cpu_count()} cores, load average now {load})")


@pytest.fixture
def figure(request):
    """``figure("what", value)``: a line for the run's "fault figures" summary."""

    def record(what: str, value) -> None:
        request.config.stash[FIGURES].append(f"{request.node.name}: {what}: {value}")

    return record


def _run_seed(env: dict, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "tests.faults.seed", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tests.faults.seed {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


@pytest.fixture(scope="session")
def workdir():
    """A temporary folder for the whole run (pytest's own is private to root, and the
    PostgreSQL cluster runs as postgres)."""
    path = Path(tempfile.mkdtemp(prefix="kcdir-faults-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def static_root(workdir):
    root = workdir / "static"
    _run_seed(server_env("sqlite:///unused", root), "static")
    return root


@pytest.fixture(scope="session")
def postgres():
    """Our own PostgreSQL cluster, with a seeded template database ``seeded``."""
    server = OwnPostgres()
    try:
        server.init()
        server.start()
        server.execute("CREATE DATABASE seeded")
        data = json.loads(_run_seed(server_env(server.url("seeded"), Path("unused"))))
        server.seeded = data
        yield server
    finally:
        server.destroy()


class Database:
    def __init__(self, url: str, data: dict, path: Path | None = None):
        self.url, self.data, self.path = url, data, path


_clones = iter(range(1, 1_000_000))


@contextmanager
def pg_clone(postgres):
    """A fresh copy of the seeded database on our own PostgreSQL, dropped afterwards."""
    name = f"fault_{next(_clones)}"
    postgres.execute(f"CREATE DATABASE {name} TEMPLATE seeded")
    try:
        yield Database(postgres.url(name), postgres.seeded)
    finally:
        if (postgres.data / "postmaster.pid").exists():
            postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_database(postgres):
    with pg_clone(postgres) as database:
        yield database


@pytest.fixture(scope="session")
def sqlite_seeded(workdir):
    path = workdir / "seeded.sqlite3"
    data = json.loads(_run_seed(server_env(f"sqlite:///{path}", Path("unused"))))
    return path, data


def sqlite_clone(sqlite_seeded, folder: Path) -> Database:
    """A fresh copy of the seeded SQLite file in ``folder``."""
    seeded, data = sqlite_seeded
    path = folder / "kcdir.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{seeded}{suffix}").exists():
            shutil.copyfile(f"{seeded}{suffix}", f"{path}{suffix}")
    return Database(f"sqlite:///{path}", data, path)


@pytest.fixture
def sqlite_database(sqlite_seeded, tmp_path):
    return sqlite_clone(sqlite_seeded, tmp_path)


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.destroy()
