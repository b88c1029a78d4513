"""The long lists: how they page, count and draw their rows.

- The manage page's list is read from a cursor in name order (First / Previous /
  Next), keeps its filters, and always says how many people it has in all.
- The requests waiting have page links of their own (``requests_page``).
- The people directory counts at most ``PEOPLE_COUNT_CAP`` matches and says "more
  than" beyond it.
- The row templates escape whatever people typed, and show the same dates and
  waiting times as Django's ``date`` and ``timesince`` filters; the filter fields are
  drawn as crispy-forms draws them.
"""

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from communities import manage_rows, people_views
from communities import views as community_views
from communities.forms import HistoryFilterForm, RosterFilterForm
from communities.models import Community, Membership, MembershipEvent
from communities.templatetags import kcdir_rows
from members.forms import PeopleFilterForm

from .factories import DepartmentFactory, MembershipFactory, led_kc, member_named

pytestmark = pytest.mark.django_db

State = Membership.State


def manage_url(community) -> str:
    return reverse("communities:community_manage", args=[community.slug])


def listed(response) -> list[str]:
    return [entry.member.display_name for entry in response.context["roster_page"]]


def link(response, label: str) -> str | None:
    """The href of the page link called ``label`` in the list's page links."""
    nav = re.search(r'<nav aria-label="Roster pages".*?</nav>', response.content.decode(), re.S)
    if nav is None:
        return None
    found = re.search(rf'<a class="page-link" href="([^"]*)"[^>]*>{label}</a>', nav.group(0))
    return html.unescape(found.group(1)) if found else None


def follow(client, community, href: str):
    return client.get(manage_url(community) + href)


@pytest.fixture
def big_kc(db):
    """A knowledge community with ten people on its list (sponsor and steward
    included) plus one who left, and two departments."""
    claims = DepartmentFactory(name="Claims Operations", slug="claims-ops")
    pricing = DepartmentFactory(name="Pricing", slug="pricing")
    community = led_kc(
        sponsor=member_named("Aaron Sponsor", department=pricing),
        steward=member_named("Stella Steward", username="steward", department=pricing),
        name="Big Roster",
        slug="big-roster",
    )
    for n in range(8):
        MembershipFactory(
            member=member_named(
                f"Person {n}",
                job_title="Actuary" if n == 5 else "Analyst",
                department=claims if n % 2 else pricing,
            ),
            community=community,
            state=State.INVITED if n == 3 else State.ACTIVE,
        )
    MembershipFactory(member=member_named("Zed Gone"), community=community, state=State.LEFT)
    return community


@pytest.fixture
def steward_client(client, big_kc, monkeypatch):
    monkeypatch.setattr(community_views, "MANAGE_PAGE_SIZE", 3)
    client.force_login(big_kc.memberships.get(role=Membership.Role.STEWARD).member.user)
    return client


EVERYONE = ["Aaron Sponsor", *(f"Person {n}" for n in range(8)), "Stella Steward"]


# -- the manage page's list: a cursor, in name order ------------------------------------


def test_the_list_pages_forward_and_back_by_cursor(steward_client, big_kc):
    first = steward_client.get(manage_url(big_kc))

    assert listed(first) == EVERYONE[:3]
    assert first.context["roster_page"].count == 10
    assert "Showing 3 of 10 people, by name." in first.content.decode()
    assert link(first, "Previous") is None and link(first, "First") is None

    second = follow(steward_client, big_kc, link(first, "Next"))
    assert listed(second) == EVERYONE[3:6]
    assert second.context["roster_page"].count == 10

    pages, page = [listed(first), listed(second)], second
    while link(page, "Next"):
        page = follow(steward_client, big_kc, link(page, "Next"))
        pages.append(listed(page))
    assert pages == [EVERYONE[0:3], EVERYONE[3:6], EVERYONE[6:9], EVERYONE[9:]]

    back = follow(steward_client, big_kc, link(page, "Previous"))
    assert listed(back) == EVERYONE[6:9]
    assert listed(follow(steward_client, big_kc, link(back, "First"))) == EVERYONE[:3]


