"""Load test kcdir: N signed-in people browse, search, join and leave for a while.

The command line of ``python -m devtools.loadtest`` (see ``devtools.loadtest``):
``prepare-users`` creates the accounts with plain Django, ``run`` drives Locust.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
USERNAME_FORMAT = "loadtest-{:02d}"
MAX_USERS = 500
MAX_DURATION = 2 * 60 * 60


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
    from locust.env import Environment

    from .report import progress, report
    from .visitor import Shared, person_class

    shared = Shared(
        usernames=[USERNAME_FORMAT.format(n) for n in range(1, args.users + 1)],
        password=args.password,
    )
    person = person_class(host=args.host, think=args.think, shared=shared)
    env = Environment(user_classes=[person])
    runner = env.create_local_runner()
    print(
        f"kcdir load test: {args.users} users on {args.host} for {args.duration} s "
        f"(think time {args.think[0]}-{args.think[1]} s, spawn {args.spawn_rate}/s)",
        flush=True,
    )
    started = time.monotonic()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    stopper = gevent.spawn_later(args.duration, runner.quit)
    progress_lines = gevent.spawn(progress, env, started, args.duration)
    runner.greenlet.join(timeout=args.duration + 120)  # bounded, whatever happens
    if not stopper.dead:
        stopper.kill()
        runner.quit()
    progress_lines.kill()
    elapsed = time.monotonic() - started
    return report(env, elapsed, shared.outcomes, args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.loadtest", description=__doc__.split("\n\n")[0]
    )
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
