"""How long ago, in words people use: "just now" rather than "0 minutes ago".

``{% load kcdir_wording %}``, then ``{{ when|ago }}`` ("just now", "3 days ago") or
``{{ when|waited }}`` ("just now", "3 days", for a "Waiting" column).
"""

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext

register = template.Library()

JUST_NOW = timedelta(minutes=1)


def waited_since(value, now=None, **kwargs) -> str:
    """``timesince``'s words, or "just now" under a minute."""
    if not value:
        return ""
    now = now or timezone.now()
    if now - value < JUST_NOW:
        return gettext("just now")
    return timesince(value, now, **kwargs)


@register.filter
def waited(value) -> str:
    try:
        return waited_since(value)
    except (ValueError, TypeError):
        return ""


@register.filter
def ago(value) -> str:
    try:
        words = waited_since(value)
    except (ValueError, TypeError):
        return ""
    if not words or words == gettext("just now"):
        return words
    return gettext("%(time)s ago") % {"time": words}
