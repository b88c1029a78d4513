from django.utils.functional import SimpleLazyObject

from .models import Member


class CurrentMemberMiddleware:
    """Sets ``request.member``: the signed-in user's Member, created on first use.

    Lazy, so requests that never look at it cost no query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        request.member = SimpleLazyObject(
            lambda: Member.objects.for_user(user) if user.is_authenticated else None
        )
        return self.get_response(request)
