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


@register(Tags.security, deploy=True)
def proxy_count_without_proxy(app_configs, **kwargs):
    """KCDIR_PROXY_COUNT alone reads no header: every client would share the proxy's
    address for throttling, rate limits and the log."""
    if getattr(settings, "KCDIR_BEHIND_PROXY", False) or not getattr(
        settings, "KCDIR_PROXY_COUNT", 0
    ):
        return []
    return [
        Warning(
            "KCDIR_PROXY_COUNT is set but KCDIR_BEHIND_PROXY is off: X-Forwarded-For is "
            "ignored and client addresses are those of the connections.",
            hint="Behind a proxy, set KCDIR_BEHIND_PROXY=1 as well (README, Deploying).",
            id="kcdir.W002",
        )
    ]
