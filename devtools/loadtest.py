"""Load test kcdir: N signed-in people browse, search, join and leave for a while.

Uses Locust (requirements-dev.txt) as a library, headless: it stops by itself after
``--duration``, then prints total requests, errors, p50/p95/p99 latency and
requests per second, overall and per kind of page. Only a server on this machine
(127.0.0.1, ::1 or localhost) is ever targeted; anything else is refused.

Each virtual person signs in as their own account: create them once with

    DATABASE_URL=… .venv/bin/python -m devtools.loadtest prepare-users --users 50

(``loadtest-01`` … ``loadtest-50``, the demo password, spread over the departments
that ``seed_demo`` made), then run against a server on this machine:

    .venv/bin/python -m devtools.loadtest run --host http://127.0.0.1:8000 \
        --users 50 --duration 5m

The mix, per task picked: 80 % browsing (directory pages, community pages, people,
purposes), 15 % search (directory, people, purposes), 5 % a membership change
(join or leave an open community, say "I practise here" or stop, request to join or
cancel), each a real form POST with Django's CSRF token read from the page.
"""

import argparse
import os
import random
import re
import sys
import time
from collections import Counter
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
USERNAME_FORMAT = "loadtest-{:02d}"
MAX_USERS = 500
MAX_DURATION = 2 * 60 * 60
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


def parse_duration(text: str) -> int:
    """``300``, ``300s``, ``5m`` or ``1h`` -> seconds."""
    match = re.fullmatch(r"(\d+)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 90s, 5m, 1h)")
    seconds = int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]
    if not 1 <= seconds <= MAX_DURATION:
        raise argparse.ArgumentTypeError(f"duration must be 1 s to {MAX_DURATION} s")
    return seconds


