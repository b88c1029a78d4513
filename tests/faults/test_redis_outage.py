"""Redis stops, hangs or comes back with old data while people use kcdir: pages keep
answering (sessions from the database, no cache), nobody sees a 500, and Redis is used
again once it answers (kcdir/cache.py)."""

import shutil
import time

import pytest

from .servers import (
    Gunicorn,
    OwnRedis,
    browser,
    ms,
    percentile,
    server_env,
    timed_get,
    wait_for,
)

pytestmark = pytest.mark.faults

PAGES = ["/", "/c/claims/", "/people/", "/c/open-kc/", "/people/sam/"]
SESSION_KEYS = "*django.contrib.sessions.cached_db*"


def browse(session, server, rounds: int) -> list[tuple[int, float, str]]:
    return [timed_get(session, server.url(page)) for _ in range(rounds) for page in PAGES]


def statuses(results) -> set[int]:
    return {status for status, _seconds, _body in results}


def latency(results) -> str:
    times = [seconds for _status, seconds, _body in results]
    return (
        f"{len(times)} requests, p50 {ms(percentile(times, 0.5))}, "
        f"p95 {ms(percentile(times, 0.95))}, max {ms(max(times))}"
    )


def sign_in(server, username: str, password: str):
    session = browser()
    response = session.post(
        server.url("/accounts/login/"),
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def post(session, server, path: str, **data):
    return session.post(
        server.url(path),
        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=30,
    )


def snapshot_holds(server, folder, pattern: str) -> bool:
    """Whether ``server``'s snapshot holds a key matching ``pattern`` (read by a second
    redis-server, so that the first comes back exactly as it left)."""
    folder.mkdir()
    shutil.copyfile(server.root / "dump.rdb", folder / "dump.rdb")
    reader = OwnRedis(folder)
    reader.start()
    try:
        return bool(reader.client(1).keys(pattern))
    finally:
        reader.destroy()


def test_redis_stopped_pages_answer_from_the_database_and_redis_is_used_again(
    pg_database, own_redis, static_root, tmp_path, figure
):
    data = pg_database.data
    env = server_env(pg_database.url, static_root, REDIS_URL=own_redis.url(1))
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wendy = browser(data["cookies"]["wendy"])
        before = browse(wendy, server, rounds=4)
        assert statuses(before) == {200}
        assert own_redis.client(1).keys(SESSION_KEYS), "the session is not cached in Redis"

        own_redis.stop()
        stopped_at = time.monotonic()
        during = browse(wendy, server, rounds=6)
        # Signing in, out, and asking for a password reset (rate-limited) work too.
        paula = sign_in(server, data["password_user"], data["password"])
        assert timed_get(paula, server.url("/"))[0] == 200
        assert post(paula, server, "/accounts/logout/").status_code == 302
        assert timed_get(paula, server.url("/"))[0] == 302  # signed out: to the sign-in page
        reset = post(browser(), server, "/accounts/password_reset/", email="paula@example.org")
        assert reset.status_code == 302
        outage = time.monotonic() - stopped_at

        assert statuses(during) == {200}
        assert all("Wendy Worker" in body for _status, _seconds, body in during)

        own_redis.start()
        back_at = time.monotonic()
        # Until the session is cached in Redis again and the process that saw the outage
        # has said Redis answers again: with two workers, the request that caches the
        # session may reach the one that never saw Redis fail.
        after = wait_for(
            lambda: (
                (results := browse(wendy, server, rounds=1))
                and own_redis.client(1).keys(SESSION_KEYS)
                and "answers again" in server.log_text()
                and results
            ),
            timeout=15,
            step=0.1,
            what="the session cached in Redis again, and the log saying Redis answers again",
        )
        used_again = time.monotonic() - back_at
        assert statuses(after) == {200}
        log = server.log_text()

    assert "Internal Server Error" not in log
    assert '" 500 ' not in log
    assert "is not answering" in log and "answers again" in log
    figure("before, Redis up", latency(before))
    figure(f"Redis stopped ({outage:.1f} s), all 200", latency(during))
    figure("Redis back: session cached in Redis again after", f"{used_again:.1f} s")


def test_redis_hanging_costs_a_request_at_most_the_socket_timeout(
    pg_database, own_redis, static_root, tmp_path, figure
):
    """A Redis that accepts connections but never answers (SIGSTOP): requests wait at
    most the socket timeout (0.5 s), and only one a second per process."""
    env = server_env(pg_database.url, static_root, REDIS_URL=own_redis.url(1))
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        wendy = browser(pg_database.data["cookies"]["wendy"])
        assert statuses(browse(wendy, server, rounds=2)) == {200}

        own_redis.pause()
        try:
            during = browse(wendy, server, rounds=8)
        finally:
            own_redis.resume()
        after = wait_for(
            lambda: (
                (results := browse(wendy, server, rounds=1))
                and statuses(results) == {200}
                and results
            ),
            timeout=10,
            what="pages after Redis resumed",
        )
        log = server.log_text()

    assert statuses(during) == {200}
    assert statuses(after) == {200}
    times = [seconds for _status, seconds, _body in during]
    assert max(times) < 2.0, latency(during)
    assert percentile(times, 0.5) < 0.5, latency(during)
    assert "Internal Server Error" not in log
    figure("Redis hung (SIGSTOP), all 200", latency(during))


def test_signed_out_while_redis_was_away_stays_signed_out_when_redis_returns_with_old_data(
    pg_database, own_redis, static_root, tmp_path, figure
):
    """Redis restarts from its snapshot, which still holds the session: the process that
    could not delete it deletes it as soon as Redis answers."""
    data = pg_database.data
    env = server_env(pg_database.url, static_root, REDIS_URL=own_redis.url(1))
    with Gunicorn(env, tmp_path / "gunicorn.log") as server:
        paula = sign_in(server, data["password_user"], data["password"])
        for _ in range(4):  # both workers have read (and cached) the session
            assert timed_get(paula, server.url("/"))[0] == 200
        cookie = paula.cookies["sessionid"]
        assert own_redis.client(1).keys(f"*{cookie}")

        own_redis.stop(save=True)  # the snapshot keeps the signed-in session
        assert snapshot_holds(own_redis, tmp_path / "snapshot", f"*{cookie}")
        assert post(paula, server, "/accounts/logout/").status_code == 302
        own_redis.start()
        back_at = time.monotonic()

        stolen = browser(f"sessionid={cookie}")
        wait_for(
            lambda: not own_redis.client(1).keys(f"*{cookie}"),
            timeout=10,
            what="the stale session deleted from Redis",
        )
        deleted_after = time.monotonic() - back_at
        answers = [timed_get(stolen, server.url("/"))[0] for _ in range(6)]

    assert answers == [302] * 6  # to the sign-in page, from every worker
    figure(
        "signed out while Redis was away",
        f"stale session deleted {deleted_after:.1f} s after Redis returned; "
        f"the old cookie then got {answers}",
    )
