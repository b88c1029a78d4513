"""Sign-in throttling beyond django-axes' own rule.

django-axes pauses one username from one address after ``AXES_FAILURE_LIMIT`` failures
(``kcdir/settings.py``). Two more rules live here:

- **One address, many usernames** (password spraying): while
  ``KCDIR_ADDRESS_FAILURE_LIMIT`` failed sign-ins from one address lie within the
  cool-off, whatever the usernames, that address may not sign in at all. Only failures
  still on axes' books count: a person who mistypes and then signs in clears their own
  (``AXES_RESET_ON_SUCCESS``), so a shared office address is not paused by people
  getting their passwords wrong now and then. Attempts refused during the pause are not
  counted, so it ends as those failures age.
- **The password-change form** checks the old password through ``authenticate()``, as
  sign-in does: a wrong one is a failed sign-in for that username from that address
  (counted, logged, paused alike), and while paused the password is not even checked.
"""

import logging

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.views.decorators.debug import sensitive_variables

from .client import client_address

security_log = logging.getLogger("kcdir.security")


def address_failures(request) -> int:
    """Failed sign-ins from the request's client address still counted by axes."""
    recent = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address,
        attempt_time__gte=get_cool_off_threshold(request),
    )
    return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_limit_reached(request) -> bool:
    limit = settings.KCDIR_ADDRESS_FAILURE_LIMIT
    if not limit or request.axes_ip_address is None:
        return False
    return address_failures(request) >= limit


class SignInHandler(AxesDatabaseHandler):
    """axes' database handler, which also pauses a whole address (module docstring).

    ``request.kcdir_address_paused`` tells the lockout page which pause it is."""

    def is_locked(self, request, credentials=None) -> bool:
        if super().is_locked(request, credentials):
            return True
        request.kcdir_address_paused = address_limit_reached(request)
        return request.kcdir_address_paused

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is not None and getattr(request, "kcdir_address_paused", False):
            # Refused before any password was checked: not a guess, so not counted.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            return
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or request.axes_locked_out or not address_limit_reached(request):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        request.kcdir_address_paused = True
        security_log.warning(
            "Sign-in paused for address=%s after %d failed sign-ins (cool-off %s)",
            request.axes_ip_address,
            address_failures(request),
            settings.AXES_COOLOFF_TIME,
        )


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form, checking the old password as a sign-in does (module docstring)."""

    def __init__(self, user, *args, request, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    @sensitive_variables("old_password")
    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        username = self.user.get_username()
        # While paused, axes' backend refuses before the password is looked at, and its
        # middleware answers with the lockout page.
        signed_in = authenticate(self.request, username=username, password=old_password)
        if signed_in is None or signed_in.pk != self.user.pk:
            raise ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        # Knowing the password clears this username's failures from here, as signing
        # in does.
        AxesProxyHandler.reset_attempts(ip_address=client_address(self.request), username=username)
        return old_password


class ThrottledPasswordChangeView(PasswordChangeView):
    form_class = PasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


# Mounted at accounts/password_change/ ahead of django.contrib.auth.urls (kcdir/urls.py).
password_change = ThrottledPasswordChangeView.as_view()
