"""Redis not answering is an empty cache (kcdir/cache.py): pages, sign-in and sign-out,
and rate-limited views carry on; Redis is left alone for a moment after a failure; writes
dropped meanwhile are deleted from Redis once it answers. tests/faults/ shows the same
with a real redis-server stopped, hung and restarted from its snapshot.
"""

import logging
import socket
import time

import pytest
import redis
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from kcdir import cache as kcdir_cache
from kcdir.cache import ForgivingRedisCache

from .factories import PASSWORD, member_named
from .pages import page_html


def nothing_listening() -> str:
    """A Redis address where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/1"


class FakeRedis:
    """Stands in for Django's Redis client: a dict, down on demand, counting calls."""

    def __init__(self):
        self.data, self.down, self.calls = {}, False, 0

    def _reach(self):
        self.calls += 1
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")

    def get(self, key, default):
        self._reach()
        return self.data.get(key, default)

    def set(self, key, value, timeout):
        self._reach()
        self.data[key] = value

    def add(self, key, value, timeout):
        self._reach()
        return self.data.setdefault(key, value) is value

    def delete(self, key):
        self._reach()
        return self.data.pop(key, None) is not None

    def set_many(self, data, timeout):
        self._reach()
        self.data.update(data)

    def delete_many(self, keys):
        self._reach()
        for key in keys:
            self.data.pop(key, None)

    def clear(self):
        self._reach()
        self.data.clear()
        return True


@pytest.fixture
def forgiving():
    """A ForgivingRedisCache on a FakeRedis, retrying 50 ms after a failure."""
    made = []

    def make(retry_after=0.05, **options):
        cache = ForgivingRedisCache(
            nothing_listening(), {"OPTIONS": {"RETRY_AFTER": retry_after, **options}}
        )
        cache.__dict__["_cache"] = FakeRedis()
        made.append(cache)
        return cache, cache._cache

    yield make
    for cache in made:
        health = cache._health
        if health.timer is not None:
            health.timer.cancel()
        kcdir_cache._health.pop(health.location, None)


def test_with_nothing_listening_the_cache_is_empty_and_keeps_nothing(caplog):
    cache = ForgivingRedisCache(nothing_listening(), {"OPTIONS": {"RETRY_AFTER": 3600}})

    with caplog.at_level(logging.WARNING, logger="kcdir.cache"):
        assert cache.get("k") is None
        assert cache.get("k", "default") == "default"
        cache.set("k", 1)
        assert cache.add("k", 1) is False
        assert cache.get_or_set("k", lambda: "computed") == "computed"
        assert cache.get_many(["k", "l"]) == {}
        assert cache.has_key("k") is False
        assert cache.touch("k") is False
        assert cache.delete("k") is False
        assert cache.set_many({"k": 1, "l": 2}) == ["k", "l"]
        cache.delete_many(["k", "l"])
        with pytest.raises(ValueError):
            cache.incr("k")  # as for a missing key
        assert cache.clear() is False

    warnings = [r for r in caplog.records if r.name == "kcdir.cache"]
    assert len(warnings) == 1  # once, not once per call
    assert "not answering" in warnings[0].getMessage()
    kcdir_cache._health.pop(cache._health.location).timer.cancel()


def test_after_a_failure_redis_is_left_alone_for_retry_after_then_tried_again(forgiving):
    cache, fake = forgiving(retry_after=0.2)
    fake.down = True
    cache.get("k")
    calls = fake.calls

    for _ in range(50):
        cache.get("k")
    assert fake.calls == calls  # not one connection attempt while resting

    fake.down = False
    fake.data[cache.make_key("k")] = "back"
    time.sleep(0.25)
    assert cache.get("k") == "back"


def test_a_write_dropped_while_redis_was_away_is_deleted_when_it_answers(forgiving, caplog):
    """Redis comes back with what it held before (a snapshot, a network cut): a session
    deleted meanwhile (signed out) must not come back with it."""
    cache, fake = forgiving()
    cache.set("session", "signed in")
    fake.down = True
    cache.delete("session")  # dropped: Redis still holds "signed in"
    cache.set("other", "new value")  # dropped too
    fake.down = False

    with caplog.at_level(logging.WARNING, logger="kcdir.cache"):
        deadline = time.monotonic() + 5
        while fake.data and time.monotonic() < deadline:  # the timer, with no call made
            time.sleep(0.01)

    assert fake.data == {}
    assert cache.get("session") is None
    assert any("answers again" in r.getMessage() for r in caplog.records)


def test_dropped_writes_are_undone_before_the_next_call_reads(forgiving):
    cache, fake = forgiving(retry_after=3600)  # the timer will not run in this test
    cache.set("session", "signed in")
    fake.down = True
    cache.delete("session")
    fake.down = False
    cache._health.retry_at = 0  # the resting time is over

    assert cache.get("session") is None


def test_too_many_dropped_writes_empty_the_cache_when_redis_answers(forgiving):
    cache, fake = forgiving(retry_after=3600, MAX_DROPPED_KEYS=3)
    cache.set("kept?", 1)
    fake.down = True
    cache.set_many({"a": 1, "b": 2, "c": 3, "d": 4})
    fake.down = False
    cache._health.retry_at = 0
    cache.set("new", 1)

    assert list(fake.data) == [cache.make_key("new")]


@pytest.fixture
def redis_is_down(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "kcdir.cache.ForgivingRedisCache",
            "LOCATION": nothing_listening(),
            "OPTIONS": {"RETRY_AFTER": 3600},  # no retries from a timer during the test
        },
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    yield caches["default"]
    health = kcdir_cache._health.pop(caches["default"]._health.location, None)
    if health and health.timer:
        health.timer.cancel()


def test_with_redis_down_people_sign_in_browse_and_sign_out(redis_is_down, db, open_kc):
    member_named("Paula Password", username="paula")
    client = Client(raise_request_exception=False)

    signed_in = client.post(reverse("login"), {"username": "paula", "password": PASSWORD})
    page = client.get(reverse("communities:community_detail", args=[open_kc.slug]))
    signed_out = client.post(reverse("logout"))
    after = client.get(reverse("communities:community_detail", args=[open_kc.slug]))

    assert signed_in.status_code == 302
    assert page.status_code == 200
    assert "Paula Password" in page_html(page)
    assert signed_out.status_code == 302
    assert after.status_code == 302 and reverse("login") in after["Location"]


def test_with_redis_down_rate_limited_views_let_requests_through(redis_is_down, db, mailoutbox):
    member_named("Ada Lovelace", username="ada")
    client = Client(raise_request_exception=False)

    responses = [
        client.post(reverse("password_reset"), {"email": "ada@example.org"}) for _ in range(7)
    ]

    # The limit (5 an hour) cannot be counted without the cache: it fails open.
    assert [r.status_code for r in responses] == [302] * 7
    assert len(mailoutbox) == 7
