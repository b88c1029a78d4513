"""Security logging for sign-in (failures carry time, username and address)."""

import logging

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from kcdir.client import client_address

security_log = logging.getLogger("kcdir.security")


@receiver(user_login_failed)
def log_failed_sign_in(sender, credentials, request=None, **kwargs):
    """Sign-in, and the old password on the password-change form (``kcdir/throttle.py``)."""
    security_log.warning(
        "Failed sign-in: username=%s address=%s path=%s",
        credentials.get("username", "-"),
        (client_address(request) if request is not None else None) or "-",
        request.path if request is not None else "-",
    )