def test_people_with_the_same_name_are_ordered_and_never_skipped(steward_client, big_kc):
    for n in range(4):
        MembershipFactory(member=member_named("Person 1", username=f"twin{n}"), community=big_kc)
    everyone = sorted(
        big_kc.memberships.filter(state__in=[State.ACTIVE, State.INVITED, State.REQUESTED])
        .select_related("member")
        .order_by("member__display_name", "pk"),
        key=lambda m: (m.member.display_name, m.pk),
    )

    seen, page = [], steward_client.get(manage_url(big_kc))
    while True:
        seen += [entry.pk for entry in page.context["roster_page"]]
        if not link(page, "Next"):
            break
        page = follow(steward_client, big_kc, link(page, "Next"))

    assert seen == [m.pk for m in everyone]


def test_cursor_links_keep_the_filters(steward_client, big_kc):
    first = steward_client.get(manage_url(big_kc), {"q": "person", "state": "active"})

    query = parse_qs(urlsplit(link(first, "Next")).query)

    assert query["q"] == ["person"] and query["state"] == ["active"]
    assert "after" in query
    second = follow(steward_client, big_kc, link(first, "Next"))
    assert all(name.startswith("Person") for name in listed(second))
    assert "Person 3" not in listed(first) + listed(second)  # invited, not active


@pytest.mark.parametrize("cursor", ["after=999999", "before=999999", "after=abc", "after=-1"])
def test_a_cursor_that_names_no_one_shows_the_first_page(steward_client, big_kc, cursor):
    response = steward_client.get(manage_url(big_kc) + "?" + cursor)

    assert response.status_code == 200
    assert listed(response) == EVERYONE[:3]


def test_a_cursor_from_another_community_shows_the_first_page(steward_client, big_kc):
    elsewhere = MembershipFactory(member=member_named("Person 4b"))

    response = steward_client.get(manage_url(big_kc), {"after": elsewhere.pk})

    assert listed(response) == EVERYONE[:3]


def test_a_search_counts_every_match_on_every_page(steward_client, big_kc):
    first = steward_client.get(manage_url(big_kc), {"q": "person"})
    second = follow(steward_client, big_kc, link(first, "Next"))

    assert first.context["roster_page"].count == 8
    assert second.context["roster_page"].count == 8
    assert listed(first) + listed(second) == [f"Person {n}" for n in range(6)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("person 5", ["Person 5"]),
        ("ACTUARY", ["Person 5"]),  # job title, any case
        ("claims op", ["Person 1", "Person 3", "Person 5", "Person 7"]),  # department
        ("pricing", ["Aaron Sponsor", "Person 0", "Person 2", "Person 4", "Person 6"]),
        ("gone", []),  # left: not on the list
        ("nobody", []),
    ],
)
def test_the_list_search_matches_name_job_title_and_department(
    steward_client, big_kc, monkeypatch, q, expected
):
    monkeypatch.setattr(community_views, "MANAGE_PAGE_SIZE", 50)

    response = steward_client.get(manage_url(big_kc), {"q": q})

    names = listed(response)
    assert names == expected or names == [*expected, "Stella Steward"]  # a steward too
    assert response.context["roster_page"].count == len(names)


# -- the requests waiting: page links of their own --------------------------------------


def test_the_requests_waiting_page_with_their_own_parameter(steward_client, big_kc):
    for n in range(4):
        MembershipFactory(
            member=member_named(f"Rita Requester {n}"), community=big_kc, state=State.REQUESTED
        )

    first = steward_client.get(manage_url(big_kc))
    waiting = [entry.member.display_name for entry in first.context["waiting_page"]]
    nav = re.search(r'<nav aria-label="Request pages".*?</nav>', first.content.decode(), re.S)

    assert first.context["waiting_page"].paginator.count == 4
    assert len(waiting) == 3
    assert 'href="?requests_page=2"' in nav.group(0)
    second = steward_client.get(manage_url(big_kc), {"requests_page": 2})
    assert [e.member.display_name for e in second.context["waiting_page"]] == [
        name for name in (f"Rita Requester {n}" for n in range(4)) if name not in waiting
    ]
    assert listed(second) == listed(first)  # the list stays where it was


# -- the people directory: a capped count ----------------------------------------------


@pytest.fixture
def seven_people(db):
    return [member_named(f"Pat Person {n}") for n in range(7)]


