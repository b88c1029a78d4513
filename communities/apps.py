from django.apps import AppConfig


class CommunitiesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "communities"
    verbose_name = "Communities"

    def ready(self):
        # Request signals; deployment checks; counts and overlaps kept on deletions.
        from . import caching, checks, signals  # noqa: F401
