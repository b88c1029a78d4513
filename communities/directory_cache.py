"""Caching what the directory draws, invalidated by the directory version.

``DirectoryVersion.number`` grows (by database triggers) with every committed change
to communities, purposes, memberships, members or departments. A page reads it (one
small query) and keeps what it renders under a key that includes it: any change makes
every older entry unreachable, and entries also expire after ``DIRECTORY_CACHE_SECONDS``.

Only what is the same for every signed-in person is cached (no forms with CSRF tokens,
no one's own membership). Nothing is cached inside a transaction: there a page might
see changes that are not committed (and, if they are rolled back, never will be).

Why it is correct: readers see the number only once its transaction has committed, and
they read the number *before* the data. A reader that raced a commit stores newer data
under the older number, which nobody who reads after the commit asks for.
"""

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils.translation import get_language

from .models import DirectoryVersion

VERSION_SQL = f"SELECT number FROM {DirectoryVersion._meta.db_table} WHERE id = 1"  # noqa: S608


def current_version() -> int | None:
    """The directory version, or ``None`` when caching must not be used (inside a
    transaction, or when the version row is missing, as after a test flush)."""
    if connection.in_atomic_block:
        return None
    # Every request of a cached page asks this: plain SQL, not built anew by the ORM.
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


def cache_key(name: str, *parts) -> str:
    """A short cache key for ``parts`` (anything with a stable ``repr``) in this language."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"kcdir:{name}:{get_language()}:{digest}"


def version_for(request) -> int | None:
    """``current_version()``, read once per request (a page that writes redirects)."""
    if not hasattr(request, "_kcdir_directory_version"):
        request._kcdir_directory_version = current_version()
    return request._kcdir_directory_version


def cached(request, name: str, parts: tuple, render: Callable[[], object]):
    """``render()``'s result for ``name`` and ``parts``, from the cache when the
    directory has not changed since it was stored."""
    seconds = settings.DIRECTORY_CACHE_SECONDS
    version = version_for(request) if seconds else None
    if version is None:
        return render()
    key = cache_key(name, version, parts)
    pages = caches["pages"]
    value = pages.get(key)
    if value is None:
        value = render()
        pages.set(key, value, seconds)
    return value
