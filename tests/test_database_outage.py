"""The database not answering (down, restarting, out of disk) gets the 503 "temporarily
unavailable" page with ``Retry-After``, wherever the error is raised (a view, a
middleware reading the session), never a traceback; other errors still get the 500 page.
tests/faults/ shows the same on a real PostgreSQL restart and a full disk.

This module is also a URLconf (``pytest.mark.urls(__name__)``): the project's URLs and
error handlers plus views that fail in chosen ways.
"""

import logging

import pytest
from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.test import Client
from django.urls import path, reverse

from kcdir import urls as project_urls

from .pages import page_html

UNAVAILABLE = "kcdir is unavailable for a moment"
TRACEBACK_MARKERS = ("Traceback", 'File "', "server closed the connection", "psycopg")


@login_not_required
def _database_gone(request):
    raise OperationalError("server closed the connection unexpectedly (psycopg)")


@login_not_required
def _connection_closed(request):
    raise InterfaceError("connection already closed")


@login_not_required
def _wrapped_database_error(request):
    try:
        raise OperationalError("could not connect to server")
    except OperationalError as error:
        raise RuntimeError("while drawing the page") from error


@login_not_required
def _bug(request):
    raise RuntimeError("a bug, not an outage")


urlpatterns = [
    path("test-only/database-gone/", _database_gone),
    path("test-only/connection-closed/", _connection_closed),
    path("test-only/wrapped/", _wrapped_database_error),
    path("test-only/bug/", _bug),
    *project_urls.urlpatterns,
]
handler403 = project_urls.handler403
handler500 = project_urls.handler500


def assert_unavailable_page(response):
    page = page_html(response)
    assert response.status_code == 503
    assert UNAVAILABLE in page
    assert "Nothing is ever half-saved" in page
    assert not any(marker in page for marker in TRACEBACK_MARKERS), page[:500]
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    "url", ["/test-only/database-gone/", "/test-only/connection-closed/", "/test-only/wrapped/"]
)
def test_a_database_outage_in_a_view_gets_the_503_page_and_is_logged(db, caplog, url):
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get(url)

    assert_unavailable_page(response)
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert len(logged) == 1
    assert url in logged[0].getMessage()
    assert logged[0].exc_info is not None  # the traceback goes to the log


@pytest.mark.urls(__name__)
def test_any_other_error_still_gets_the_500_page(db):
    response = Client(raise_request_exception=False).get("/test-only/bug/")

    assert response.status_code == 500
    assert "Something went wrong" in page_html(response)
    assert "Retry-After" not in response


def test_a_database_outage_while_reading_the_session_gets_the_503_page(
    db, staff, open_kc, monkeypatch
):
    """Before any view runs: the sign-in check reads the session from the database."""
    client = Client(raise_request_exception=False)
    client.force_login(staff)

    def database_gone(self):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(
        "django.contrib.sessions.backends.cached_db.SessionStore.load", database_gone
    )
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", database_gone)
    response = client.get(reverse("communities:community_detail", args=[open_kc.slug]))

    assert_unavailable_page(response)


def test_a_database_outage_while_saving_a_change_gets_the_503_page(db, staff, open_kc, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(staff)

    def database_gone(**kwargs):
        raise OperationalError("database or disk is full")

    monkeypatch.setattr("communities.services.join_community", database_gone)
    response = client.post(reverse("communities:membership_join", args=[open_kc.slug]))

    assert_unavailable_page(response)
    assert not open_kc.memberships.filter(member=staff.member).exists()
