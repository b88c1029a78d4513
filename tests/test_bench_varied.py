"""``manage.py bench``'s varied section (``devtools/bench/varied*.py``): the seeded
generator of distinct URLs, the bench's sessions, and the two clients that request
every URL exactly once under gunicorn (wrk with ``each_once.lua``, and the Python one).
"""

import random
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.handlers.base import BaseHandler
from django.core.management import call_command
from django.db import connection
from django.test import Client

from communities.models import Membership
from devtools.bench.people import prepare_people
from devtools.bench.report import Report
from devtools.bench.varied import (
    COMMUNITY_HISTORY,
    DIRECTORY_DEEP,
    DIRECTORY_SEARCH,
    KINDS,
    MANAGE,
    PEOPLE_SEARCH,
    PERSON_HISTORY,
    VariedRequests,
    sign_in,
    sign_out,
)
from devtools.bench.varied_run import measure_in_process, python_each_once, timed, wrk_each_once


@pytest.fixture
def tiny(db):
    call_command(
        "seed_demo", scale="enterprise", enterprise_factor=0.001, force=True, stdout=StringIO()
    )
    return prepare_people()


def test_varied_requests_are_distinct_the_same_for_a_seed_and_signed_in_as_allowed(tiny):
    draw = VariedRequests(tiny).draw(5)

    urls = [visit.url for visit in draw.all()]
    assert len(urls) == len(set(urls))
    assert [v.url for v in VariedRequests(tiny).draw(5).all()] == urls
    assert [v.url for v in VariedRequests(tiny, seed=7).draw(5).all()] != urls
    # One warm-up URL of each kind, then the in-process share, then gunicorn's.
    assert [visit.kind for visit in draw.warm_up] == list(KINDS)
    for kind in KINDS:
        in_process = [v for v in draw.in_process if v.kind == kind]
        under_gunicorn = [v for v in draw.under_gunicorn if v.kind == kind]
        assert 1 <= len(in_process) <= 5 and len(under_gunicorn) <= len(in_process)
    assert len([v for v in draw.in_process if v.kind == MANAGE]) == 5

    User = get_user_model()
    for visit in draw.all():
        query = parse_qs(urlsplit(visit.url).query)
        if visit.kind in (DIRECTORY_SEARCH, PEOPLE_SEARCH):
            assert query["q"][0] and query["department"][0], visit
        elif visit.kind == DIRECTORY_DEEP:
            assert int(query["page"][0]) >= 2 and query["sort"][0], visit
        elif visit.kind in (MANAGE, COMMUNITY_HISTORY):
            slug = visit.url.split("/")[2]
            assert (
                Membership.objects.active()
                .filter(community__slug=slug, role="steward", member__user=visit.viewer)
                .exists()
            ), visit
        elif visit.kind == PERSON_HISTORY:
            assert User.objects.get(pk=visit.viewer).username == visit.url.split("/")[2]
        else:
            assert visit.viewer == tiny.staff.pk


def test_the_bench_signs_in_without_writing_last_login_and_signs_out(tiny):
    user = get_user_model().objects.get(pk=tiny.steward.pk)
    user.last_login = None
    user.save()
    client = Client()

    key = sign_in(user)
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get(f"/c/{tiny.community.slug}/manage/").status_code == 200
    user.refresh_from_db()
    assert user.last_login is None

    sign_out([key])
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/").status_code == 302


def test_in_process_every_url_answers_once_through_one_client_and_leaves_no_session(
    tiny, monkeypatch
):
    """A test client loads the middleware on its first request (WhiteNoise's alone costs
    hundreds of ms at startup): every viewer's requests go through the same one."""
    loads = []
    original = BaseHandler.load_middleware
    monkeypatch.setattr(
        BaseHandler,
        "load_middleware",
        lambda handler, *args, **kwargs: loads.append(1) or original(handler, *args, **kwargs),
    )
    draw = VariedRequests(tiny).draw(2)
    sessions = Session.objects.count()
    out = StringIO()

    results = measure_in_process(Report(out), draw, per_kind=2, rng=random.Random(1))

    assert len(loads) == 1
    for kind in KINDS:
        expected = sum(1 for visit in draw.in_process if visit.kind == kind)
        assert len(results[kind].ms) == expected >= 1, kind
        assert min(results[kind].queries) >= 3, kind
    assert Session.objects.count() == sessions
    assert "every cache was cleared" in out.getvalue()


def test_each_request_counts_its_queries_even_after_thousands(tiny):
    """The bench makes thousands of requests in one process: Django's query log holds
    9,000 queries, and a full log would make every later request count none."""
    client = Client()
    client.force_login(tiny.staff)
    connection.force_debug_cursor = True
    try:
        for _ in range(connection.queries_log.maxlen):
            connection.queries_log.append({"sql": "SELECT 1", "time": "0.000"})
    finally:
        connection.force_debug_cursor = False

    ms, queries, sql_ms = timed(lambda: client.get(f"/c/{tiny.community.slug}/"))

    assert queries >= 3 and ms > 0 and 0 <= sql_ms <= ms


class Recorder(BaseHTTPRequestHandler):
    """Records each request's path and cookie; /healthz/ answers in plain text (the
    fillers the wrk script does not count), /missing/… with 404, the rest with HTML."""

    protocol_version = "HTTP/1.0"  # one request a connection, as gunicorn's sync workers
    seen: list[tuple[str, str]]
    lock = threading.Lock()

    def do_GET(self):
        if self.path != "/healthz/":
            with self.lock:
                self.seen.append((self.path, self.headers.get("Cookie", "")))
        plain = self.path == "/healthz/"
        body = b"ok\n" if plain else b"<p>page</p>"
        self.send_response(404 if self.path.startswith("/missing/") else 200)
        self.send_header("Content-Type", "text/plain" if plain else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Backlogged:
    request_queue_size = 128  # 20 connections at once


class ThreadedServer(Backlogged, ThreadingHTTPServer):
    pass


class OneAtATimeServer(Backlogged, HTTPServer):
    """Like a gunicorn sync worker: one connection at a time, and a connection on which
    no request comes holds the server until its timeout."""


@pytest.fixture(params=[ThreadedServer, OneAtATimeServer])
def recorder(request):
    Recorder.seen = []
    Recorder.timeout = 10  # seconds an idle connection holds the one-at-a-time server
    server = request.param(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


CLIENTS = [
    pytest.param(
        wrk_each_once,
        marks=pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed"),
        id="wrk",
    ),
    pytest.param(python_each_once, id="python"),
]


@pytest.mark.parametrize("each_once", CLIENTS)
@pytest.mark.parametrize("count", [3, 57])  # fewer lines than connections, and more
def test_each_once_clients_request_every_url_exactly_once(recorder, each_once, count):
    """Every URL exactly once, with its cookie, and never a connection left idle (a
    one-at-a-time server would wait on it for its 10 s timeout)."""
    lines = [(f"/page/{index}/?q=a+b", f"sessionid=s{index}") for index in range(count)]
    lines.append(("/missing/1/", "sessionid=m"))
    started = time.monotonic()

    result = each_once(recorder, lines, 20)

    assert time.monotonic() - started < 8
    assert sorted(Recorder.seen) == sorted(lines)
    assert (result.requests, result.answered, result.failed) == (count + 1, count + 1, 1)
    assert 0 < result.seconds < 5
    assert re.fullmatch(r"[\d.]+ / [\d.]+ ms", result.latency)
