"""A gunicorn worker killed (SIGKILL) in the middle of a roster import, a bulk add and
a formalisation, after it has written part of the change: the database holds none of
it, and the same request afterwards applies all of it. On PostgreSQL and on a SQLite
file. The worker is paused at a chosen statement by tests/faults/fault_wsgi.py."""

import json
import os
import signal
import threading

import pytest
import requests

from .conftest import pg_clone, sqlite_clone
from .seed import PARTICIPANTS
from .servers import CSRF, Db, Gunicorn, broken_invariants, browser, server_env, wait_for

pytestmark = pytest.mark.faults

ROWS = 400  # people added or imported in one request
PAUSE_AT = 200  # events written before the worker is killed (bulk add, formalising)
MEMBERSHIPS = 'INSERT INTO "communities_membership"'
EVENTS = 'INSERT INTO "communities_membershipevent"'


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def killable(request, workdir, static_root):
    """gunicorn (fault_wsgi) on a fresh copy of the seeded database of each backend."""
    folder = workdir / f"killed-{request.param}"
    folder.mkdir()
    if request.param == "postgresql":
        clone = pg_clone(request.getfixturevalue("postgres"))
        database = clone.__enter__()
        request.addfinalizer(lambda: clone.__exit__(None, None, None))
    else:
        database = sqlite_clone(request.getfixturevalue("sqlite_seeded"), folder)
    env = server_env(database.url, static_root, FAULT_DIR=str(folder))
    with Gunicorn(
        env, folder / "gunicorn.log", app="tests.faults.fault_wsgi:application"
    ) as server:
        server.database, server.backend, server.folder = database, request.param, folder
        yield server


def kill_mid_request(server, session, path: str, pause: str, **payload) -> dict:
    """POST ``path`` with the worker told to pause at ``pause``; SIGKILL it there."""
    marker = server.folder / "paused"
    marker.unlink(missing_ok=True)
    outcome = {}

    def send():
        try:
            outcome["response"] = session.post(
                server.url(path),
                headers={"X-Fault-Pause": pause},
                allow_redirects=False,
                timeout=300,
                **payload,
            )
        except requests.RequestException as error:
            outcome["error"] = error

    workers = server.workers()
    thread = threading.Thread(target=send)
    thread.start()
    paused = json.loads(
        wait_for(
            lambda: marker.exists() and marker.read_text(),
            timeout=120,
            step=0.05,
            what=f"the worker pausing at {pause!r}",
        )
    )
    assert paused["pid"] in workers
    os.kill(paused["pid"], signal.SIGKILL)
    thread.join(timeout=60)
    assert "error" in outcome, "the killed request got an answer"
    wait_for(
        lambda: len(server.workers()) == len(workers) and paused["pid"] not in server.workers(),
        timeout=60,
        what="gunicorn replacing the killed worker",
    )
    return paused


def counts(server, slug: str) -> dict:
    with Db(server.database.url) as db:
        return {
            "communities": db.scalar("SELECT count(*) FROM communities_community"),
            "memberships": db.scalar("SELECT count(*) FROM communities_membership"),
            "events": db.scalar("SELECT count(*) FROM communities_membershipevent"),
            "in community": db.scalar(
                "SELECT count(*) FROM communities_membership m JOIN communities_community c "
                "ON c.id = m.community_id WHERE c.slug = %s",
                (slug,),
            ),
            "imports applied": db.scalar(
                "SELECT count(*) FROM communities_rosterimport WHERE applied_at IS NOT NULL"
            ),
            "broken": broken_invariants(db),
        }


def written(paused: dict, before: dict) -> int:
    """Rows the killed worker's open transaction had added to the table it paused at."""
    table = {"communities_membership": "memberships", "communities_membershipevent": "events"}
    return paused["table_rows"] - before[table[paused["table"]]]


def report(figure, server, what: str, paused: dict, before: dict) -> None:
    figure(
        f"{server.backend}: {what}",
        f"SIGKILL with {written(paused, before)} new {paused['table'].split('_')[1]} rows "
        "written in its open transaction; afterwards none in the database; "
        "the same request again applied all",
    )


