"""Project-level views: health check and error pages."""

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .client import client_address

security_log = logging.getLogger("kcdir.security")


@login_not_required
@never_cache
@require_safe
def healthz(request):
    """For load balancers (GET or HEAD): 200 when the database answers, 503 when it
    does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def permission_denied(request, exception=None):
    """The styled 403 page, with the refusal logged (who, from where, what)."""
    user = getattr(request, "user", None)
    security_log.warning(
        "Refused: user=%s address=%s %s %s",
        user.get_username() if user is not None and user.is_authenticated else "-",
        client_address(request) or "-",
        request.method,
        request.path,
    )
    return defaults.permission_denied(request, exception)