def test_people_count_stops_at_the_cap_and_says_so(
    client, staff, seven_people, monkeypatch, settings
):
    monkeypatch.setattr(people_views, "PEOPLE_COUNT_CAP", 5)
    settings.PAGE_SIZE = 2
    client.force_login(staff)

    response = client.get(reverse("members:member_list"), {"q": "pat person"})
    text = re.sub(r"\s+", " ", html.unescape(response.content.decode()))

    paginator = response.context["page_obj"].paginator
    assert paginator.capped
    assert paginator.num_pages == 3  # the pages up to the cap
    assert "Showing 1–2 of more than 5" in text
    assert "Search, or choose a department, to narrow the list." in text
    last = client.get(reverse("members:member_list"), {"q": "pat person", "page": 9})
    assert last.context["page_obj"].number == 3
    assert [str(p) for p in last.context["page_obj"]] == ["Pat Person 4", "Pat Person 5"]


def test_people_count_under_the_cap_is_exact(client, staff, seven_people, monkeypatch, settings):
    monkeypatch.setattr(people_views, "PEOPLE_COUNT_CAP", 7)
    settings.PAGE_SIZE = 2
    client.force_login(staff)

    response = client.get(reverse("members:member_list"), {"q": "pat person", "page": 4})
    text = re.sub(r"\s+", " ", html.unescape(response.content.decode()))

    assert not response.context["page_obj"].paginator.capped
    assert "Showing 7–7 of 7" in text
    assert "to narrow the list" not in text


def test_people_filter_fields_show_help_and_errors_like_crispy(client, staff):
    client.force_login(staff)

    response = client.get(reverse("members:member_list"), {"department": "no-such-place"})
    page = response.content.decode()

    assert response.status_code == 200
    assert '<label for="id_q" class="form-label">Search</label>' in page
    assert 'aria-describedby="id_q_helptext"' in page
    assert '<div id="id_q_helptext" class="form-text">' in page
    assert re.search(
        r'<select name="department" class="select form-select is-invalid" aria-invalid="true" '
        r'aria-describedby="id_department_error" id="id_department">',
        page,
    )
    assert '<div id="id_department_error" class="invalid-feedback">' in page
    assert [str(p) for p in response.context["page_obj"]] == ["Sam Staff"]  # filter ignored


# -- rows and fields, drawn by the tags' templates -------------------------------------

NASTY = '<b onclick="x()">Bo</b> & "Co"'


def draw(source: str, **context) -> str:
    return Template(source).render(Context(context))


def test_rows_escape_what_people_typed(client, big_kc, directory_admin):
    nasty = member_named(NASTY, username="nasty", job_title=NASTY)
    MembershipFactory(member=nasty, community=big_kc, state=State.REQUESTED, note=NASTY)
    MembershipFactory(member=nasty, community=Community.objects.create(name=NASTY, slug="n"))
    MembershipEvent.objects.create(
        community=big_kc,
        target=nasty,
        target_name=NASTY,
        actor_name=NASTY,
        action="joined",
        note=NASTY,
    )
    client.force_login(directory_admin)

    pages = [
        client.get(manage_url(big_kc)),
        client.get(manage_url(big_kc), {"q": "bo"}),
        client.get(reverse("communities:community_history", args=[big_kc.slug])),
        client.get(reverse("members:member_history", args=["nasty"])),
        client.get(reverse("members:member_list"), {"q": "bo"}),
    ]

    for response in pages:
        page = response.content.decode()
        assert response.status_code == 200
        assert "<b onclick" not in page
        # Django's templates write a quote as &quot;, Jinja2's (the rows) as &#34;.
        escaped = page.replace("&#34;", "&quot;")
        assert "&lt;b onclick=&quot;x()&quot;&gt;Bo&lt;/b&gt; &amp; &quot;Co&quot;" in escaped


