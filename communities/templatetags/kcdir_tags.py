from django import template

register = template.Library()


@register.filter
def page_range_around(paginator, number):
    """Page numbers to link: the ends and two either side of ``number``, elided."""
    return paginator.get_elided_page_range(number, on_each_side=2, on_ends=1)
