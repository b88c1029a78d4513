"""Logging filters (``LOGGING`` in kcdir/settings.py)."""

import logging

from django.core.exceptions import PermissionDenied


class RefusedRequestsOnOneLine(logging.Filter):
    """On ``django.request``: a refused request (any 4xx: 403, 404, 405, 429…) is one
    line, without a traceback; a refusal by ``PermissionDenied`` is not logged here at
    all, as ``kcdir.views.permission_denied`` already logs it on ``kcdir.security`` with
    who and from where. Server errors (5xx) keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is None or status >= 500:
            return True
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            return False
        record.exc_info = None
        record.exc_text = None
        return True
