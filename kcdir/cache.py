"""The shared cache (Redis) as kcdir uses it: an outage of Redis is a cache miss, not an
error page.

Django's ``RedisCache`` raises ``redis.ConnectionError`` from ``get`` and ``set`` when Redis
is unreachable, and every signed-in page reads its session from the cache, so a stopped
Redis made every page a 500. ``ForgivingRedisCache`` answers instead as an empty cache
that keeps nothing: reads miss, writes are dropped, ``add`` says "not added", ``incr``
says "no such key". What relies on it carries on without it:

- sessions (``cached_db``) are read from the database on a miss and always written to it
  first, so people stay signed in, and can sign in and out;
- cached reads (``caching.remembered``) are computed afresh;
- rate limits (``kcdir.ratelimit``) let requests through while Redis is away: they fail
  open (a limit that cannot be counted is not enforced);
- django-axes keeps sign-in failures in the database and is unaffected.

An outage stays cheap: short socket timeouts (``socket_connect_timeout`` 0.25 s,
``socket_timeout`` 0.5 s, unless ``OPTIONS`` say otherwise) bound what a Redis that hangs
costs a call, and after a failure the process leaves Redis alone for ``RETRY_AFTER``
seconds (1), so requests meanwhile pay nothing; then it tries again, and the first answer
ends the outage. The ``kcdir.cache`` logger warns when Redis stops answering, once a
minute while it stays away, and when it answers again.

Writes dropped during an outage would leave Redis holding what the database no longer
says once Redis is back, if it kept its data (a restart that reloads its snapshot, a
network cut): a signed-out session among them. So each process remembers the keys whose
writes it dropped and deletes them as soon as Redis answers: before its own next call, and
from a timer thread every ``RETRY_AFTER`` seconds until it can, whether or not requests
come. Past ``MAX_DROPPED_KEYS`` (10,000) keys, or after a dropped ``clear()``, it empties
the cache's Redis database instead (kcdir's alone, as ``clear()`` already assumes).
"""

import logging
import threading
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("kcdir.cache")

OUTAGE = (RedisConnectionError, RedisTimeoutError)
EVERYTHING = object()  # what a dropped clear() leaves possibly stale


