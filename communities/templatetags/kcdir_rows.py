"""Table rows, filter fields and page links for the longest lists, drawn in Python.

The membership manage page, the history pages and the people search show up to fifty
rows of several cells, links and buttons each. Drawn by the template engine (a tag, a
lookup and an escape per cell, a ``{% url %}`` and a ``{% blocktranslate %}`` per
link) those rows cost more than everything else on the page; drawn here, the same
markup costs a fraction of that. Links are made by reversing each URL once per table
and filling in the varying part (``url_maker``); texts are translated once per table.
Filter fields are drawn as crispy-forms' Bootstrap 5 pack draws them, without its
dozen templates per field.

Every tag returns safe HTML in which everything that came from the database or the
request is escaped.
"""

import html
from collections.abc import Callable, Iterable
from urllib.parse import quote

from django import forms, template
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.translation import gettext

from communities.models import Membership, MembershipEvent

register = template.Library()

# What Django's ``reverse`` leaves unquoted in a path argument (django.urls.resolvers).
_SAFE_IN_PATH = "!$&'()*+,;=/~:@"
_SENTINEL = "kcdir0sentinel0"
_SENTINEL_PK = 2147483646


def url_maker(viewname: str, *fixed, numeric=False) -> Callable[[object], str]:
    """A function making ``reverse(viewname, args=[*fixed, value])`` for many values:
    the URL is reversed once, and each value is quoted the way ``reverse`` quotes it.
    The varying argument must be the last one (``numeric`` when it is an ``int``)."""
    sentinel = _SENTINEL_PK if numeric else _SENTINEL
    before, _sep, after = reverse(viewname, args=[*fixed, sentinel]).partition(str(sentinel))
    return lambda value: f"{before}{quote(str(value), safe=_SAFE_IN_PATH)}{after}"


# -- filter fields -----------------------------------------------------------------------


@register.simple_tag
def plain_field(bound_field) -> SafeString:
    """A text box or a menu with its label, help and errors: the markup crispy-forms'
    Bootstrap 5 pack draws, without its dozen templates per field."""
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
    invalid = " is-invalid" if errors else ""
    extra = format_html(
        "{}{}",
        mark_safe(' aria-invalid="true"') if errors else "",
        format_html(' aria-describedby="{}"', " ".join(described)) if described else "",
    )
    if isinstance(field.widget, forms.Select):
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, mark_safe(" selected") if str(key) == value else "", label)
                for key, label in field.choices
            ),
        )
        control = format_html(
            '<select name="{}" class="select form-select{}"{} id="{}">{}</select>',
            bound_field.html_name,
            invalid,
            extra,
            field_id,
            options,
        )
    else:
        control = format_html(
            '<input type="text" name="{}"{} class="textinput form-control{}"{} id="{}">',
            bound_field.html_name,
            format_html(' value="{}"', value) if value else "",  # as Django's widgets do
            invalid,
            extra,
            field_id,
        )
    help_html = (
        format_html('<div id="{}_helptext" class="form-text">{}</div>', field_id, field.help_text)
        if field.help_text
        else ""
    )
    errors_html = (
        format_html(
            '<div id="{}_error" class="invalid-feedback">{}</div>',
            field_id,
            format_html_join(
                "",
                '<p id="error_{}_{}"><strong>{}</strong></p>',
                ((n, field_id, error) for n, error in enumerate(errors, start=1)),
            ),
        )
        if errors
        else ""
    )
    return format_html(
        '<div id="div_{}" class="mb-3"><label for="{}" class="form-label">{}</label>{}{}{}</div>',
        field_id,
        field_id,
        field.label,
        control,
        errors_html,
        help_html,
    )


# -- page links --------------------------------------------------------------------------


def _query(request, changes: dict) -> str:
    """``?`` and the request's query string with ``changes`` (``None`` drops a name)."""
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return f"?{query.urlencode()}"


def _page_item(label, href=None, *, rel=None, current=False) -> SafeString:
    if current:
        return format_html(
            '<li class="page-item active" aria-current="page">'
            '<span class="page-link">{}</span></li>',
            label,
        )
    if href is None:
        return format_html(
            '<li class="page-item disabled"><span class="page-link">{}</span></li>', label
        )
    return format_html(
        '<li class="page-item"><a class="page-link" href="{}"{}>{}</a></li>',
        href,
        format_html(' rel="{}"', rel) if rel else "",
        label,
    )


