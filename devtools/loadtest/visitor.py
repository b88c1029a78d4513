"""The Locust user of the load test: one signed-in person browsing, searching and
changing their memberships. Importing this module imports Locust (and gevent's
patches), so ``cli.run`` imports it only when a run starts."""

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from html import unescape

from gevent.event import Event
from locust import FastHttpUser, between, constant, task
from locust.exception import StopUser

SEARCH_TERMS = [
    "claims",
    "pricing",
    "risk",
    "data",
    "cyber",
    "climate",
    "underwriting",
    "customer",
    "fraud",
    "python",
    "plain",
    "actuarial",
]
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
COMMUNITY_LINK = re.compile(r'href="/c/([\w-]+)/"')
PERSON_LINK = re.compile(r'href="/people/([\w.@+-]+)/"')
PURPOSE_LINK = re.compile(r'href="/purposes/([\w-]+)/"')
# The one membership action a community page offers its viewer (see
# templates/includes/_membership_actions.html), as (action path, method).
MEMBERSHIP_ACTIONS = [
    ("join", re.compile(r'action="(/c/[\w-]+/join/)"')),
    ("request", re.compile(r'action="(/c/[\w-]+/request/)"')),
    ("cancel", re.compile(r'action="(/c/[\w-]+/cancel/)"')),
    ("leave", re.compile(r'href="(/c/[\w-]+/leave/)"')),
]


@dataclass
class Shared:
    """What every person of one run shares: the accounts still free, the addresses the
    first person found, and the membership changes done."""

    usernames: list[str]
    password: str
    found: dict[str, set[str]] = field(
        default_factory=lambda: {"communities": set(), "people": set(), "purposes": set()}
    )
    crawl_started: bool = False
    crawl_done: Event = field(default_factory=Event)
    outcomes: Counter = field(default_factory=Counter)


def person_class(*, host: str, think: tuple[float, float], shared: Shared) -> type:
    """The user class Locust spawns for one run."""
    wait_time = between(*think) if think[1] > 0 else constant(0)
    return type("Person", (Person,), {"host": host, "wait_time": wait_time, "shared": shared})


class Person(FastHttpUser):
    abstract = True  # person_class() makes the one that runs
    shared: Shared

    def on_start(self):
        self.username = self.shared.usernames.pop(0)
        self.sign_in()
        self.crawl()

    # Helpers ---------------------------------------------------------------------

    def page(self, path: str, name: str) -> str:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return ""
            if "Sign out" not in response.text:
                response.failure("not signed in (the sign-in page came back)")
                return ""
            return response.text

    def post_form(self, path: str, token: str, name: str, data=None) -> str:
        cookie = next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), None)
        if cookie is None:
            self.shared.outcomes["no csrftoken cookie"] += 1
        body = {"csrfmiddlewaretoken": token, **(data or {})}
        with self.client.post(path, data=body, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return ""
            if 'class="alert alert-danger"' in response.text:
                response.failure("refused: " + first_alert(response.text))
                return ""
            return response.text

    def sign_in(self):
        with self.client.get("/accounts/login/", name="sign in (form)") as response:
            token = CSRF_FIELD.search(response.text)
        if token is None:
            raise StopUser()
        with self.client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": unescape(token[1]),
                "username": self.username,
                "password": self.shared.password,
                "next": "/",
            },
            name="sign in (POST)",
            catch_response=True,
        ) as response:
            if "Sign out" not in response.text:
                response.failure(f"{self.username} could not sign in")
                raise StopUser()

    def crawl(self):
        """The first person learns the community, people and purpose addresses;
        the others wait for that (bounded) rather than guess."""
        if self.shared.crawl_started:
            self.shared.crawl_done.wait(timeout=120)
            return
        self.shared.crawl_started = True
        try:
            self._crawl()
        finally:
            self.shared.crawl_done.set()

    def _crawl(self):
        found = self.shared.found
        for page_number in (1, 2):
            found["communities"].update(
                COMMUNITY_LINK.findall(self.page(f"/?page={page_number}", "directory"))
            )
        found["people"].update(PERSON_LINK.findall(self.page("/people/", "people")))
        found["purposes"].update(PURPOSE_LINK.findall(self.page("/purposes/", "purposes")))

    def some(self, kind: str, fallback: str) -> str:
        choices = sorted(self.shared.found[kind])
        return random.choice(choices) if choices else fallback  # noqa: S311 (not crypto)

    # Tasks: 80 browse, 15 search, 5 change membership ----------------------------

    @task(20)
    def browse_directory(self):
        page_number = random.choice([1, 1, 1, 2])  # noqa: S311
        kind = random.choice(["", "", "kc", "cop"])  # noqa: S311
        self.page(f"/?page={page_number}&kind={kind}", "directory")

    @task(30)
    def browse_community(self):
        self.page(f"/c/{self.some('communities', 'missing')}/", "community")

    @task(15)
    def browse_people(self):
        if random.random() < 0.5:  # noqa: S311
            self.page("/people/", "people")
        else:
            self.page(f"/people/{self.some('people', self.username)}/", "person")

    @task(15)
    def browse_purposes(self):
        if random.random() < 0.4:  # noqa: S311
            self.page("/purposes/", "purposes")
        else:
            self.page(f"/purposes/{self.some('purposes', 'missing')}/", "purpose")

    @task(15)
    def search(self):
        term = random.choice(SEARCH_TERMS)  # noqa: S311
        where = random.choice(["/", "/", "/people/", "/purposes/"])  # noqa: S311
        self.page(f"{where}?q={term}", f"search {where}")

    @task(5)
    def change_membership(self):
        slug = self.some("communities", "missing")
        html = self.page(f"/c/{slug}/", "community")
        token = CSRF_FIELD.search(html)
        offered = [
            (action, match[1])
            for action, pattern in MEMBERSHIP_ACTIONS
            if (match := pattern.search(html))
        ]
        if not offered or token is None:
            self.shared.outcomes["nothing to do (invite-only, archived or proposal)"] += 1
            return
        action, path = offered[0]
        if action == "leave":  # GET the confirmation, then POST with its token
            confirm = self.page(path, "leave (confirm)")
            token = CSRF_FIELD.search(confirm)
            if token is None:
                return
        data = {"note": "Load test"} if action == "request" else None
        if self.post_form(path, unescape(token[1]), f"{action} (POST)", data):
            self.shared.outcomes[action] += 1


def first_alert(html: str) -> str:
    match = re.search(r'class="alert alert-danger">([^<]*)<', html)
    return match[1].strip() if match else "an error message"
