"""Project-level views: health check and error pages."""

import logging
import sys

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from background.tasks import queue_stuck_reason

from .client import client_address

security_log = logging.getLogger("kcdir.security")


@login_not_required
@never_cache
@require_safe
def healthz(request):
    """For load balancers and monitoring (GET or HEAD): 200 when the database answers
    and background work moves; 503 with the reason when the database does not answer, or
    a task or an email has waited longer than ``KCDIR_QUEUE_STUCK_MINUTES`` (no worker
    running, or one that is stuck)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    try:
        stuck = queue_stuck_reason(minutes=settings.KCDIR_QUEUE_STUCK_MINUTES)
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    if stuck:
        return HttpResponse(f"{stuck}\n", status=503, content_type="text/plain")
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


# The database not answering (down, restarting, unreachable, out of connections, out of
# disk), as against a fault in kcdir: the request can work again in a moment.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def _database_unavailable(error: BaseException | None) -> bool:
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, DATABASE_UNAVAILABLE):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def server_error(request):
    """The error page for an exception nothing handled (handler500), wherever it was
    raised (a view, a middleware, another error page): 503 "temporarily unavailable",
    with ``Retry-After``, when it is the database not answering; the 500 page otherwise.
    Django logs the traceback either way; neither page shows it, or touches the
    database."""
    if not _database_unavailable(sys.exc_info()[1]):
        return defaults.server_error(request)
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response
