"""Part 5's requests: distinct URLs of every kind, drawn from the data by a seeded
generator (``VariedRequests``), and the sessions they are requested with.

Searches combine words (from community names and summaries, people's names, job titles
and expertise) with departments, kinds, stages and purposes; deep directory pages are
random pages of the whole directory or of one kind, in one of its sorts; communities,
people and stewards are picked at random. The same data and seed give the same URLs, and
no URL is drawn twice (``draw`` asserts it). ``varied_run`` requests them.
"""

import math
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    load_backend,
)
from django.core.cache import caches

from communities.models import Community, Membership, Purpose
from members.models import Department, Member

from .people import People

SEED = 2026

DIRECTORY_SEARCH = "directory: search + department"
DIRECTORY_DEEP = "directory: deep page"
COMMUNITY = "community page"
PROFILE = "profile"
PEOPLE_SEARCH = "people search + department"
PERSON_HISTORY = "history: person (themselves)"
COMMUNITY_HISTORY = "history: community (steward)"
MANAGE = "manage page (steward)"
KINDS = (
    DIRECTORY_SEARCH,
    DIRECTORY_DEEP,
    COMMUNITY,
    PROFILE,
    PEOPLE_SEARCH,
    PERSON_HISTORY,
    COMMUNITY_HISTORY,
    MANAGE,
)
SORTS = ("name", "newest", "members")
WORD = re.compile(r"[^\W\d_]{3,}")


@dataclass(frozen=True)
class Visit:
    kind: str
    url: str
    viewer: int  # the signed-in user's pk


@dataclass
class Draw:
    """Each kind's distinct visits: one to warm up with, then the in-process share, then
    the gunicorn share (fewer when the data has fewer distinct URLs of a kind)."""

    warm_up: list[Visit]
    in_process: list[Visit]
    under_gunicorn: list[Visit]

    def all(self) -> list[Visit]:
        return [*self.warm_up, *self.in_process, *self.under_gunicorn]


