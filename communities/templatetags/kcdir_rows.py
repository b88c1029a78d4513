"""The rows of the longest tables, drawn by Jinja2 templates in ``templates/jinja2/``.

The membership manage page (``includes/_waiting_rows.html``,
``includes/_manage_roster_rows.html``), the history pages (``includes/_event_rows.html``),
a community's roster (``includes/_roster_rows.html``) and the people search
(``includes/_people_rows.html``) show up to fifty rows of several cells, links and
buttons each, on every request. What makes such rows slow in a
template is a ``{% url %}``, a ``{% translate %}`` or ``{% blocktranslate %}`` and a
choice label looked up per cell; so these tags do that work once per table and hand
their template plain values: each URL is reversed once and filled in per row
(``url_maker``), texts are translated once, and the labels naming a person are filled
in per row. The templates escape every value (``_jinja``).

Why Jinja2 for these four: fifty rows of realistic data, rendered 200 times (CPU ms,
fastest run), cost 1.8 (history), 1.3 (people), 2.2 (requests waiting) and 3.1 (the
manage list, with a role form per row) in Django's engine, against 0.2-1.4 in Jinja2.
The manage page draws two such tables: in Django's engine it went past its 20 ms
target in ``make bench``. Every other template is Django's.
"""

from collections.abc import Callable, Iterable
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.utils.timesince import TIME_STRINGS
from django.utils.translation import gettext, ngettext

from communities.models import Community, Membership, MembershipEvent, invitations_lapse_before

from ._jinja import jinja_tag
from .kcdir_wording import waited_since

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


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


@jinja_tag(register, "includes/_event_rows.html")
def event_rows(events: Iterable[MembershipEvent], show_community=False) -> dict:
    """The history table's rows: when, who or where, what, by whom, the change, the note.
    The time reads as the ``date`` filter writes ``"c"`` (to the second) and ``"j M Y H:i"``."""
    actions = _labels(MembershipEvent.Action.choices)
    states = _labels(Membership.State.choices)
    roles = _labels(Membership.Role.choices)
    months = [""] + [str(MONTHS_3[month]).title() for month in range(1, 13)]
    community_url = url_maker("communities:community_detail") if show_community else None
    rows = []
    for event in events:
        when = timezone.localtime(event.created_at)
        row = {
            "datetime": when.replace(microsecond=0).isoformat(),  # HTML: at most 3 digits
            "when": f"{when.day} {months[when.month]} {when.year} {when:%H:%M}",
            "action": actions.get(event.action, event.action),
            "actor": event.actor_name,
            "state_before": states.get(event.state_before, event.state_before),
            "state_after": states.get(event.state_after, event.state_after),
            "role_changed": event.role_before != event.role_after,
            "role_before": roles.get(event.role_before, event.role_before),
            "role_after": roles.get(event.role_after, event.role_after),
            "note": event.note,
        }
        if show_community:
            row["where"] = event.community.name
            row["where_url"] = community_url(event.community.slug)
        else:
            row["where"] = event.target_name
        rows.append(row)
    return {"rows": rows}


@jinja_tag(register, "includes/_roster_rows.html")
def roster_rows(entries, community) -> dict:
    """A community's roster on its page (``manage_rows.Entry``): name and job title,
    role (a community of practice's stewards are its coordinators), department, and
    since when, as the ``date`` filter writes ``"M Y"``."""
    person_url = url_maker("members:member_detail")
    roles = _labels(Membership.Role.choices)
    if community.kind == Community.Kind.COP:
        roles[Membership.Role.STEWARD] = gettext("Coordinator")
    months = [""] + [str(MONTHS_3[month]).title() for month in range(1, 13)]
    until = gettext("Until %(date)s")
    rows = []
    for entry in entries:
        member = entry.member
        since = ""
        if entry.active_since is not None:
            when = timezone.localtime(entry.active_since)
            since = f"{months[when.month]} {when.year}"
        rows.append(
            {
                "url": person_url(member.username),
                "name": member.display_name,
                "job_title": member.job_title,
                "role": roles.get(entry.role, entry.role),
                "department": member.department,
                "since": since,
                "until": until % {"date": date_format(entry.ends_on)} if entry.ends_on else "",
            }
        )
    return {"rows": rows}


