"""OIDC sign-in: not written yet (the routes exist so the sign-in page can name them)."""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404


@login_not_required
def _not_yet(request, key):
    raise Http404("OIDC sign-in is not available yet.")


login = callback = _not_yet
