from django.utils.functional import SimpleLazyObject

from . import access, selectors


def navbar(request):
    """What the navbar offers the signed-in person: the count of requests they can
    decide (lazy: a query only where a template shows it) and the admin link."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "waiting_requests_count": SimpleLazyObject(lambda: selectors.waiting_count(user)),
        "may_use_admin": access.may_use_admin(user),
    }