class _Health:
    """What one process knows of one Redis: whether it is away, since when, and the keys
    whose writes it dropped meanwhile. Shared by every thread's cache object."""

    REPEAT_WARNING = 60.0

    def __init__(self, location: str, retry_after: float, max_dropped: int):
        self.location = location
        self.retry_after = retry_after
        self.max_dropped = max_dropped
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.warned_at = 0.0
        self.skipped = 0
        self.dropped: set[str] = set()
        self.drop_all = False
        self.timer: threading.Timer | None = None

    def resting(self) -> bool:
        """True for ``retry_after`` seconds after Redis failed."""
        return self.down_since is not None and time.monotonic() < self.retry_at

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            self.retry_at = now + self.retry_after
            self.skipped += 1
            if self.down_since is None:
                self.down_since = self.warned_at = now
                logger.warning(
                    "Redis (%s) is not answering (%s): carrying on without the cache, "
                    "trying again every %g s",
                    self.location,
                    error,
                    self.retry_after,
                )
            elif now - self.warned_at >= self.REPEAT_WARNING:
                self.warned_at = now
                logger.warning(
                    "Redis (%s) still not answering after %.0f s (%d cache calls skipped)",
                    self.location,
                    now - self.down_since,
                    self.skipped,
                )

    def skip(self) -> None:
        with self.lock:
            self.skipped += 1

    def answered(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is not None:
                logger.warning(
                    "Redis (%s) answers again after %.1f s (%d cache calls skipped)",
                    self.location,
                    time.monotonic() - self.down_since,
                    self.skipped,
                )
                self.down_since, self.skipped = None, 0

    # -- dropped writes ------------------------------------------------------------------

    def has_dropped(self) -> bool:
        return self.drop_all or bool(self.dropped)

    def drop(self, keys, undo) -> None:
        """Remember ``keys`` (or ``EVERYTHING``) as possibly stale in Redis; ``undo``
        deletes what is remembered (from a timer thread, until Redis answers)."""
        with self.lock:
            if keys is EVERYTHING or len(self.dropped) + len(keys) > self.max_dropped:
                self.drop_all = True
                self.dropped.clear()
            elif not self.drop_all:
                self.dropped.update(keys)
            if self.timer is None:
                self.timer = threading.Timer(self.retry_after, self._undo_later, args=(undo,))
                self.timer.daemon = True
                self.timer.start()

    def take_dropped(self) -> tuple[bool, list[str]]:
        with self.lock:
            everything, keys = self.drop_all, list(self.dropped)
            self.drop_all = False
            self.dropped.clear()
        return everything, keys

    def _undo_later(self, undo) -> None:
        with self.lock:
            self.timer = None
        try:
            undo()
        except OUTAGE as error:  # undo() remembered the keys again: try again later
            self.failed(error)
            self.drop((), undo)
        else:
            self.answered()


_health: dict[str, _Health] = {}
_health_lock = threading.Lock()


def _health_of(location: str, retry_after: float, max_dropped: int) -> _Health:
    with _health_lock:
        if location not in _health:
            _health[location] = _Health(location, retry_after, max_dropped)
        return _health[location]


class ForgivingRedisCache(RedisCache):
    """Django's Redis cache, except that Redis being unreachable is a miss, never an
    exception (the module's docstring says what that means for kcdir)."""

    def __init__(self, server, params):
        options = dict(params.get("OPTIONS") or {})
        retry_after = float(options.pop("RETRY_AFTER", 1.0))
        max_dropped = int(options.pop("MAX_DROPPED_KEYS", 10_000))
        options.setdefault("socket_connect_timeout", 0.25)
        options.setdefault("socket_timeout", 0.5)
        super().__init__(server, {**params, "OPTIONS": options})
        location = server if isinstance(server, str) else ",".join(server)
        self._health = _health_of(location, retry_after, max_dropped)

    def _call(self, operation, fallback, *, writes=None):
        """``operation()``, or ``fallback`` when Redis is away; ``writes`` are the keys
        (already made) the operation changes, remembered if it is dropped."""
        health = self._health
        if health.resting():
            health.skip()
            if writes is not None:
                health.drop(writes, self._undo_dropped)
            return fallback
        try:
            self._undo_dropped()
            result = operation()
        except OUTAGE as error:
            health.failed(error)
            if writes is not None or health.has_dropped():
                health.drop(writes or (), self._undo_dropped)
            return fallback
        health.answered()
        return result

    def _undo_dropped(self) -> None:
        """Delete from Redis what this process failed to write there; on an outage,
        remember it all again and raise."""
        health = self._health
        if not health.has_dropped():
            return
        everything, keys = health.take_dropped()
        try:
            if everything:
                self._cache.clear()
                logger.warning(
                    "Redis (%s): emptied the cache, which missed too many writes while "
                    "Redis was away",
                    health.location,
                )
            else:
                for start in range(0, len(keys), 1000):
                    self._cache.delete_many(keys[start : start + 1000])
        except OUTAGE:
            with health.lock:
                if everything:
                    health.drop_all = True
                    health.dropped.clear()
                elif not health.drop_all:
                    health.dropped.update(keys)
            raise

    # -- Django's cache API ------------------------------------------------------------

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        return self._call(lambda: self._cache.add(key, value, timeout), False)

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        return self._call(lambda: self._cache.get(key, default), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        self._call(lambda: self._cache.set(key, value, timeout), None, writes=[key])

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        return self._call(lambda: self._cache.touch(key, timeout), False)

    def delete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return self._call(lambda: self._cache.delete(key), False, writes=[key])

    def get_many(self, keys, version=None):
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        found = self._call(lambda: self._cache.get_many(key_map.keys()), {})
        return {key_map[k]: v for k, v in found.items()}

    def has_key(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return self._call(lambda: self._cache.has_key(key), False)

    def incr(self, key, delta=1, version=None):
        made = self.make_and_validate_key(key, version=version)
        missing = object()
        result = self._call(lambda: self._cache.incr(made, delta), missing)
        if result is missing:  # as for a key that is not there
            raise ValueError(f"Key '{key}' not found.")
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if not data:
            return []
        safe = {self.make_and_validate_key(key, version=version): v for key, v in data.items()}
        timeout = self.get_backend_timeout(timeout)
        failed = self._call(
            lambda: self._cache.set_many(safe, timeout), list(data), writes=list(safe)
        )
        return failed or []

    def delete_many(self, keys, version=None):
        if not keys:
            return
        safe = [self.make_and_validate_key(key, version=version) for key in keys]
        self._call(lambda: self._cache.delete_many(safe), None, writes=safe)

    def clear(self):
        return self._call(self._cache.clear, False, writes=EVERYTHING)