def test_history_dates_read_as_the_date_filter_writes_them(settings):
    settings.TIME_ZONE = "Europe/Paris"
    when = datetime(2026, 3, 29, 0, 59, 7, 123456, tzinfo=UTC)
    event = MembershipEvent(
        created_at=when, target_name="Mo", action="joined", state_after=State.ACTIVE
    )
    expected = Template('<time datetime="{{ d|date:\'c\' }}">{{ d|date:"j M Y H:i" }}</time>')

    with timezone.override("Europe/Paris"):
        drawn = draw("{% load kcdir_rows %}{% event_rows events %}", events=[event])
        # To the second: HTML's datetime takes at most three digits of a fraction.
        reference = expected.render(Context({"d": when.replace(microsecond=0)}))

    assert reference in drawn
    assert "29 Mar 2026 01:59" in drawn


def test_waiting_times_read_as_timesince_writes_them(big_kc):
    now = timezone.now()
    for days in (0, 3, 45, 400, 800):
        membership = MembershipFactory(
            member=member_named(f"Wendy Waiting {days}"), community=big_kc, state=State.REQUESTED
        )
        Membership.objects.filter(pk=membership.pk).update(
            updated_at=now - timedelta(days=days, hours=5, minutes=days)
        )
    entries = list(
        big_kc.memberships.filter(state=State.REQUESTED)
        .order_by("updated_at")
        .values(*manage_rows.WAITING_COLUMNS)
    )
    entries = [manage_rows.waiting_entry(row) for row in entries]

    drawn = html.unescape(draw("{% load kcdir_rows %}{% waiting_rows entries %}", entries=entries))

    for entry in entries:
        waited = timesince(entry.updated_at)
        assert f'<td class="small text-nowrap" data-label="Waiting">{waited}</td>' in drawn


@pytest.mark.parametrize("username", ["plain", "a+b@c.d", "zoë.ångström", "x-y_z.1"])
def test_links_are_the_urls_reverse_makes(username):
    make = kcdir_rows.url_maker("members:member_detail")

    assert make(username) == reverse("members:member_detail", args=[username])
    role = kcdir_rows.url_maker("communities:membership_role", "some-kc", numeric=True)
    assert role(42) == reverse("communities:membership_role", args=["some-kc", 42])


def controls(markup: str) -> list[tuple[str, frozenset]]:
    """The form controls, labels, options and messages in ``markup``, each as its tag
    and its set of attributes (order, white space and how a character is escaped
    aside), with its text."""
    found = []
    for tag, attrs, text in re.findall(
        r"<(input|select|option|label|div|p)\b([^>]*)>([^<]*)", markup
    ):
        pairs = frozenset(
            (name, html.unescape(value))
            for name, value in re.findall(r'([\w-]+)(?:="([^"]*)")?', attrs)
        )
        found.append((tag, pairs, html.unescape(text.strip())))
    return found


def roster_form(data):
    return RosterFilterForm(data)


def history_form(data):
    return HistoryFilterForm(data)


def people_form(data):
    return PeopleFilterForm(data, departments=[(1, "claims", "Claims & Co"), (2, "it", "IT")])


@pytest.mark.parametrize(
    ("make", "data", "field"),
    [
        (roster_form, {}, "q"),
        (roster_form, {"q": 'a "quoted" <term>'}, "q"),
        (roster_form, {}, "role"),
        (roster_form, {"role": "steward"}, "role"),
        (roster_form, {"role": "bogus"}, "role"),
        (roster_form, {"state": "left"}, "state"),
        (history_form, {"action": "joined"}, "action"),
        (people_form, {"q": "okafor"}, "q"),  # with help text
        (people_form, {"department": "claims"}, "department"),
        (people_form, {"department": "nowhere"}, "department"),
    ],
)
def test_filter_fields_are_drawn_as_crispy_forms_draws_them(make, data, field):
    form = make(data)
    form.is_valid()
    crispy = Template("{% load crispy_forms_tags %}{{ field|as_crispy_field }}")

    ours = draw("{% load kcdir_tags %}{% filter_field field %}", field=form[field])
    theirs = crispy.render(Context({"field": form[field]}))

    assert controls(ours) == controls(theirs)


def test_a_directory_page_number_beyond_any_list_shows_the_last_page(client, staff):
    led_kc(name="Only Circle", slug="only-circle")
    client.force_login(staff)

    for page in ("99999999999999999999", "0", "-3", "x"):
        response = client.get("/", {"page": page})
        assert [c.name for c in response.context["page_obj"]] == ["Only Circle"], page
        assert response.context["page_obj"].number == 1