@jinja_tag(register, "includes/_people_rows.html")
def people_rows(people) -> dict:
    """The people directory's rows: name and job title, department, expertise."""
    person_url = url_maker("members:member_detail")
    return {
        "rows": [
            {
                "url": person_url(person.user.username),
                "name": person.display_name,
                "job_title": person.job_title,
                "department": person.department.name if person.department_id else "",
                "expertise": Truncator(person.expertise).chars(80),
            }
            for person in people
        ]
    }


class _Translated:
    """One of ``timesince``'s "%(num)d days" texts, translated once per count."""

    def __init__(self, text):
        self.text, self.done = text, {}

    def __mod__(self, params):
        count = params["num"]
        if count not in self.done:
            self.done[count] = self.text % params
        return self.done[count]


@jinja_tag(register, "includes/_waiting_rows.html")
def waiting_rows(entries) -> dict:
    """Requests waiting for a decision (``manage_rows.Entry``): select box, person,
    note, waiting time (as the ``timesince`` filter writes it), Approve and Deny."""
    person_url = url_maker("members:member_detail")
    select, approve, deny = (
        gettext("Select %(name)s"),
        gettext("Approve %(name)s"),
        gettext("Deny %(name)s"),
    )
    labels = {
        "approve": gettext("Approve"),
        "deny": gettext("Deny"),
        # Each cell's heading, shown beside it where the rows stack (a phone).
        "note_heading": gettext("Note"),
        "waiting_heading": gettext("Waiting"),
    }
    now = timezone.now()
    time_strings = {unit: _Translated(text) for unit, text in TIME_STRINGS.items()}
    rows = []
    for entry in entries:
        member = entry.member
        named = {"name": member.display_name}
        try:
            waited = waited_since(entry.updated_at, now, time_strings=time_strings)
        except (ValueError, TypeError):
            waited = ""
        rows.append(
            {
                "pk": str(int(entry.pk)),
                "url": person_url(member.username),
                "name": member.display_name,
                "job_title": member.job_title,
                "department": member.department,
                "note": entry.note,
                "waited": waited,
                "select_label": select % named,
                "approve_label": approve % named,
                "deny_label": deny % named,
            }
        )
    return {"rows": rows, **labels}


