"""Load test kcdir: N signed-in people browse, search, join and leave for a while.

Uses Locust (requirements-dev.txt) as a library, headless: it stops by itself after
``--duration``, then prints total requests, errors, p50/p95/p99 latency and
requests per second, overall and per kind of page. Only a server on this machine
(127.0.0.1, ::1 or localhost) is ever targeted; anything else is refused.

Each virtual person signs in as their own account: create them once with

    DATABASE_URL=… .venv/bin/python -m devtools.loadtest prepare-users --users 50

(``loadtest-01`` … ``loadtest-50``, the demo password, spread over the departments
that ``seed_demo`` made), then run against a server on this machine:

    .venv/bin/python -m devtools.loadtest run --host http://127.0.0.1:8000 \\
        --users 50 --duration 5m

The mix, per task picked: 80 % browsing (directory pages, community pages, people,
purposes), 15 % search (directory, people, purposes), 5 % a membership change
(join or leave an open community, say "I practise here" or stop, request to join or
cancel), each a real form POST with Django's CSRF token read from the page.

Nothing here imports Locust until a run starts: its import patches the standard
library for gevent (``visitor.py`` and ``report.py`` are imported by ``run`` only).
"""
