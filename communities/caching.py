"""Every cache kcdir keeps for its pages, behind one key scheme.

Only the read layer calls this module (``selectors``, ``insights``, the map's layout in
``svg`` and the ``cached_section`` template tag); views never do. Every key reads
``kcdir:<name>:<language>:<digest>``, the digest being of everything the value depends on.
What is kept is rendered HTML or plain data (numbers, strings, tuples, dicts and lists of
them), never model instances or forms.

Three kinds of entry:

- **Under the directory version** (``versioned``), in each process's ``pages`` cache.
  ``DirectoryVersion.number`` grows (by database triggers) with every committed change to
  communities, their purposes, purposes, memberships, members, departments and the users
  behind members. A page reads it (one small query, once per request) and keeps what it
  draws under a key that includes it: any change makes every older entry unreachable, and
  entries also expire after ``DIRECTORY_CACHE_SECONDS`` (0 turns this off). Only what is
  the same for everyone who may see it is kept (no CSRF tokens, no one's own membership).
  Nothing is kept inside a transaction: there a page might see changes that are not
  committed (and, if they are rolled back, never will be).
  Why it is correct: readers see the number only once its transaction has committed, and
  they read the number *before* the data. A reader that raced a commit stores newer data
  under the older number, which nobody who reads after the commit asks for.
- **By what they show** (``drawn_by_content``), in the ``cards`` cache: the key is made of
  everything the fragment displays, so a stored fragment is right for as long as that data
  is, and after a change only the fragments whose own data changed are drawn again.
- **For a few minutes** (``remembered``), in the shared default cache: reads costly
  enough that a little staleness is the better deal (the purpose menu, the knowledge
  map's links and layout). A writer that knows such
  a read changed may have it ``forget``-ten once it commits: approving a proposal, or
  forming or creating a knowledge community, forgets the purpose menu, so the purposes
  that just joined the directory are in it at once.
"""

import hashlib
from collections.abc import Callable, Hashable, Mapping
from contextlib import suppress

from asgiref.local import Local
from django.conf import settings
from django.core.cache import caches
from django.core.signals import request_finished, request_started
from django.db import connection
from django.dispatch import receiver
from django.utils.datastructures import MultiValueDict
from django.utils.translation import get_language

from .models import DirectoryVersion

VERSION_SQL = f"SELECT number FROM {DirectoryVersion._meta.db_table} WHERE id = 1"  # noqa: S608

# The directory version as this request read it. Outside a request (commands, tests
# calling the read layer directly) it is read afresh every time.
_request = Local()
_UNREAD = object()


@receiver(request_started, dispatch_uid="kcdir-caching-request-started")
def _request_started(**kwargs) -> None:
    _request.version = _UNREAD


@receiver(request_finished, dispatch_uid="kcdir-caching-request-finished")
def _request_finished(**kwargs) -> None:
    with suppress(AttributeError):
        del _request.version


def _stable(part):
    """``part`` with a ``repr`` that does not depend on the order it was built in: a query
    string (or any mapping) becomes its sorted items."""
    if isinstance(part, MultiValueDict):
        return tuple(sorted(part.lists()))
    if isinstance(part, Mapping):
        return tuple(sorted(part.items()))
    return part


def cache_key(name: str, *parts: Hashable, language: str | None = None) -> str:
    """The key for ``name`` and ``parts`` (anything with a stable ``repr``; query strings
    and dicts are sorted first) in ``language`` (the current one unless given)."""
    stable = tuple(_stable(part) for part in parts)
    digest = hashlib.blake2b(repr(stable).encode(), digest_size=16).hexdigest()
    return f"kcdir:{name}:{language or get_language()}:{digest}"


def _read_version() -> int | None:
    # Every request of a cached page asks this: plain SQL, not built anew by the ORM.
    with connection.cursor() as cursor:
        cursor.execute(VERSION_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


def directory_version() -> int | None:
    """The directory version, or ``None`` when caching under it must not be used (inside a
    transaction, or when the version row is missing, as after a test flush). Read once
    per request: a page that writes redirects."""
    if connection.in_atomic_block:
        return None
    in_request = hasattr(_request, "version")
    if in_request and _request.version is not _UNREAD:
        return _request.version
    version = _read_version()
    if in_request:
        _request.version = version
    return version


def versioned(name: str, parts: tuple, compute: Callable[[], object]):
    """``compute()``'s result for ``name`` and ``parts``, from the ``pages`` cache when
    nothing in the directory has changed since it was stored."""
    seconds = settings.DIRECTORY_CACHE_SECONDS
    version = directory_version() if seconds else None
    if version is None:
        return compute()
    key = cache_key(name, version, *parts)
    pages = caches["pages"]
    value = pages.get(key)
    if value is None:
        value = compute()
        pages.set(key, value, seconds)
    return value


def drawn_by_content(
    name: str, shown: dict[Hashable, tuple], draw: Callable[[Hashable], str]
) -> dict[Hashable, str]:
    """HTML for each id in ``shown`` (id -> everything its fragment displays): from the
    ``cards`` cache, or ``draw(id)`` and stored. One cache round trip for all of them."""
    keys = {item: cache_key(name, parts) for item, parts in shown.items()}
    seconds = settings.DIRECTORY_CACHE_SECONDS
    store = caches["cards"]
    found = store.get_many(list(keys.values())) if seconds else {}
    drawn = {}
    html = {}
    for item, key in keys.items():
        if key not in found:
            found[key] = drawn[key] = draw(item)
        html[item] = found[key]
    if drawn and seconds:
        store.set_many(drawn, seconds)
    return html


def remembered(name: str, parts: tuple, compute: Callable[[], object], seconds: int):
    """``compute()``'s result for ``name`` and ``parts``, kept ``seconds`` in the shared
    default cache whatever changes meanwhile."""
    return caches["default"].get_or_set(cache_key(name, *parts), compute, seconds)


def forget(name: str, parts: tuple) -> None:
    """Drop the ``remembered`` entry for ``name`` and ``parts``, in every language, so
    the next read computes it afresh. For a writer that knows a remembered read just
    changed: called once its transaction has committed (``transaction.on_commit``)."""
    languages = {code for code, _label in settings.LANGUAGES} | {settings.LANGUAGE_CODE}
    caches["default"].delete_many(
        [cache_key(name, *parts, language=language) for language in sorted(languages)]
    )