def local_host(url: str) -> str:
    """The base URL, if it names a server on this machine; refuse anything else."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or parts.hostname not in LOCAL_HOSTS:
        raise argparse.ArgumentTypeError(
            f"refusing {url!r}: the load test only targets http(s)://127.0.0.1, ::1 or localhost"
        )
    if parts.path not in {"", "/"} or parts.query or parts.username:
        raise argparse.ArgumentTypeError(f"give only scheme, host and port: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def demo_password() -> str:
    return os.environ.get("KCDIR_DEMO_PASSWORD", "kcdir-demo")


# -- prepare-users: plain Django, no Locust (its import patches the standard library) ---


def prepare_users(count: int, password: str) -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "devtools.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from members.models import Department, Member

    user_model = get_user_model()
    departments = list(Department.objects.order_by("pk"))
    hashed = make_password(password)  # one hash for all: they share the demo password
    created = 0
    with transaction.atomic():
        for number in range(1, count + 1):
            username = USERNAME_FORMAT.format(number)
            user, is_new = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.org",
                    "first_name": "Load",
                    "last_name": f"Tester {number:02d}",
                },
            )
            user.password = hashed
            user.is_active = True
            user.save(update_fields=["password", "is_active"])
            Member.objects.update_or_create(
                user=user,
                defaults={
                    "display_name": f"Load Tester {number:02d}",
                    "job_title": "Analyst",
                    "department": departments[number % len(departments)] if departments else None,
                    "location": "Leeds",
                },
            )
            created += is_new
    print(f"{count} load-test accounts ready ({created} new): {USERNAME_FORMAT.format(1)} …")


# -- run: Locust, headless ---------------------------------------------------------------


def run(args) -> int:
    # Imported here: Locust monkey-patches the standard library for gevent on import.
    import gevent
    from gevent.event import Event
    from locust import FastHttpUser, between, constant, task
    from locust.env import Environment
    from locust.exception import StopUser

    usernames = [USERNAME_FORMAT.format(n) for n in range(1, args.users + 1)]
    found = {"communities": set(), "people": set(), "purposes": set()}
    crawl = {"started": False, "done": Event()}
    outcomes = Counter()

    class Person(FastHttpUser):
        host = args.host
        wait_time = between(*args.think) if args.think[1] > 0 else constant(0)

        def on_start(self):
            self.username = usernames.pop(0)
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
                outcomes["no csrftoken cookie"] += 1
            body = {"csrfmiddlewaretoken": token, **(data or {})}
            with self.client.post(path, data=body, name=name, catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                    return ""
                if 'class="alert alert-danger"' in response.text:
                    response.failure("refused: " + _first_alert(response.text))
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
                    "password": args.password,
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
            if crawl["started"]:
                crawl["done"].wait(timeout=120)
                return
            crawl["started"] = True
            try:
                self._crawl()
            finally:
                crawl["done"].set()

        def _crawl(self):
            for page_number in (1, 2):
                found["communities"].update(
                    COMMUNITY_LINK.findall(self.page(f"/?page={page_number}", "directory"))
                )
            found["people"].update(PERSON_LINK.findall(self.page("/people/", "people")))
            found["purposes"].update(PURPOSE_LINK.findall(self.page("/purposes/", "purposes")))

        def some(self, kind: str, fallback: str) -> str:
            choices = sorted(found[kind])
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
                outcomes["nothing to do (invite-only, archived or proposal)"] += 1
                return
            action, path = offered[0]
            if action == "leave":  # GET the confirmation, then POST with its token
                confirm = self.page(path, "leave (confirm)")
                token = CSRF_FIELD.search(confirm)
                if token is None:
                    return
            data = {"note": "Load test"} if action == "request" else None
            if self.post_form(path, unescape(token[1]), f"{action} (POST)", data):
                outcomes[action] += 1

    env = Environment(user_classes=[Person])
    runner = env.create_local_runner()
    print(
        f"kcdir load test: {args.users} users on {args.host} for {args.duration} s "
        f"(think time {args.think[0]}-{args.think[1]} s, spawn {args.spawn_rate}/s)",
        flush=True,
    )
    started = time.monotonic()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    stopper = gevent.spawn_later(args.duration, runner.quit)
    progress = gevent.spawn(_progress, env, started, args.duration)
    runner.greenlet.join(timeout=args.duration + 120)  # bounded, whatever happens
    if not stopper.dead:
        stopper.kill()
        runner.quit()
    progress.kill()
    elapsed = time.monotonic() - started
    return _report(env, elapsed, outcomes, args)


def _first_alert(html: str) -> str:
    match = re.search(r'class="alert alert-danger">([^<]*)<', html)
    return match[1].strip() if match else "an error message"


def _progress(env, started: float, duration: int) -> None:
    import gevent

    while True:
        gevent.sleep(15)
        total = env.stats.total
        print(
            f"  {time.monotonic() - started:5.0f}/{duration} s: {total.num_requests} requests, "
            f"{total.num_failures} errors, {total.current_rps:.1f} req/s now",
            flush=True,
        )


def _without_sign_in(env):
    """One entry for every request but the sign-ins (slow on purpose: PBKDF2)."""
    from locust.stats import StatsEntry

    steady = StatsEntry(env.stats, "ALL but sign-in", "")
    for (name, _method), entry in env.stats.entries.items():
        if not name.startswith("sign in"):
            steady.extend(entry)
    return steady


def _report(env, elapsed: float, outcomes: Counter, args) -> int:
    total = env.stats.total

    def line(name, entry):
        pct = entry.get_response_time_percentile
        return (
            f"{name:<22} {entry.num_requests:>8} {entry.num_failures:>7} "
            f"{pct(0.5):>6.0f} {pct(0.95):>6.0f} {pct(0.99):>6.0f} {entry.max_response_time:>7.0f}"
        )

    print()
    print(f"{'request':<22} {'count':>8} {'errors':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}")
    for (name, _method), entry in sorted(env.stats.entries.items()):
        print(line(name, entry))
    print(line("ALL", total))
    steady = _without_sign_in(env)
    print(line("ALL but sign-in", steady))
    print("(milliseconds; Locust rounds times over 100 ms to 2 significant digits)")
    if env.stats.errors:
        print("\nerrors:")
        for error in sorted(env.stats.errors.values(), key=lambda e: -e.occurrences)[:10]:
            print(f"  {error.occurrences:>5} × {error.method} {error.name}: {error.error}")
    print("\nmembership changes done:", dict(outcomes) or "none")
    rate = total.num_requests / elapsed if elapsed else 0.0
    print(
        f"\nSTEADY (all but sign-in) requests={steady.num_requests} "
        f"errors={steady.num_failures} p50={steady.get_response_time_percentile(0.5):.0f}ms "
        f"p95={steady.get_response_time_percentile(0.95):.0f}ms "
        f"p99={steady.get_response_time_percentile(0.99):.0f}ms"
    )
    error_pct = 100 * total.num_failures / total.num_requests if total.num_requests else 0.0
    print(
        f"\nSUMMARY users={args.users} duration={elapsed:.0f}s requests={total.num_requests} "
        f"errors={total.num_failures} ({error_pct:.2f}%) "
        f"p50={total.get_response_time_percentile(0.5):.0f}ms "
        f"p95={total.get_response_time_percentile(0.95):.0f}ms "
        f"p99={total.get_response_time_percentile(0.99):.0f}ms "
        f"rps={rate:.1f}"
    )
    return 1 if total.num_failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser("prepare-users", help="create the load-test accounts")
    prepare.add_argument("--users", type=int, default=50)
    prepare.add_argument("--password", default=demo_password())

    start = commands.add_parser("run", help="run the load test")
    start.add_argument("--host", type=local_host, default="http://127.0.0.1:8000")
    start.add_argument("--users", type=int, default=50, help="concurrent people (default 50)")
    start.add_argument(
        "--duration", type=parse_duration, default=300, help="e.g. 90s, 5m (default 5m)"
    )
    start.add_argument("--spawn-rate", type=float, default=5.0, help="people started a second")
    start.add_argument(
        "--think",
        type=lambda text: tuple(float(v) for v in text.split("-", 1)) * (1 if "-" in text else 2),
        default=(0.5, 2.0),
        help="seconds each person waits between pages, as MIN-MAX (default 0.5-2); 0 for none",
    )
    start.add_argument("--password", default=demo_password())

    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be 1 to {MAX_USERS}")
    if args.command == "prepare-users":
        prepare_users(args.users, args.password)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
