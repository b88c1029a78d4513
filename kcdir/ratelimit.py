"""Per-address rate limits for views that send email or are otherwise worth abusing.

Counts live in Django's cache (``django.core.cache``), one fixed window per address:
the first counted request starts it, and it ends ``period`` seconds later.

The default cache (LocMem) is per process. With several app processes each keeps its
own count, so the real limit is ``limit`` × processes: production with more than one
process should point ``CACHES`` at a shared cache (Redis or Memcached) for the limit
to hold as written.
"""

import logging
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.core.cache import cache
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from .client import client_address

security_log = logging.getLogger("kcdir.security")

PASSWORD_RESET_LIMIT = 5  # requests per address ...
PASSWORD_RESET_PERIOD = 60 * 60  # ... per hour


def allow(scope: str, address: str, *, limit: int, period: int) -> bool:
    """Count one request from ``address`` in ``scope``; False once it is over ``limit``."""
    key = f"kcdir:ratelimit:{scope}:{address}"
    cache.add(key, 0, timeout=period)  # starts the window; no-op while one is running
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add() and incr(): start a new one
        cache.set(key, 1, timeout=period)
        count = 1
    return count <= limit


def rate_limit(*, scope: str, limit: int, period: int, refused, methods=("POST",)):
    """Let ``limit`` requests (of ``methods``) per address through every ``period``
    seconds; answer the rest with ``refused(request, *args, **kwargs)``."""

    def decorator(view):
        @wraps(view)
        def limited_view(request, *args, **kwargs):
            if request.method in methods:
                address = client_address(request) or "unknown"
                if not allow(scope, address, limit=limit, period=period):
                    security_log.warning(
                        "Rate limited: scope=%s address=%s %s %s",
                        scope,
                        address,
                        request.method,
                        request.path,
                    )
                    return refused(request, *args, **kwargs)
            return view(request, *args, **kwargs)

        return limited_view

    return decorator


def _password_reset_refused(request, *args, **kwargs):
    """The reset form again, with what was typed and why nothing was sent."""
    form = PasswordResetForm(request.POST)
    form.is_valid()
    form.add_error(
        "email",
        _(
            "Too many password reset requests from your address. No email was sent; "
            "try again in an hour, or ask IT for help."
        ),
    )
    return TemplateResponse(
        request,
        PasswordResetView.template_name,
        {"form": form, "title": _("Password reset")},
        status=429,
    )


# Mounted at accounts/password_reset/ ahead of django.contrib.auth.urls (kcdir/urls.py).
password_reset = login_not_required(
    rate_limit(
        scope="password-reset",
        limit=PASSWORD_RESET_LIMIT,
        period=PASSWORD_RESET_PERIOD,
        refused=_password_reset_refused,
    )(PasswordResetView.as_view())
)