@jinja_tag(register, "includes/_manage_roster_rows.html", csrf=True)
def manage_roster_rows(entries, community, roles) -> dict:
    """The manage page's list (``manage_rows.Entry``): person, state, a role menu
    (``roles``: its options) for active people, and each row's own actions: Remove for
    members, Approve and Deny for a request, Resend and Withdraw for an invitation
    (which says when it lapsed). Each row's id is ``membership-<pk>``, for links here."""
    person_url = url_maker("members:member_detail")
    role_url = url_maker("communities:membership_role", community.slug, numeric=True)
    remove_url = url_maker("communities:membership_remove", community.slug, numeric=True)
    term_url = url_maker("communities:membership_term", community.slug, numeric=True)
    resend_url = url_maker("communities:invitation_resend", community.slug, numeric=True)
    withdraw_url = url_maker("communities:invitation_withdraw", community.slug, numeric=True)
    decide_url = reverse("communities:requests_decide", args=[community.slug])
    states = _labels(Membership.State.choices)
    role_labels = _labels(Membership.Role.choices)
    role_of, remove = gettext("Role of %(name)s"), gettext("Remove %(name)s")
    end_date_of, until = gettext("End date of %(name)s"), gettext("Until %(date)s")
    approve, deny = (
        gettext("Approve the request from %(name)s"),
        gettext("Deny the request from %(name)s"),
    )
    resend, withdraw = (
        gettext("Resend invitation to %(name)s"),
        gettext("Withdraw invitation to %(name)s"),
    )
    lapsed_state = gettext("Invited (lapsed)")
    lapse_before = invitations_lapse_before()
    labels = {
        "change": gettext("Change"),
        "set_end": gettext("Set end date"),
        "remove": gettext("Remove"),
        "state_heading": gettext("State"),
        "approve": gettext("Approve"),
        "deny": gettext("Deny"),
        "resend": gettext("Resend invitation"),
        "withdraw": gettext("Withdraw invitation"),
        "by_rule": gettext("By rule"),
    }
    # The role menu's options (value, label, chosen), made once for each role.
    menus = {
        current: [(value, label, value == current) for value, label in roles]
        for current in Membership.Role.values
    }
    rows = []
    for entry in entries:
        member = entry.member
        named = {"name": member.display_name}
        pk = int(entry.pk)
        row = {
            "pk": str(pk),
            "url": person_url(member.username),
            "name": member.display_name,
            "email": member.email,
            "department": member.department,
            "state": states.get(entry.state, entry.state),
            "by_rule": entry.by_rule and entry.state == Membership.State.ACTIVE,
        }
        if entry.state == Membership.State.ACTIVE:
            row["role_url"] = role_url(pk)
            row["role_options"] = menus.get(entry.role, ())
            row["role_label"] = role_of % named
            row["remove_url"] = remove_url(pk)
            row["remove_label"] = remove % named
            row["term_url"] = term_url(pk)
            row["term_label"] = end_date_of % named
            row["ends_on"] = entry.ends_on.isoformat() if entry.ends_on else ""
            if entry.ends_on:
                row["until"] = until % {"date": date_format(entry.ends_on)}
        else:
            row["role_name"] = role_labels.get(entry.role, entry.role)
        if entry.state == Membership.State.REQUESTED:
            row["decide_url"] = decide_url
            row["approve_label"] = approve % named
            row["deny_label"] = deny % named
        elif entry.state == Membership.State.INVITED:
            sent = entry.decided_at or entry.updated_at
            if sent is not None and sent < lapse_before:
                row["state"] = lapsed_state
            row["resend_url"] = resend_url(pk)
            row["resend_label"] = resend % named
            row["withdraw_url"] = withdraw_url(pk)
            row["withdraw_label"] = withdraw % named
        rows.append(row)
    return {"rows": rows, **labels}


def _kind_badges() -> dict[str, dict[str, str]]:
    """What ``includes/_kind_badge.html`` says of each kind: its class, title and text."""
    return {
        Community.Kind.KC: {
            "css": "kind-kc",
            "title": gettext("Purposely formed, with a formal membership list"),
            "text": gettext("Knowledge community"),
        },
        Community.Kind.COP: {
            "css": "kind-cop",
            "title": gettext("Informal: people who practise together"),
            "text": gettext("Community of practice"),
        },
    }


@jinja_tag(register, "includes/_profile_rows.html")
def profile_rows(memberships: Iterable[Membership]) -> dict:
    """A profile's communities (memberships with their community): the name, its kind
    badge and the person's role there (a CoP's steward is its coordinator)."""
    community_url = url_maker("communities:community_detail")
    badges = _kind_badges()
    roles = _labels(Membership.Role.choices)
    coordinator = gettext("Coordinator")
    rows = []
    for membership in memberships:
        community = membership.community
        is_coordinator = community.kind == Community.Kind.COP and membership.role == "steward"
        rows.append(
            {
                "url": community_url(community.slug),
                "name": community.name,
                "badge": badges.get(community.kind, badges[Community.Kind.COP]),
                "aside": coordinator
                if is_coordinator
                else roles.get(membership.role, membership.role),
            }
        )
    return {"rows": rows, "small": False}


@jinja_tag(register, "includes/_profile_rows.html")
def connected_rows(communities: Iterable[Community]) -> dict:
    """A profile's connected communities: the name, its kind badge and the people it
    shares (``shared``)."""
    community_url = url_maker("communities:community_detail")
    badges = _kind_badges()
    rows = [
        {
            "url": community_url(community.slug),
            "name": community.name,
            "badge": badges.get(community.kind, badges[Community.Kind.COP]),
            "aside": ngettext(
                "%(counter)s person in common", "%(counter)s people in common", community.shared
            )
            % {"counter": community.shared},
        }
        for community in communities
    ]
    return {"rows": rows, "small": True}