@register.simple_tag(takes_context=True)
def page_links(context, page, label="", param="page", capped_at=None) -> SafeString:
    """Numbered page links, like ``includes/_pagination.html`` but for any query
    parameter (a page with two lists pages each by its own) and for a count that
    stopped at ``capped_at`` (``CappedPaginator``): then the total reads "more than"."""
    paginator = page.paginator
    if paginator.num_pages <= 1:
        return ""
    request = context["request"]
    previous_label, next_label = gettext("Previous"), gettext("Next")
    items = [
        _page_item(
            previous_label,
            _query(request, {param: page.previous_page_number()}) if page.has_previous() else None,
            rel="prev",
        )
    ]
    for number in paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == paginator.ELLIPSIS:
            items.append(_page_item("…"))
        elif number == page.number:
            items.append(_page_item(number, current=True))
        else:
            items.append(_page_item(number, _query(request, {param: number})))
    items.append(
        _page_item(
            next_label,
            _query(request, {param: page.next_page_number()}) if page.has_next() else None,
            rel="next",
        )
    )
    start = page.start_index()
    end = start + len(page.object_list) - 1 if page.object_list else 0
    if capped_at is not None and getattr(paginator, "capped", False):
        showing = gettext("Showing %(start)s–%(end)s of more than %(total)s") % {
            "start": start,
            "end": end,
            "total": number_format(capped_at, force_grouping=True),
        }
    else:
        showing = gettext("Showing %(start)s–%(end)s of %(total)s") % {
            "start": start,
            "end": end,
            "total": paginator.count,
        }
    return format_html(
        '<nav aria-label="{}" class="mt-3"><ul class="pagination flex-wrap">{}</ul>'
        '<p class="small text-body-secondary">{}</p></nav>',
        label or gettext("Pages"),
        mark_safe("".join(items)),  # noqa: S308 (each item is built by format_html)
        showing,
    )


@register.simple_tag(takes_context=True)
def keyset_links(context, page, label="") -> SafeString:
    """First / Previous / Next links for a ``KeysetPage`` (a list read from a cursor)."""
    if not (page.has_previous or page.has_next):
        return ""
    request = context["request"]
    reset = {page.after_param: None, page.before_param: None}
    items = [
        _page_item(gettext("First"), _query(request, reset) if page.has_previous else None),
        _page_item(
            gettext("Previous"),
            _query(request, {**reset, page.before_param: page.first_pk})
            if page.has_previous
            else None,
            rel="prev",
        ),
        _page_item(
            gettext("Next"),
            _query(request, {**reset, page.after_param: page.last_pk}) if page.has_next else None,
            rel="next",
        ),
    ]
    return format_html(
        '<nav aria-label="{}" class="mt-3"><ul class="pagination flex-wrap">{}</ul></nav>',
        label or gettext("Pages"),
        mark_safe("".join(items)),  # noqa: S308 (each item is built by format_html)
    )


# -- rows --------------------------------------------------------------------------------
#
# The rows below are drawn with f-strings, every value passed through ``esc`` (the
# standard library's ``html.escape``, which is what Django's ``escape`` calls): for
# fifty rows of a dozen values, ``format_html``'s per-argument checks would cost more
# than the rest of the page.


def esc(value) -> str:
    return html.escape(str(value))


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


@register.simple_tag
def event_rows(events: Iterable[MembershipEvent], show_community=False) -> SafeString:
    """The history table's rows: when, who or where, what, by whom, the change, the note."""
    actions = _labels(MembershipEvent.Action.choices)
    states = _labels(Membership.State.choices)
    roles = _labels(Membership.Role.choices)
    months = [""] + [str(MONTHS_3[month]).title() for month in range(1, 13)]
    community_url = url_maker("communities:community_detail") if show_community else None
    rows = []
    for event in events:
        when = timezone.localtime(event.created_at)
        change = (
            f"{esc(states.get(event.state_before, event.state_before) or '—')} → "
            f"{esc(states.get(event.state_after, event.state_after))}"
        )
        if event.role_before != event.role_after:
            change += (
                f"; {esc(roles.get(event.role_before, event.role_before) or '—')} → "
                f"{esc(roles.get(event.role_after, event.role_after))}"
            )
        if show_community:
            community = event.community
            where = f'<a href="{esc(community_url(community.slug))}">{esc(community.name)}</a>'
        else:
            where = esc(event.target_name)
        rows.append(
            f'<tr><td class="text-nowrap small"><time datetime="{when.isoformat()}">'
            f"{when.day} {esc(months[when.month])} {when.year} {when.hour:02d}:{when.minute:02d}"
            f"</time></td><td>{where}</td>"
            f"<td>{esc(actions.get(event.action, event.action))}</td>"
            f"<td>{esc(event.actor_name or '—')}</td>"
            f'<td class="small">{change}</td><td class="small">{esc(event.note)}</td></tr>'
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped)


