"""``{% viewer_states %}…{% endviewer_states %}``: what the cards in the enclosed markup
say to the viewer alone ("You are a member", "You asked to join", "You are invited").

The directory's results are cached for everyone (``cached_section``), so a card cannot
carry its viewer's standing. Each card leaves a mark for it instead (an HTML comment
naming the community, which no escaped text can imitate); this tag reads the viewer's
memberships among the marked communities in one query, after the section is drawn or
fetched, and puts ``includes/_viewer_state.html`` in each mark's place. Anonymous
viewers cost no query: the marks are simply dropped.
"""

import re

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from communities import selectors

register = template.Library()

MARK = re.compile(r"<!--viewer-state:(\d+)-->")


class ViewerStatesNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        html = self.nodelist.render(context)
        request = context.get("request")
        ids = {int(pk) for pk in MARK.findall(html)}
        states = {}
        if ids and request is not None and request.user.is_authenticated:
            states = selectors.viewer_states(request.member, ids)
        drawn = {
            state: render_to_string("includes/_viewer_state.html", {"state": state})
            for state in set(states.values())
        }
        return mark_safe(  # noqa: S308 (templates' own output)
            MARK.sub(lambda mark: drawn.get(states.get(int(mark.group(1))), ""), html)
        )


@register.tag
def viewer_states(parser, token):
    nodelist = parser.parse(("endviewer_states",))
    parser.delete_first_token()
    return ViewerStatesNode(nodelist)
