from django.utils.functional import SimpleLazyObject

from . import selectors


def waiting_requests(request):
    """``waiting_requests_count`` for the navbar: requests the signed-in steward or
    directory admin can decide. Lazy: costs a query only where a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"waiting_requests_count": SimpleLazyObject(lambda: selectors.waiting_count(user))}