@register.simple_tag
def people_rows(people) -> SafeString:
    """The people directory's rows: name and job title, department, expertise."""
    person_url = url_maker("members:member_detail")
    rows = []
    for person in people:
        title = (
            f'<div class="small text-body-secondary">{esc(person.job_title)}</div>'
            if person.job_title
            else ""
        )
        department = person.department.name if person.department_id else "—"
        rows.append(
            f'<tr><td><a href="{esc(person_url(person.user.username))}">'
            f"{esc(person.display_name)}</a>{title}</td><td>{esc(department)}</td>"
            f'<td class="d-none d-md-table-cell small">'
            f"{esc(Truncator(person.expertise).chars(80))}</td></tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped)


class _Translated:
    """One of ``timesince``'s "%(num)d days" texts, translated once per count."""

    def __init__(self, text):
        self.text, self.done = text, {}

    def __mod__(self, params):
        count = params["num"]
        if count not in self.done:
            self.done[count] = self.text % params
        return self.done[count]


def _with_name(text: str, name: str) -> str:
    """A translated "… %(name)s" text with the person's name, escaped."""
    return esc(text % {"name": name})


@register.simple_tag
def waiting_rows(entries) -> SafeString:
    """Requests waiting for a decision (``manage_rows.Entry``): select box, person,
    note, waiting time, Approve and Deny."""
    person_url = url_maker("members:member_detail")
    select, approve, deny = (
        gettext("Select %(name)s"),
        gettext("Approve %(name)s"),
        gettext("Deny %(name)s"),
    )
    approve_label, deny_label = esc(gettext("Approve")), esc(gettext("Deny"))
    now = timezone.now()
    time_strings = {unit: _Translated(text) for unit, text in TIME_STRINGS.items()}
    rows = []
    for entry in entries:
        member = entry.member
        name = member.display_name
        department = f" · {esc(member.department)}" if member.department else ""
        try:
            waited = timesince(entry.updated_at, now, time_strings=time_strings)
        except (ValueError, TypeError):
            waited = ""
        pk = int(entry.pk)
        rows.append(
            f'<tr><td><input class="form-check-input" type="checkbox" name="memberships" '
            f'value="{pk}" id="req-{pk}" aria-label="{_with_name(select, name)}"></td>'
            f'<td><label for="req-{pk}"><a href="{esc(person_url(member.username))}">'
            f"{esc(name)}</a></label>"
            f'<div class="small text-body-secondary">{esc(member.job_title)}{department}</div></td>'
            f'<td class="small">{esc(entry.note or "—")}</td>'
            f'<td class="small text-nowrap">{esc(waited)}</td><td class="text-nowrap">'
            f'<button type="submit" class="btn btn-success btn-sm" name="one" '
            f'value="approve:{pk}" aria-label="{_with_name(approve, name)}">'
            f"{approve_label}</button> "
            f'<button type="submit" class="btn btn-outline-danger btn-sm" name="one" '
            f'value="deny:{pk}" aria-label="{_with_name(deny, name)}">{deny_label}</button>'
            "</td></tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped)


ON_THE_LIST = {Membership.State.ACTIVE, Membership.State.INVITED, Membership.State.REQUESTED}


@register.simple_tag(takes_context=True)
def roster_rows(context, entries, community, roles) -> SafeString:
    """The manage page's list (``manage_rows.Entry``): person, state, a role menu for
    active people, and Remove for everyone on the list."""
    csrf = (
        '<input type="hidden" name="csrfmiddlewaretoken" '
        f'value="{esc(get_token(context["request"]))}">'
    )
    person_url = url_maker("members:member_detail")
    role_url = url_maker("communities:membership_role", community.slug, numeric=True)
    remove_url = url_maker("communities:membership_remove", community.slug, numeric=True)
    states = _labels(Membership.State.choices)
    role_labels = _labels(Membership.Role.choices)
    # The role menu's options, drawn once for each role someone can have.
    menus = {
        current: "".join(
            f'<option value="{esc(value)}"{" selected" if value == current else ""}>'
            f"{esc(label)}</option>"
            for value, label in roles
        )
        for current in Membership.Role.values
    }
    role_of, remove = gettext("Role of %(name)s"), gettext("Remove %(name)s")
    change_label, remove_label = esc(gettext("Change")), esc(gettext("Remove"))
    rows = []
    for entry in entries:
        member = entry.member
        name = member.display_name
        pk = int(entry.pk)
        department = f" · {esc(member.department)}" if member.department else ""
        if entry.state == Membership.State.ACTIVE:
            role_cell = (
                f'<form method="post" action="{esc(role_url(pk))}" class="d-flex gap-1">{csrf}'
                f'<label class="visually-hidden" for="role-{pk}">'
                f"{_with_name(role_of, name)}</label>"
                f'<select class="form-select form-select-sm" name="role" id="role-{pk}">'
                f"{menus.get(entry.role, '')}</select>"
                f'<button type="submit" class="btn btn-outline-secondary btn-sm">{change_label}'
                "</button></form>"
            )
        else:
            role_cell = esc(role_labels.get(entry.role, entry.role))
        if entry.state in ON_THE_LIST:
            remove_cell = (
                f'<a class="btn btn-outline-danger btn-sm" href="{esc(remove_url(pk))}" '
                f'aria-label="{_with_name(remove, name)}">{remove_label}</a>'
            )
        else:
            remove_cell = ""
        rows.append(
            f'<tr><td><a href="{esc(person_url(member.username))}">{esc(name)}</a>'
            f'<div class="small text-body-secondary">{esc(member.email)}{department}</div></td>'
            f"<td>{esc(states.get(entry.state, entry.state))}</td><td>{role_cell}</td>"
            f'<td class="text-end">{remove_cell}</td></tr>'
        )
    return mark_safe("\n".join(rows))  # noqa: S308 (every value is escaped)
