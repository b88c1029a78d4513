"""SQLite's disk fills up: a change gets the 503 page ("nothing is half-saved"), never a
traceback, nothing of it is written, and once there is room again the database is whole
and the same change goes through.

Three ways to fill it: a real tmpfs holding the database, filled to the last byte (needs
root and ``mount``; skipped otherwise), with no other connection open (SQLite cannot even
create its WAL index: "disk I/O error", reads fail too) and with one open (the WAL exists:
reads work, the write fails with "database or disk is full"); and SQLite's own page limit
(``PRAGMA max_page_count``, set by tests/faults/fault_wsgi.py), the same "database or disk
is full" without a small filesystem."""

import contextlib
import errno
import shutil
import sqlite3
import subprocess

import pytest

from .conftest import sqlite_clone
from .servers import CSRF, Db, Gunicorn, broken_invariants, browser, server_env

pytestmark = pytest.mark.faults

ADDED = 200
UNAVAILABLE = "kcdir is unavailable for a moment"


@contextlib.contextmanager
def small_disk(folder, size_bytes: int):
    folder.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command: cannot make a small filesystem")
    size = f"size={size_bytes // 1024}k"
    mounted = subprocess.run(  # noqa: S603 (mount, fixed arguments)
        ["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(folder)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)  # noqa: S603, S607


def fill(folder) -> int:
    """Write zeros into ``folder`` until the filesystem says it is full; bytes written."""
    written = 0
    chunk = b"\0" * 4096
    with open(folder / "filler", "wb", buffering=0) as filler:
        while True:
            try:
                written += filler.write(chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
                return written


def snapshot(url: str) -> dict:
    with Db(url) as db:
        return {
            "integrity": db.scalar("PRAGMA integrity_check"),
            "in bulk-kc": db.scalar(
                "SELECT count(*) FROM communities_membership m JOIN communities_community c "
                "ON c.id = m.community_id WHERE c.slug = 'bulk-kc'"
            ),
            "events": db.scalar("SELECT count(*) FROM communities_membershipevent"),
            "broken": broken_invariants(db),
        }


@pytest.mark.parametrize("how", ["tmpfs-idle", "tmpfs-busy", "page-limit"])
def test_a_full_disk_gets_the_503_page_and_writes_nothing(
    how, sqlite_seeded, static_root, tmp_path, figure
):
    seeded, data = sqlite_seeded
    size = seeded.stat().st_size
    fault_dir = tmp_path / "faults"
    fault_dir.mkdir()
    with contextlib.ExitStack() as stack:
        if how.startswith("tmpfs"):
            folder = stack.enter_context(small_disk(tmp_path / "disk", size + 2 * 1024 * 1024))
        else:
            folder = tmp_path
        database = sqlite_clone(sqlite_seeded, folder)
        env = server_env(database.url, static_root, FAULT_DIR=str(fault_dir))
        server = stack.enter_context(
            Gunicorn(env, tmp_path / "gunicorn.log", app="tests.faults.fault_wsgi:application")
        )
        sam = browser(data["cookies"]["sam"])
        form = {
            "pasted": "\n".join(data["people"][:ADDED]),
            "mode": "add",
            "csrfmiddlewaretoken": CSRF,
        }
        before = snapshot(database.url)

        if how == "tmpfs-busy":
            # Another connection holds the WAL and its index open (another process reading
            # at the time): pages can still be read, and writing is what fails.
            keeper = sqlite3.connect(database.path)
            stack.callback(keeper.close)
            keeper.execute("SELECT count(*) FROM django_session").fetchone()
        if how.startswith("tmpfs"):
            assert fill(folder) > 0 and shutil.disk_usage(folder).free == 0
        else:
            (fault_dir / "disk-full").touch()
        refused = sam.post(server.url("/c/bulk-kc/manage/add/"), data=form, timeout=120)
        reads = [
            sam.get(server.url(path), allow_redirects=False, timeout=60).status_code
            for path in ("/", "/c/bulk-kc/", "/people/")
        ]

        if how.startswith("tmpfs"):
            (folder / "filler").unlink()
        else:
            (fault_dir / "disk-full").unlink()
        after_refusal = snapshot(database.url)
        added = sam.post(server.url("/c/bulk-kc/manage/add/"), data=form, timeout=120)
        after = snapshot(database.url)
        log = server.log_text()

    assert refused.status_code == 503
    assert UNAVAILABLE in refused.text and "Traceback" not in refused.text
    assert set(reads) <= {200, 503}
    errors = [text for text in ("database or disk is full", "disk I/O error") if text in log]
    assert errors
    assert "Internal Server Error" not in log
    assert after_refusal == before  # nothing of the refused change, and the file is whole
    assert before["integrity"] == "ok"
    assert added.status_code == 200
    assert after["in bulk-kc"] == before["in bulk-kc"] + ADDED
    assert after["events"] == before["events"] + ADDED
    assert after["broken"] == {}
    detail = {
        "tmpfs-idle": "a tmpfs filled to the last byte, no connection open",
        "tmpfs-busy": "a tmpfs filled to the last byte, another connection open",
        "page-limit": "PRAGMA max_page_count at the current size",
    }[how]
    figure(
        f"SQLite full ({detail})",
        f"adding {ADDED} people answered 503 (the page, no traceback), reads {reads}; "
        f"SQLite said {' / '.join(errors)}; "
        "integrity ok, nothing written; after freeing space the same request added all",
    )
