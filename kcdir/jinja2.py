"""The Jinja2 environment for the few templates drawn on every request in long tables
(``templates/jinja2/``: the rows of the manage page, the history pages and the people
search). Every other template is Django's.

Autoescaping is always on. Values are escaped as Django's templates escape them
(``&quot;``, ``&#x27;``) rather than as Jinja2 does (``&#34;``, ``&#39;``), so a page reads
the same whichever engine drew a part of it.
"""

from django.utils.html import escape
from jinja2 import Environment
from markupsafe import Markup


def _escaped_as_django_does(value):
    if hasattr(value, "__html__"):  # already safe HTML: Django's or Jinja2's
        return Markup(value.__html__())  # noqa: S704
    return Markup(escape(value))  # noqa: S704 (escaped here, by Django)


def environment(**options) -> Environment:
    options.pop("autoescape", None)
    return Environment(autoescape=True, finalize=_escaped_as_django_does, **options)
