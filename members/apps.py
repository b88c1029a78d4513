from django.apps import AppConfig


class MembersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "members"
    verbose_name = "People"

    def ready(self):
        from . import security  # noqa: F401  (connects the sign-in logging)
