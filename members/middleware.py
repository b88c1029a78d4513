from django.utils.functional import SimpleLazyObject

from .models import Member


class CurrentMemberMiddleware:
    """Sets ``request.member``: the signed-in user's Member, created on first use.

    Lazy, so requests that never look at it cost no query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = SimpleLazyObject(lambda: self.member_of(request.user))
        return self.get_response(request)

    @staticmethod
    def member_of(user) -> Member | None:
        if not user.is_authenticated:
            return None
        try:
            return user.member  # loaded with the user by MemberBackend
        except Member.DoesNotExist:
            return Member.objects.for_user(user)
