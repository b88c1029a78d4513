from django.utils.functional import SimpleLazyObject

from . import directory_cache
from .access import is_directory_admin, requests_decidable_by


def waiting_requests(request):
    """``waiting_requests_count`` for the navbar: requests the signed-in steward or
    directory admin can decide. Lazy: costs a query only where a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count():
        # Requests are memberships and stewardship is a role: both change the
        # directory version, so the count is kept per person and version.
        return directory_cache.cached(
            request,
            "waiting",
            (user.pk, is_directory_admin(user)),
            lambda: requests_decidable_by(user).count(),
        )

    return {"waiting_requests_count": SimpleLazyObject(count)}
