"""A refused request logs one line, without a traceback; the sign-in page offers a
password reset."""

import logging
import sys

import pytest
from django.urls import reverse

from kcdir.log_filters import RefusedRequestsOnOneLine

from .pages import page_text


def _records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_refused_page_logs_one_line_without_a_traceback(client, outsider, open_kc, caplog):
    client.force_login(outsider)
    caplog.set_level(logging.INFO)

    response = client.get(reverse("communities:community_manage", args=[open_kc.slug]))

    assert response.status_code == 403
    records = _records(caplog)
    assert [r.name for r in records] == ["kcdir.security"]
    assert records[0].getMessage() == (
        "Refused: user=outsider address=127.0.0.1 GET /c/claims-turnaround/manage/"
    )
    assert not records[0].exc_info


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/c/no-such-community/", 404), ("get", "/c/claims-turnaround/manage/1/role/", 405)],
)
def test_other_refusals_log_one_line_without_a_traceback(
    client, staff, open_kc, caplog, method, path, status
):
    client.force_login(staff)
    caplog.set_level(logging.INFO)

    response = getattr(client, method)(path)

    assert response.status_code == status
    records = _records(caplog)
    assert len(records) == 1
    assert not records[0].exc_info
    assert "\n" not in logging.Formatter().format(records[0])


def test_a_server_error_keeps_its_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("django.request", logging.ERROR, "", 0, "x", (), sys.exc_info())
    record.status_code = 500
    assert RefusedRequestsOnOneLine().filter(record)
    assert record.exc_info is not None


def test_django_records_are_printed_once():
    """Django's loggers have no console handler of their own: each record reaches the
    root's handler only, so it is printed once (Django's default, under DEBUG, adds a
    second handler to the ``django`` logger)."""
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.request").handlers == []


def test_the_sign_in_page_links_to_the_password_reset(client):
    response = client.get(reverse("login"))

    assert "Forgot your password?" in page_text(response)
    assert f'href="{reverse("password_reset")}"' in response.content.decode()