class VariedRequests:
    """Draws distinct URLs of each kind from the data, with a seeded generator: the same
    data and seed give the same URLs."""

    def __init__(self, people: People, *, seed: int = SEED):
        self.rng = random.Random(seed)  # noqa: S311 (sample requests, not secrets)
        self.staff = people.staff.pk
        self.departments = list(Department.objects.order_by("pk").values_list("pk", "slug"))
        self.communities = list(
            Community.objects.listed()
            .order_by("pk")
            .values_list("pk", "slug", "name", "summary", "kind", "stage")
        )
        purposes = dict(Purpose.objects.values_list("pk", "slug"))
        self.purposes_of = defaultdict(list)
        for community, purpose in Community.purposes.through.objects.order_by("pk").values_list(
            "community_id", "purpose_id"
        ):
            self.purposes_of[community].append(purposes[purpose])
        self.people = list(
            Member.objects.active()
            .filter(department__isnull=False)
            .order_by("pk")
            .values_list(
                "user_id", "user__username", "display_name", "job_title", "expertise",
                "department__slug",
            )
        )  # fmt: skip
        stewards = defaultdict(list)
        for community, slug, user in (
            Membership.objects.active()
            .filter(role=Membership.Role.STEWARD, community__in=Community.objects.listed())
            .order_by("pk")
            .values_list("community_id", "community__slug", "member__user_id")
        ):
            stewards[(community, slug)].append(user)
        self.stewarded = sorted(stewards.items())
        self.departments_seen: dict[int, list[str]] = {}
        self.listed_by_kind = {
            kind: sum(1 for row in self.communities if row[4] == kind)
            for kind in Community.Kind.values
        }

    def draw(self, per_kind: int) -> Draw:
        """``1 + 2 × per_kind`` distinct visits of each kind (or as many as there are)."""
        wanted = 1 + 2 * per_kind
        makers: dict[str, Callable[[], Visit]] = {
            DIRECTORY_SEARCH: self.directory_search,
            DIRECTORY_DEEP: self.deep_page,
            COMMUNITY: self.community_page,
            PROFILE: self.profile,
            PEOPLE_SEARCH: self.people_search,
            PERSON_HISTORY: self.person_history,
            COMMUNITY_HISTORY: self.community_history,
            MANAGE: self.manage_page,
        }
        draw = Draw([], [], [])
        for kind in KINDS:
            visits = distinct(makers[kind], wanted)
            share = max(0, min(per_kind, math.ceil((len(visits) - 1) / 2)))
            draw.warm_up += visits[:1]
            draw.in_process += visits[1 : 1 + share]
            draw.under_gunicorn += visits[1 + share : 1 + 2 * share]
        urls = [visit.url for visit in draw.all()]
        assert len(urls) == len(set(urls)), "the varied requests repeat a URL"
        return draw

    # -- one visit of each kind ------------------------------------------------------

    def directory_search(self) -> Visit:
        """Words from a community's name (or summary), with a department that has people
        in it most of the time, and now and then its kind, stage or one of its purposes."""
        pk, _slug, name, summary, kind, stage = self.rng.choice(self.communities)
        params = {"q": self.words(name if self.rng.random() < 0.8 else summary)}
        departments = self.departments_of(pk) if self.rng.random() < 0.75 else []
        params["department"] = self.rng.choice(departments or [s for _pk, s in self.departments])
        if self.rng.random() < 0.3:
            params["kind"] = kind
        if self.rng.random() < 0.3:
            params["stage"] = stage
        if self.purposes_of[pk] and self.rng.random() < 0.2:
            params["purpose"] = self.rng.choice(self.purposes_of[pk])
        return Visit(DIRECTORY_SEARCH, f"/?{urlencode(sorted(params.items()))}", self.staff)

    def deep_page(self) -> Visit:
        """A page past the first of the directory (or of one kind), in one of its sorts."""
        kind = self.rng.choice(["", "", "", *Community.Kind.values])
        listed = self.listed_by_kind[kind] if kind else len(self.communities)
        pages = math.ceil(listed / settings.PAGE_SIZE)
        if pages < 2:
            kind, pages = "", math.ceil(len(self.communities) / settings.PAGE_SIZE)
        params = {"page": self.rng.randint(2, max(2, pages)), "sort": self.rng.choice(SORTS)}
        if kind:
            params["kind"] = kind
        return Visit(DIRECTORY_DEEP, f"/?{urlencode(sorted(params.items()))}", self.staff)

    def community_page(self) -> Visit:
        slug = self.rng.choice(self.communities)[1]
        return Visit(COMMUNITY, f"/c/{slug}/", self.staff)

    def profile(self) -> Visit:
        username = self.rng.choice(self.people)[1]
        return Visit(PROFILE, f"/people/{username}/", self.staff)

    def people_search(self) -> Visit:
        """A word (or two) of someone's name, job title or expertise, or the start of one,
        in their department most of the time."""
        _user, _username, name, title, expertise, department = self.rng.choice(self.people)
        text = self.rng.choice([name, name, title, expertise or name])
        if self.rng.random() >= 0.7:
            department = self.rng.choice(self.departments)[1]
        params = {"q": self.words(text), "department": department}
        return Visit(PEOPLE_SEARCH, f"/people/?{urlencode(sorted(params.items()))}", self.staff)

    def person_history(self) -> Visit:
        user, username, *_rest = self.rng.choice(self.people)
        return Visit(PERSON_HISTORY, f"/people/{username}/history/", user)

    def community_history(self) -> Visit:
        (_pk, slug), stewards = self.rng.choice(self.stewarded)
        return Visit(COMMUNITY_HISTORY, f"/c/{slug}/history/", self.rng.choice(stewards))

    def manage_page(self) -> Visit:
        (_pk, slug), stewards = self.rng.choice(self.stewarded)
        return Visit(MANAGE, f"/c/{slug}/manage/", self.rng.choice(stewards))

    # -- helpers ---------------------------------------------------------------------

    def words(self, text: str) -> str:
        """One word of ``text``, two neighbouring ones, or the first letters of one."""
        words = [word.lower() for word in WORD.findall(text)] or [text.lower()[:3] or "a"]
        start = self.rng.randrange(len(words))
        roll = self.rng.random()
        if roll < 0.25 and start + 1 < len(words):
            return f"{words[start]} {words[start + 1]}"
        if roll < 0.45 and len(words[start]) > 4:
            return words[start][: self.rng.randint(3, len(words[start]) - 1)]
        return words[start]

    def departments_of(self, community: int) -> list[str]:
        """The departments of a community's active members."""
        if community not in self.departments_seen:
            self.departments_seen[community] = sorted(
                set(
                    Membership.objects.active()
                    .filter(community_id=community, member__department__isnull=False)
                    .values_list("member__department__slug", flat=True)
                )
            )
        return self.departments_seen[community]


def distinct(make: Callable[[], Visit], wanted: int) -> list[Visit]:
    """Up to ``wanted`` visits with different URLs, in the order drawn."""
    visits, seen = [], set()
    attempts = 0
    while len(visits) < wanted and attempts < 50 * wanted:
        attempts += 1
        visit = make()
        if visit.url not in seen:
            seen.add(visit.url)
            visits.append(visit)
    return visits


# -- sessions ----------------------------------------------------------------------------


def sign_in(user) -> str:
    """A signed-in session for ``user``, made as ``Client.force_login`` makes it but
    without the sign-in signal (which would write ``last_login`` to the bench data);
    returns the session key. Under the ``SECRET_KEY`` in force."""
    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def sign_out(keys) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()


def clear_caches() -> None:
    """Every cache: the shared default one (Redis when configured) and this process's
    ``pages`` and ``cards`` caches."""
    for name in settings.CACHES:
        caches[name].clear()
