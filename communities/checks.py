"""System checks for deployment (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def shared_cache(app_configs, **kwargs):
    """Production runs several processes: sessions and rate limits need a shared cache."""
    if getattr(settings, "SHARED_CACHE", True):
        return []
    return [
        Warning(
            "The cache is each process's own memory.",
            hint="Set REDIS_URL (README, Deploying): with several app processes, rate limits "
            "count per process and sessions are read from the database on every request.",
            id="kcdir.W001",
        )
    ]
