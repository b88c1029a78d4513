"""PostgreSQL restarts while people browse and write: requests in the outage get the
503 page (never a traceback), /healthz/ says 503, and service resumes by itself, with
the same gunicorn workers, and with nothing half-applied."""

import threading
import time

import pytest
import requests

from .servers import Db, Gunicorn, broken_invariants, browser, server_env, wait_for

pytestmark = pytest.mark.faults

PAGES = ["/", "/c/claims/", "/people/", "/c/open-kc/"]
UNAVAILABLE = "kcdir is unavailable for a moment"
OUTAGE_SECONDS = 3.0


class Traffic:
    """Client threads, each recording (time, kind, status, body) until stopped."""

    def __init__(self, server, cookie: str):
        self.server, self.cookie = server, cookie
        self.records: list[tuple[float, str, int, str, dict]] = []
        self.failures: list[str] = []  # requests that got no HTTP answer at all
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.pages, daemon=True),
            threading.Thread(target=self.pages, daemon=True),
            threading.Thread(target=self.health, daemon=True),
            threading.Thread(target=self.writes, daemon=True),
        ]

    def record(self, kind: str, response) -> None:
        self.records.append(
            (time.monotonic(), kind, response.status_code, response.text, response.headers)
        )

    def run(self, kind: str, requests_, *, signed_in: bool = True) -> None:
        session = browser(self.cookie if signed_in else None)
        while not self.stop.is_set():
            for method, path, data in requests_:
                try:
                    response = session.request(
                        method,
                        self.server.url(path),
                        data=data,
                        allow_redirects=False,
                        timeout=30,
                    )
                except requests.RequestException as error:
                    self.failures.append(f"{kind} {path}: {error}")
                else:
                    self.record(kind, response)
                time.sleep(0.02)

    def pages(self) -> None:
        self.run("page", [("GET", page, None) for page in PAGES])

    def health(self) -> None:
        self.run("healthz", [("GET", "/healthz/", None)], signed_in=False)  # a load balancer

    def writes(self) -> None:
        token = {"csrfmiddlewaretoken": browser().cookies["csrftoken"]}
        self.run(
            "write",
            [("POST", "/c/open-kc/join/", token), ("POST", "/c/open-kc/leave/", token)],
        )

    def __enter__(self) -> "Traffic":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def between(self, start: float, end: float, kind: str | None = None):
        return [r for r in self.records if start <= r[0] <= end and (kind is None or r[1] == kind)]


def test_postgresql_restart_gets_the_503_page_and_service_resumes_by_itself(
    postgres, pg_database, static_root, tmp_path, figure
):
    env = server_env(pg_database.url, static_root)
    cookie = pg_database.data["cookies"]["wendy"]
    try:
        with Gunicorn(env, tmp_path / "gunicorn.log") as server:
            workers_before = server.workers()
            with Traffic(server, cookie) as traffic:
                time.sleep(2)
                stopping = time.monotonic()
                postgres.stop("fast")
                stopped = time.monotonic()
                time.sleep(OUTAGE_SECONDS)
                postgres.start()
                started = time.monotonic()
                # Until every kind of request has answered 200 (or a write's 302) for 2 s.
                wait_for(
                    lambda: (
                        time.monotonic() - started > 2
                        and all(
                            {
                                r[2]
                                for r in traffic.between(
                                    time.monotonic() - 2, time.monotonic(), kind
                                )
                            }
                            <= {200, 302}
                            and traffic.between(time.monotonic() - 2, time.monotonic(), kind)
                            for kind in ("page", "healthz", "write")
                        )
                    ),
                    timeout=30,
                    step=0.2,
                    what="every kind of request answering again",
                )
            workers_after = server.workers()
            log = server.log_text()
    finally:
        if not (postgres.data / "postmaster.pid").exists():
            postgres.start()

    records = traffic.records
    assert traffic.failures == []
    assert {status for _t, _k, status, _b, _h in records} <= {200, 302, 503}
    # Inside the outage (allowing for requests under way as it began and for the
    # moment between PostgreSQL accepting connections and pg_ctl saying so).
    outage = traffic.between(stopped + 0.5, started - 0.3)
    assert {status for _t, _k, status, _b, _h in outage} == {503}, "some requests still answered"
    for kind in ("page", "healthz", "write"):
        assert traffic.between(stopped + 0.5, started - 0.3, kind), f"no {kind} in the outage"
    unavailable = [r for r in records if r[2] == 503]
    for _t, kind, _status, body, headers in unavailable:
        if kind == "healthz":
            assert body == "database unavailable\n"
        else:
            assert UNAVAILABLE in body and "Traceback" not in body, body[:300]
            assert headers["Retry-After"] == "30"
    first_ok = {
        kind: min(
            t for t, k, status, _b, _h in records if k == kind and t > started and status != 503
        )
        for kind in ("page", "healthz", "write")
    }
    last_unavailable = max(t for t, *_rest in unavailable)
    assert last_unavailable - started < 10
    assert workers_after == workers_before  # no worker was restarted
    assert "Internal Server Error" not in log
    assert '" 500 ' not in log

    with Db(pg_database.url) as db:
        # Each join and leave that was saved is in the history once, starting where the
        # one before it ended, and the roster says what the last one did.
        assert broken_invariants(db) == {}
        events = db.scalar(
            "SELECT count(*) FROM communities_membershipevent e "
            "JOIN communities_community c ON c.id = e.community_id "
            "JOIN members_member m ON m.id = e.target_id "
            "JOIN auth_user u ON u.id = m.user_id WHERE c.slug = 'open-kc' AND u.username = 'wendy'"
        )
    writes_after = [r for r in records if r[1] == "write" and r[0] > started and r[2] == 302]
    assert events > 0 and writes_after
    figure(
        "PostgreSQL down (pg_ctl stop -m fast .. start)",
        f"{started - stopping:.1f} s; {len(unavailable)} answers were the 503 page or "
        f"/healthz/ 503, 0 errors of any other kind, out of {len(records)}; "
        f"{events} joins and leaves saved, history intact",
    )
    figure(
        "back after PostgreSQL was ready",
        ", ".join(f"{kind} {first_ok[kind] - started:.2f} s" for kind in first_ok)
        + f"; last 503 {last_unavailable - started:+.2f} s; same {len(workers_after)} workers",
    )
