"""The Jinja2 environment, for the templates in ``templates/jinja2/``: the markup of tags
drawn many times on every request (``communities/templatetags/_jinja.py`` says which and
why). Every other template is Django's. Autoescaping is always on: values are escaped by
markupsafe, which writes quotes as ``&#34;`` and ``&#39;`` where Django writes ``&quot;``
and ``&#x27;`` (the same characters to a browser).
"""

from jinja2 import Environment


def environment(**options) -> Environment:
    options.pop("autoescape", None)
    return Environment(autoescape=True, **options)
