"""``{% cached_section "name" part … %}…{% endcached_section %}``: the enclosed markup,
drawn once per directory version and parts (``communities.caching.versioned``).

For sections that are the same for everyone who may see them (no CSRF token, nothing of
the viewer's own). The view passes what the section shows lazily (``SimpleLazyObject``),
so on a hit none of it is read. What the section shows of objects the view read
before the version (a community's slug and kind, say) goes in the parts: the version
vouches only for what is read after it. Parts may be query strings (``request.GET``):
their order does not matter.
"""

from django import template
from django.utils.safestring import mark_safe

from communities import caching

register = template.Library()


class CachedSectionNode(template.Node):
    def __init__(self, nodelist, name, parts):
        self.nodelist, self.name, self.parts = nodelist, name, parts

    def render(self, context):
        parts = tuple(part.resolve(context) for part in self.parts)
        html = caching.versioned(
            f"section-{self.name.resolve(context)}", parts, lambda: self.nodelist.render(context)
        )
        return mark_safe(html)  # noqa: S308 (a template's own output)


@register.tag
def cached_section(parser, token):
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(f"'{bits[0]}' needs a section name.")
    nodelist = parser.parse(("endcached_section",))
    parser.delete_first_token()
    return CachedSectionNode(
        nodelist, parser.compile_filter(bits[1]), [parser.compile_filter(b) for b in bits[2:]]
    )
