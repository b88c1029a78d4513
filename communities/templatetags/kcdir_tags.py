"""Filter fields and page links, drawn by Jinja2 templates in ``templates/jinja2/includes/``.

The tags only prepare plain data (texts translated once, query strings, which option
is chosen); the markup is in ``includes/_field.html`` and ``includes/_page_links.html``.

- ``filter_field``: a text box or a menu with its label, help and errors, the markup
  crispy-forms' Bootstrap 5 pack draws. The filter forms of the manage, history and
  people pages are drawn on every request, and ``as_crispy_field`` renders a dozen
  templates and the widget's own per field (the manage page's three fields: 1.2 ms,
  against 0.2 ms with ``includes/_field.html``).
- ``filter_menus``: the directory's menus (about 230 options on every directory
  page the cache has not seen: 3-4 ms in Django's engine).
- ``page_links``: numbered page links for any query parameter (a page with two lists
  pages each by its own) and for a count that stopped at a cap (``CappedPaginator``:
  the total reads "more than"). ``includes/_pagination.html`` uses it for ``?page=``.
- ``keyset_links``: First / Previous / Next for a ``KeysetPage`` (read from a cursor).
"""

from django import forms, template
from django.utils.formats import number_format
from django.utils.translation import gettext

from ._jinja import jinja_tag

register = template.Library()


@jinja_tag(register, "includes/_field.html")
def filter_field(bound_field) -> dict:
    """A text box or a menu (``forms.Select``), as crispy-forms' Bootstrap 5 pack
    draws it with ``as_crispy_field``."""
    field = bound_field.field
    field_id = bound_field.id_for_label
    value = bound_field.value()
    value = "" if value is None else str(value)
    errors = bound_field.errors
    described = []
    if field.help_text:
        described.append(f"{field_id}_helptext")
    if errors:
        described.append(f"{field_id}_error")
    is_select = isinstance(field.widget, forms.Select)
    return {
        "id": field_id,
        "name": bound_field.html_name,
        "label": field.label,
        "value": value,
        "help_text": field.help_text,
        "errors": errors,
        "described_by": " ".join(described),
        "is_select": is_select,
        "input_type": getattr(field.widget, "input_type", "text") or "text",
        "options": (
            [(key, label, str(key) == value) for key, label in field.choices] if is_select else ()
        ),
    }


@jinja_tag(register, "includes/_filter_menus.html")
def filter_menus(menus: list[dict]) -> dict:
    """The directory's menus (``DirectoryFilterForm.menus``: about 230 options), each
    with its label."""
    return {"menus": menus}


def _query(request, changes: dict) -> str:
    """``?`` and the request's query string with ``changes`` (``None`` drops a name)."""
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"?{query.urlencode()}"


def _item(label, href=None, *, rel="", current=False) -> dict:
    """A page link: ``href`` None draws it disabled, ``current`` as the page shown."""
    return {"label": label, "href": href, "rel": rel, "current": current}


@jinja_tag(register, "includes/_page_links.html", takes_context=True)
def page_links(context, page, label="", param="page", capped_at=None) -> dict:
    """Numbered page links (``param``: the query parameter) with "Showing a–b of n";
    nothing when there is a single page."""
    paginator = page.paginator
    if paginator.num_pages <= 1:
        return {"items": ()}
    request = context["request"]
    items = [
        _item(
            gettext("Previous"),
            _query(request, {param: page.previous_page_number()}) if page.has_previous() else None,
            rel="prev",
        )
    ]
    for number in paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == paginator.ELLIPSIS:
            items.append(_item("…"))
        elif number == page.number:
            items.append(_item(str(number), current=True))
        else:
            items.append(_item(str(number), _query(request, {param: number})))
    items.append(
        _item(
            gettext("Next"),
            _query(request, {param: page.next_page_number()}) if page.has_next() else None,
            rel="next",
        )
    )
    start = page.start_index()
    if capped_at is not None and getattr(paginator, "capped", False):
        # The count stopped at the cap: the last page offered ends where its rows do.
        end = start + len(page.object_list) - 1 if page.object_list else 0
        showing = gettext("Showing %(start)s–%(end)s of more than %(total)s") % {
            "start": start,
            "end": end,
            "total": number_format(capped_at, force_grouping=True),
        }
    else:
        showing = gettext("Showing %(start)s–%(end)s of %(total)s") % {
            "start": start,
            "end": page.end_index(),
            "total": paginator.count,
        }
    return {"label": label or gettext("Pages"), "items": items, "showing": showing}


@jinja_tag(register, "includes/_page_links.html", takes_context=True)
def keyset_links(context, page, label="") -> dict:
    """First / Previous / Next for a ``KeysetPage``; nothing when it is the only page."""
    if not (page.has_previous or page.has_next):
        return {"items": ()}
    request = context["request"]
    reset = {page.after_param: None, page.before_param: None}
    items = [
        _item(gettext("First"), _query(request, reset) if page.has_previous else None),
        _item(
            gettext("Previous"),
            _query(request, {**reset, page.before_param: page.first_pk})
            if page.has_previous
            else None,
            rel="prev",
        ),
        _item(
            gettext("Next"),
            _query(request, {**reset, page.after_param: page.last_pk}) if page.has_next else None,
            rel="next",
        ),
    ]
    return {"label": label or gettext("Pages"), "items": items}
