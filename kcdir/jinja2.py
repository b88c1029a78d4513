"""The Jinja2 environment, for the templates in ``templates/jinja2/``: the markup of tags
drawn many times on every request (``communities/templatetags/_jinja.py`` says which and
why). Every other template is Django's. Autoescaping is always on: values are escaped by
markupsafe, which writes quotes as ``&#34;`` and ``&#39;`` where Django writes ``&quot;``
and ``&#x27;`` (the same characters to a browser).
"""

from jinja2 import Environment


class RowsEnvironment(Environment):
    """Jinja2, reading ``row.name`` of a dict as the key first: the tags hand their
    templates rows of plain dicts, and Jinja2's attribute-first lookup raised and caught
    an AttributeError for every cell (30,000 a manage page)."""

    def getattr(self, obj, attribute):
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def environment(**options) -> Environment:
    options.pop("autoescape", None)
    return RowsEnvironment(autoescape=True, **options)