def test_a_worker_killed_mid_roster_import_applies_none_of_it(killable, figure):
    server, data = killable, killable.database.data
    sam = browser(data["cookies"]["sam"])
    csv = "email,role\n" + "".join(f"{name}@example.org,member\n" for name in data["people"][:ROWS])
    upload = sam.post(
        server.url("/c/import-kc/manage/import/"),
        data={"csrfmiddlewaretoken": CSRF},
        files={"file": ("roster.csv", csv.encode(), "text/csv")},
        allow_redirects=False,
        timeout=120,
    )
    assert upload.status_code == 302, upload.text[:500]
    preview = upload.headers["Location"]
    before = counts(server, "import-kc")

    paused = kill_mid_request(
        server, sam, preview, f"1 {MEMBERSHIPS}", data={"csrfmiddlewaretoken": CSRF}
    )
    assert paused["in_transaction"] and 0 < written(paused, before) <= ROWS
    assert counts(server, "import-kc") == before

    applied = sam.post(
        server.url(preview), data={"csrfmiddlewaretoken": CSRF}, allow_redirects=False, timeout=300
    )
    assert applied.status_code == 302
    after = counts(server, "import-kc")
    assert after["in community"] == before["in community"] + ROWS
    assert after["events"] == before["events"] + ROWS
    assert after["imports applied"] == before["imports applied"] + 1
    assert after["broken"] == {}
    report(figure, server, f"roster import of {ROWS} rows", paused, before)


def test_a_worker_killed_mid_bulk_add_adds_no_one(killable, figure):
    server, data = killable, killable.database.data
    sam = browser(data["cookies"]["sam"])
    form = {"pasted": "\n".join(data["people"][:ROWS]), "mode": "add", "csrfmiddlewaretoken": CSRF}
    before = counts(server, "bulk-kc")

    paused = kill_mid_request(
        server, sam, "/c/bulk-kc/manage/add/", f"{PAUSE_AT} {EVENTS}", data=form
    )
    assert paused["in_transaction"] and written(paused, before) == PAUSE_AT
    assert counts(server, "bulk-kc") == before

    added = sam.post(server.url("/c/bulk-kc/manage/add/"), data=form, timeout=300)
    assert added.status_code == 200
    after = counts(server, "bulk-kc")
    assert after["in community"] == before["in community"] + ROWS
    assert after["events"] == before["events"] + ROWS
    assert after["broken"] == {}
    report(figure, server, f"bulk add of {ROWS} people", paused, before)


def test_a_worker_killed_mid_formalisation_forms_nothing(killable, figure):
    server, data = killable, killable.database.data
    ada = browser(data["cookies"]["ada"])
    form = {
        "name": "Data Clinic Community",
        "purposes": str(data["purpose_id"]),
        "sponsor": "spencer",
        "stewards": "sam",
        "join_policy": "request",
        "participants": "invite",
        # Seen the similar communities (the CoP itself): formalise anyway.
        "confirmed": "True",
        "csrfmiddlewaretoken": CSRF,
    }
    before = counts(server, "data-clinic-community")
    assert before["in community"] == 0

    paused = kill_mid_request(
        server, ada, "/c/data-clinic/formalise/", f"{PAUSE_AT} {EVENTS}", data=form
    )
    assert paused["in_transaction"] and written(paused, before) == PAUSE_AT
    assert counts(server, "data-clinic-community") == before

    formed = ada.post(
        server.url("/c/data-clinic/formalise/"), data=form, allow_redirects=False, timeout=300
    )
    assert formed.status_code == 302, formed.text[:500]
    after = counts(server, "data-clinic-community")
    assert after["communities"] == before["communities"] + 1
    # The sponsor, the steward and the CoP's participants, invited; one event each.
    assert after["in community"] == PARTICIPANTS + 2
    assert after["events"] == before["events"] + PARTICIPANTS + 2
    assert after["broken"] == {}
    report(figure, server, f"formalising a CoP of {PARTICIPANTS} participants", paused, before)
