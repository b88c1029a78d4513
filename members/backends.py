from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class MemberBackend(ModelBackend):
    """Django's model backend, loading the user's Member with the user: every page
    needs both, so one query serves them (``request.member`` reads ``user.member``)."""

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user = User._default_manager.select_related("member").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
