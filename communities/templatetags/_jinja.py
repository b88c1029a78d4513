"""Template tags whose markup is a Jinja2 template (``templates/jinja2/``).

The tags drawn many times on every request (the rows of the longest tables, filter
fields, page links) prepare plain data in Python and hand it to a Jinja2 template, which
costs a fraction of the same template in Django's engine; every other template is
Django's. Jinja2 escapes every value (autoescape, ``kcdir/jinja2.py``).
"""

from django.template import engines
from django.template.backends.utils import csrf_input
from django.utils.safestring import mark_safe


def jinja_tag(register, template_name: str, *, takes_context: bool = False, csrf: bool = False):
    """Register the decorated function as a tag (of its own name) drawing
    ``template_name`` with the plain data the function returns, for this request.
    With ``csrf``, the template also gets ``csrf``: Django's hidden CSRF input, made
    once for all the forms it draws."""

    def register_tag(function):
        def draw(context, *args, **kwargs):
            if takes_context:
                data = function(context, *args, **kwargs)
            else:
                data = function(*args, **kwargs)
            request = context.get("request")
            if csrf and request is not None:
                data["csrf"] = csrf_input(request)
            template = engines["jinja2"].get_template(template_name)
            return mark_safe(template.render(data, request))  # noqa: S308 (autoescaped)

        register.simple_tag(draw, takes_context=True, name=function.__name__)
        return function

    return register_tag
