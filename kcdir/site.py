"""The address people reach kcdir at, for links that leave the site (emails).

``KCDIR_SITE_URL`` when set (production should set it); otherwise the address of the
request being answered (its host is checked against ``ALLOWED_HOSTS`` by Django);
otherwise, outside any request (management commands), ``make run``'s address.
"""

from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import DisallowedHost

DEVELOPMENT_URL = "http://127.0.0.1:8000"

_request: ContextVar = ContextVar("kcdir_site_request", default=None)


def site_url() -> str:
    if settings.KCDIR_SITE_URL:
        return settings.KCDIR_SITE_URL.rstrip("/")
    request = _request.get()
    if request is not None:
        try:
            return request.build_absolute_uri("/").rstrip("/")
        except DisallowedHost:
            pass
    return DEVELOPMENT_URL


def absolute(path: str) -> str:
    """``path`` (from the site's root) as a full address."""
    return site_url() + path


class SiteURLMiddleware:
    """Remember the request being answered, so emails it causes link back to where the
    person reached kcdir."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
