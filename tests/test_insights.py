"""The knowledge map, connectors, the expertise finder, suggestions and the insights
charts: who may see them, that their numbers come from the data, and that their
query counts do not grow with it."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from communities import insights, overlaps, selectors
from communities.models import Community, Membership, MembershipEvent

from .factories import (
    CommunityFactory,
    DepartmentFactory,
    MemberFactory,
    MembershipFactory,
    PurposeFactory,
    member_named,
)
from .pages import page_html

pytestmark = pytest.mark.django_db

PAGES = ["knowledge_map", "connectors", "expertise", "insights"]


def url(name: str, *args) -> str:
    return reverse(f"communities:{name}", args=args)


def csv_table(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def chart(response, slug):
    return next(chart for chart, _drawing in response.context["charts"] if chart.slug == slug)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The map's links are cached: each test starts without them."""
    cache.clear()


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


def kc(name, **kwargs):
    return CommunityFactory(name=name, slug=name.lower().replace(" ", "-"), **kwargs)


def cop(name, **kwargs):
    return kc(name, kind=Community.Kind.COP, **kwargs)


def join(community, *people, **kwargs):
    for person in people:
        MembershipFactory(community=community, member=person, **kwargs)


@pytest.fixture
def network():
    """Three communities. Claims and Fraud share three people, Fraud and SQL one,
    Claims and SQL none; a fourth, archived, shares everyone and must not count."""
    claims_dept = DepartmentFactory(name="Claims Operations", slug="claims-operations")
    data_dept = DepartmentFactory(name="Data", slug="data")
    ana = member_named("Ana Analyst", department=claims_dept, expertise="fraud detection")
    ben = member_named("Ben Builder", department=claims_dept, expertise="python, sql")
    cleo = member_named("Cleo Coder", department=data_dept, expertise="sql tuning")
    dev = member_named("Dev Data", department=data_dept, expertise="Fraud analytics, sql")
    claims = kc("Claims Turnaround")
    fraud = kc("Fraud Before Payout")
    sql = cop("SQL Clinic")
    archived = kc("Old Reporting", status=Community.Status.ARCHIVED)
    join(claims, ana, ben, cleo)
    join(fraud, ana, ben, cleo, dev)
    join(sql, dev)
    join(sql, ben, role=Membership.Role.PARTICIPANT, state=Membership.State.LEFT)
    join(archived, ana, ben, cleo, dev)
    return {
        "claims": claims,
        "fraud": fraud,
        "sql": sql,
        "people": {p.display_name.split()[0].lower(): p for p in (ana, ben, cleo, dev)},
        "claims_dept": claims_dept,
    }


def link_rows(response) -> list[tuple[str, str, int]]:
    return [
        (link.source.name, link.target.name, link.shared) for link in response.context["strongest"]
    ]


# Every page: anonymous is sent to sign in; staff see it; GET only ------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client, name):
    response = client.get(url(name))

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url(name)}"


def test_anonymous_visitor_cannot_download_a_chart(client):
    response = client.get(url("insights_csv", "purposes"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


EXPECTED = {
    "knowledge_map": ['<h1 class="h2">Knowledge map</h1>', "Strongest links", "Claims Turnaround"],
    "connectors": ['<h1 class="h2">Connectors</h1>', "Ana Analyst", "Fraud Before Payout"],
    "expertise": ['<h1 class="h2">Find expertise</h1>', 'name="q"', "Department"],
    "insights": ['<h1 class="h2">Insights</h1>', "Communities by kind and stage", "<table"],
}


@pytest.mark.parametrize("name", PAGES)
def test_staff_see_each_insights_page(signed_in, network, name):
    response = signed_in.get(url(name))

    assert response.status_code == 200
    for expected in EXPECTED[name]:
        assert expected in page_html(response)
    assert "css/insights.css" in page_html(response)


@pytest.mark.parametrize("name", PAGES)
def test_insights_pages_refuse_post(signed_in, name):
    assert signed_in.post(url(name)).status_code == 405


@pytest.mark.parametrize("name", PAGES)
def test_empty_directory_gets_a_helpful_empty_state(signed_in, name):
    response = signed_in.get(url(name))

    assert response.status_code == 200
    assert "empty-state" in page_html(response)


# The knowledge map -----------------------------------------------------------------


def test_map_links_communities_by_the_active_people_they_share(signed_in, network):
    response = signed_in.get(url("knowledge_map"))

    assert link_rows(response) == [
        ("Claims Turnaround", "Fraud Before Payout", 3),
        ("Fraud Before Payout", "SQL Clinic", 1),
    ]
    names = {node.name for node in response.context["graph"].nodes}
    assert names == {"Claims Turnaround", "Fraud Before Payout", "SQL Clinic"}


def test_map_numbers_follow_the_data(signed_in, network):
    assert link_rows(signed_in.get(url("knowledge_map")))[0][2] == 3  # now cached

    join(network["claims"], network["people"]["dev"])  # a fourth shared person
    join(network["sql"], network["people"]["ana"], state=Membership.State.REQUESTED)

    rows = link_rows(signed_in.get(url("knowledge_map")))

    assert rows[0] == ("Claims Turnaround", "Fraud Before Payout", 4)
    assert ("Claims Turnaround", "SQL Clinic", 1) in rows


def test_map_draws_every_community_as_a_link_with_a_title(signed_in, network):
    page = page_html(signed_in.get(url("knowledge_map")))

    start = page.index('<svg class="knowledge-map"')
    svg = page[start : page.index("</svg>", start)]
    for community in (network["claims"], network["fraud"], network["sql"]):
        assert f'<a href="{community.get_absolute_url()}"' in svg
        assert f"<title>{community.name} (" in svg
    assert "<rect" in svg and "<circle" in svg  # squares for KCs, circles for CoPs
    assert "(square)" in page and "(circle)" in page
    assert "Old Reporting" not in page


def test_map_kind_filter_keeps_links_between_communities_of_that_kind(signed_in, network):
    response = signed_in.get(url("knowledge_map"), {"kind": "kc"})

    assert link_rows(response) == [("Claims Turnaround", "Fraud Before Payout", 3)]
    assert "SQL Clinic" not in page_html(response)


def test_map_department_filter_counts_only_its_people(signed_in, network):
    response = signed_in.get(url("knowledge_map"), {"department": "claims-operations"})

    assert link_rows(response) == [("Claims Turnaround", "Fraud Before Payout", 2)]
    assert "Counting only people from Claims Operations" in page_html(response)


def test_map_ignores_unknown_filter_values(signed_in, network):
    response = signed_in.get(url("knowledge_map"), {"kind": "nope", "department": "nowhere"})

    assert len(link_rows(response)) == 2


def test_map_with_filters_that_match_nothing_says_so(signed_in, network):
    DepartmentFactory(name="Finance", slug="finance")

    response = signed_in.get(url("knowledge_map"), {"department": "finance"})

    assert "No two communities share anyone with these filters." in page_html(response)


def test_map_draws_only_the_strongest_links_and_says_so(signed_in, network, monkeypatch):
    monkeypatch.setattr(insights, "MAP_LINK_LIMIT", 1)

    response = signed_in.get(url("knowledge_map"))

    assert link_rows(response) == [("Claims Turnaround", "Fraud Before Payout", 3)]
    assert response.context["graph"].truncated
    assert "Only the 1 strongest links and their communities are drawn." in page_html(response)
    assert "SQL Clinic" not in page_html(response)


def test_shared_people_are_counted_in_one_query(network, django_assert_num_queries):
    with django_assert_num_queries(1):
        pairs = insights.shared_people_pairs(limit=10)

    claims, fraud, sql = network["claims"], network["fraud"], network["sql"]
    assert pairs == [(claims.pk, fraud.pk, 3), (fraud.pk, sql.pk, 1)]


# Connectors ------------------------------------------------------------------------


def test_connectors_are_people_in_the_most_communities_most_first(signed_in, network):
    response = signed_in.get(url("connectors"))

    people = response.context["people"]
    # Ana, Ben, Cleo: Claims and Fraud (archived and left do not count); Dev: Fraud, SQL.
    assert [(p.display_name, p.community_count) for p in people] == [
        ("Ana Analyst", 2),
        ("Ben Builder", 2),
        ("Cleo Coder", 2),
        ("Dev Data", 2),
    ]
    assert [m.community.name for m in people[3].live_memberships] == [
        "Fraud Before Payout",
        "SQL Clinic",
    ]


def test_connectors_order_follows_the_data(signed_in, network):
    join(network["sql"], network["people"]["cleo"])

    people = signed_in.get(url("connectors")).context["people"]

    assert (people[0].display_name, people[0].community_count) == ("Cleo Coder", 3)


def test_connectors_leave_out_people_in_one_community_and_former_staff(signed_in, network):
    loner = member_named("Lone Ranger")
    join(network["sql"], loner)
    gone = network["people"]["ana"].user
    gone.is_active = False
    gone.save()

    names = [p.display_name for p in signed_in.get(url("connectors")).context["people"]]

    assert "Lone Ranger" not in names
    assert "Ana Analyst" not in names


def test_connectors_department_filter_narrows(signed_in, network):
    response = signed_in.get(url("connectors"), {"department": "claims-operations"})

    assert [p.display_name for p in response.context["people"]] == ["Ana Analyst", "Ben Builder"]


def test_connected_communities_share_the_most_people_and_exclude_your_own(network):
    dev = network["people"]["dev"]  # in Fraud and SQL

    connected = selectors.connected_communities(dev)

    # Claims shares Ana, Ben and Cleo with Fraud; the archived community is left out.
    assert [(c.name, c.shared) for c in connected] == [("Claims Turnaround", 3)]


def test_connected_communities_is_one_query(network, django_assert_num_queries):
    with django_assert_num_queries(1):
        selectors.connected_communities(network["people"]["ana"])


# Expertise finder ------------------------------------------------------------------


def test_expertise_search_finds_people_and_where_they_take_part(signed_in, network):
    response = signed_in.get(url("expertise"), {"q": "fraud"})

    people = list(response.context["page_obj"])
    assert [p.display_name for p in people] == ["Ana Analyst", "Dev Data"]
    assert [m.community.name for m in people[1].live_memberships] == [
        "Fraud Before Payout",
        "SQL Clinic",
    ]
    assert '<mark class="badge expertise-chip expertise-match">Fraud analytics</mark>' in page_html(
        response
    )


def test_expertise_search_needs_every_word(signed_in, network):
    response = signed_in.get(url("expertise"), {"q": "fraud sql"})

    assert [p.display_name for p in response.context["page_obj"]] == ["Dev Data"]


def test_expertise_department_filter_narrows(signed_in, network):
    response = signed_in.get(url("expertise"), {"q": "sql", "department": "claims-operations"})

    assert [p.display_name for p in response.context["page_obj"]] == ["Ben Builder"]


def test_expertise_search_without_match_says_so(signed_in, network):
    response = signed_in.get(url("expertise"), {"q": "underwater basket weaving"})

    assert "No one lists “underwater basket weaving” yet." in page_html(response)


def test_expertise_results_are_paginated(signed_in, settings):
    settings.PAGE_SIZE = 2
    for n in range(5):
        MemberFactory(display_name=f"Expert {n}", expertise="actuarial models")

    response = signed_in.get(url("expertise"), {"q": "actuarial", "page": 3})

    assert [p.display_name for p in response.context["page_obj"]] == ["Expert 4"]


# Suggestions -----------------------------------------------------------------------


@pytest.fixture
def newcomer(network):
    """Eve, from Claims Operations, in SQL Clinic, knows fraud detection."""
    eve = member_named(
        "Eve Newcomer", department=network["claims_dept"], expertise="fraud detection, mentoring"
    )
    join(network["sql"], eve)
    return eve


def test_suggestions_come_with_reasons(network, newcomer):
    shared = PurposeFactory(statement="Keep our SQL fast and correct")
    network["sql"].purposes.add(shared)
    network["claims"].purposes.add(shared)

    suggestions = dict(insights.suggest_communities(newcomer))

    assert suggestions[network["fraud"]] == "Matches your expertise: fraud detection"
    assert (
        suggestions[network["claims"]] == "Pursues “Keep our SQL fast and correct” like SQL Clinic"
    )


def test_department_suggestion_says_how_many_colleagues_belong(network, newcomer):
    suggestions = dict(insights.suggest_communities(newcomer))

    # Ana and Ben, from Claims Operations, belong to Claims Turnaround.
    assert suggestions[network["claims"]] == "2 people from Claims Operations belong"


def test_suggestions_leave_out_communities_already_joined_or_archived(network, newcomer):
    join(network["fraud"], newcomer, state=Membership.State.REQUESTED)

    suggested = [community for community, _reason in insights.suggest_communities(newcomer)]

    assert network["sql"] not in suggested  # already in
    assert network["fraud"] not in suggested  # already asked
    assert all(c.status == Community.Status.ACTIVE for c in suggested)
    assert "Old Reporting" not in [c.name for c in suggested]


def test_suggestions_are_bounded(network, newcomer, django_assert_max_num_queries):
    newcomer.refresh_from_db()  # as request.member comes: no department cached

    with django_assert_max_num_queries(6):
        suggestions = insights.suggest_communities(newcomer, limit=1)

    assert len(suggestions) == 1


def test_person_with_nothing_to_go_on_gets_no_suggestions(db):
    loner = MemberFactory(department=None, expertise="")

    assert insights.suggest_communities(loner) == []


# Insights charts -------------------------------------------------------------------


def test_kind_and_stage_counts_follow_the_data(signed_in, network):
    before = chart(signed_in.get(url("insights")), "kinds-and-stages")
    assert before.rows[0] == ["Sharing", 2, 1]  # Claims, Fraud; SQL (archived not counted)

    cop("Writers Room", stage=Community.Stage.COMMUNITY)

    after = chart(signed_in.get(url("insights")), "kinds-and-stages")
    assert after.rows[2] == ["Community", 0, 1]


def test_membership_growth_counts_new_active_memberships_by_month(signed_in, network):
    growth = chart(signed_in.get(url("insights")), "membership-growth")
    this_month = growth.rows[-1][1]
    assert len(growth.rows) == 24
    assert this_month == 12  # active memberships in listed communities (archived too)

    join(network["sql"], network["people"]["ana"])
    long_ago = timezone.now() - timedelta(days=800)
    join(network["sql"], network["people"]["cleo"], created_at=long_ago, active_since=long_ago)

    growth = chart(signed_in.get(url("insights")), "membership-growth")
    assert growth.rows[-1][1] == this_month + 1


def request_and_decision(community, person, *, days, decision="approved", cancelled=False):
    now = timezone.now()
    events = [("requested", now - timedelta(days=days))]
    if cancelled:
        events.append(("cancelled", now - timedelta(days=days - 0.5)))
    events.append((decision, now))
    for action, when in events:
        MembershipEvent.objects.create(
            community=community,
            target=person,
            target_name=person.display_name,
            action=action,
            created_at=when,
        )


def test_decision_time_is_the_median_from_request_to_decision(signed_in, network):
    people = network["people"]
    request_and_decision(network["claims"], people["dev"], days=2)
    request_and_decision(network["fraud"], people["dev"], days=4, decision="denied")
    request_and_decision(network["sql"], people["ana"], days=9)
    # A request withdrawn before the approval is not a decided request.
    request_and_decision(network["sql"], people["cleo"], days=30, cancelled=True)

    decisions = chart(signed_in.get(url("insights")), "decision-time")

    assert decisions.rows[-1][1:] == [4.0, 3]
    assert "Overall: median 4.0 days over 3 decisions." in decisions.notes
    assert "Knowledge communities: median 3.0 days over 2 decisions." in decisions.notes


def test_decision_time_without_decisions_is_an_empty_state(signed_in, network):
    decisions = chart(signed_in.get(url("insights")), "decision-time")

    assert decisions.is_empty
    assert "Once stewards approve or deny join requests" in page_html(
        signed_in.get(url("insights"))
    )


def test_formalising_a_cop_shows_in_its_quarter(signed_in, network):
    assert chart(signed_in.get(url("insights")), "formalised").rows[-1][1] == 0

    network["claims"].formed_from = network["sql"]
    network["claims"].created_at = timezone.now()
    network["claims"].save()

    response = signed_in.get(url("insights"))
    assert chart(response, "formalised").rows[-1][1] == 1
    assert "from SQL Clinic" in page_html(response)


def test_most_pursued_purposes_count_listed_communities(signed_in, network):
    popular = PurposeFactory(statement="Detect fraud before the payout")
    for community in (network["claims"], network["fraud"], network["sql"]):
        community.purposes.add(popular)
    kc("Secret Plans", status=Community.Status.PROPOSED).purposes.add(popular)

    purposes = chart(signed_in.get(url("insights")), "purposes")

    assert purposes.rows[0] == ["Detect fraud before the payout", 3]


def test_every_chart_is_an_image_with_a_summary_and_a_table(signed_in, network):
    request_and_decision(network["claims"], network["people"]["dev"], days=2)
    network["claims"].formed_from = network["sql"]
    network["claims"].save()
    network["claims"].purposes.add(PurposeFactory())

    page = page_html(signed_in.get(url("insights")))

    assert page.count('role="img" aria-label="') == len(insights.CHARTS)
    assert page.count("<table") == len(insights.CHARTS)
    for slug in insights.CHARTS:
        assert url("insights_csv", slug) in page


# CSV -------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(insights.CHARTS))
def test_each_csv_holds_its_charts_numbers(signed_in, network, slug):
    shown = chart(signed_in.get(url("insights")), slug)

    response = signed_in.get(url("insights_csv", slug))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="kcdir-{slug}.csv"' in response["Content-Disposition"]
    header, *rows = csv_table(response)
    assert header == shown.header
    assert rows == [[str(cell) for cell in row] for row in shown.rows]


def test_csv_neutralises_formula_cells(signed_in, network):
    network["claims"].purposes.add(PurposeFactory(statement='=HYPERLINK("http://evil")'))

    rows = csv_table(signed_in.get(url("insights_csv", "purposes")))

    assert ['\'=HYPERLINK("http://evil")', "1"] in rows


def test_unknown_chart_is_not_found(signed_in):
    assert signed_in.get(url("insights_csv", "secrets")).status_code == 404


# Query budgets: the same for 5 and 60 communities ----------------------------------

# Measured on SQLite and PostgreSQL. Three of each are every page's own (the user,
# the admin check and the navbar's count of waiting requests); the rest: map =
# links' cache key, links, communities, departments; connectors = people, their
# memberships, departments; expertise = count, page, memberships, departments;
# insights = five charts and the recent formalisations.
QUERY_BUDGETS = {"knowledge_map": 7, "connectors": 6, "expertise": 7, "insights": 9}


def build_network(size: int):
    """``size`` communities, KCs and CoPs, each sharing people with the next two,
    with a formalised KC, requests decided, and everyone knowing "forecasting"."""
    departments = DepartmentFactory.create_batch(3)
    people = [
        MemberFactory(department=departments[i % 3], expertise="forecasting, sql")
        for i in range(size + 2)
    ]
    viewer = member_named("Sam Staff", username="staff", department=departments[0])
    purpose = PurposeFactory()
    communities = []
    memberships = []
    events = []
    now = timezone.now()
    long_ago = now - timedelta(days=40)
    for index in range(size):
        kind = Community.Kind.KC if index % 2 else Community.Kind.COP
        community = CommunityFactory(
            kind=kind,
            formed_from=communities[-1] if index % 10 == 9 else None,
            purposes=[purpose],
        )
        communities.append(community)
        for person in people[index : index + 3]:
            memberships.append(Membership(member=person, community=community, active_since=now))
            events += [
                MembershipEvent(
                    community=community,
                    target=person,
                    target_name="x",
                    action=action,
                    created_at=long_ago + timedelta(days=day),
                )
                for action, day in (("requested", 0), ("approved", index % 7 + 1))
            ]
    memberships.append(Membership(member=viewer, community=communities[0], active_since=now))
    Membership.objects.bulk_create(memberships)
    overlaps.rebuild()  # loaded without the services, as a bulk load would be
    MembershipEvent.objects.bulk_create(events)
    return viewer.user


BUDGET_URLS = {
    "knowledge_map": ("knowledge_map", {}),
    "connectors": ("connectors", {}),
    "expertise": ("expertise", {"q": "forecasting"}),
    "insights": ("insights", {}),
}


@pytest.mark.parametrize("size", [5, 60])
@pytest.mark.parametrize("page", list(QUERY_BUDGETS))
def test_insights_page_stays_within_its_query_budget(
    client, django_assert_max_num_queries, page, size
):
    client.force_login(build_network(size))
    name, params = BUDGET_URLS[page]

    with django_assert_max_num_queries(QUERY_BUDGETS[page]):
        response = client.get(url(name), params)

    assert response.status_code == 200
    # The page really drew the data it was measured on.
    assert SHOWN[page](response.context) == EXPECTED_SHOWN[page](size)


def growth_total(context):
    found = next(c for c, _drawing in context["charts"] if c.slug == "membership-growth")
    return sum(row[1] for row in found.rows)


SHOWN = {
    "knowledge_map": lambda ctx: len(ctx["graph"].links),
    "connectors": lambda ctx: len(ctx["people"]),
    "expertise": lambda ctx: ctx["page_obj"].paginator.count,
    "insights": growth_total,
}
EXPECTED_SHOWN = {
    "knowledge_map": lambda size: 2 * size - 3,  # each community with the next two
    "connectors": lambda size: min(size, insights.CONNECTOR_LIMIT),
    "expertise": lambda size: size + 2,  # everyone but the viewer
    "insights": lambda size: 3 * size + 1,  # every membership began this month
}


# The knowledge map: clusters and focus ---------------------------------------------


def svg_of(response) -> str:
    page = page_html(response)
    start = page.index('<svg class="knowledge-map"')
    return page[start : page.index("</svg>", start)]


def drawn_names(response) -> set[str]:
    return {node.community.name for node in response.context["drawing"].nodes}


@pytest.fixture
def wider_network(network):
    """The network, plus Pricing Guild sharing two people with SQL Clinic only, a
    proposal and an archived community sharing everyone with Fraud Before Payout."""
    people = network["people"]
    pricing = cop("Pricing Guild")
    join(pricing, people["dev"], people["cleo"])
    join(network["sql"], people["cleo"])
    proposal = kc("Secret Proposal", status=Community.Status.PROPOSED)
    join(proposal, *people.values())
    return {**network, "pricing": pricing, "proposal": proposal}


def test_map_groups_communities_into_lettered_clusters_listed_under_it(signed_in, network):
    response = signed_in.get(url("knowledge_map"))

    clusters = response.context["drawing"].clusters
    assert [c.letter for c in clusters] == [chr(ord("A") + i) for i in range(len(clusters))]
    listed = [c.name for cluster in clusters for c in cluster.communities]
    assert sorted(listed) == ["Claims Turnaround", "Fraud Before Payout", "SQL Clinic"]
    page = page_html(response)
    assert '<h2 id="clusters-heading" class="h5 mt-4">Clusters</h2>' in page
    for cluster in clusters:
        assert f"<strong>{cluster.letter}</strong> · {cluster.name}" in page
        assert f"Cluster {cluster.letter}: {cluster.name}" in svg_of(response)
    assert "Mark size: active members." in page


@pytest.mark.parametrize("who", ["staff", "directory_admin"])
def test_focus_on_a_community_draws_it_its_neighbours_and_their_links(
    client, request, wider_network, who
):
    client.force_login(request.getfixturevalue(who))

    response = client.get(url("knowledge_map"), {"community": "sql-clinic"})

    assert response.context["focus"] == wider_network["sql"]
    assert drawn_names(response) == {
        "SQL Clinic",
        "Pricing Guild",
        "Fraud Before Payout",
        "Claims Turnaround",
    }
    # Links among the neighbours too, not only to the focus.
    assert sorted(link_rows(response)) == sorted(
        [
            ("Claims Turnaround", "Fraud Before Payout", 3),
            ("Fraud Before Payout", "SQL Clinic", 2),
            ("Claims Turnaround", "SQL Clinic", 1),
            ("SQL Clinic", "Pricing Guild", 2),
            ("Fraud Before Payout", "Pricing Guild", 2),
            ("Claims Turnaround", "Pricing Guild", 1),
        ]
    )
    svg = svg_of(response)
    assert 'class="map-node kind-cop is-focus"' in svg
    assert svg.count("is-focus") == 2  # the mark and its label
    assert "SQL Clinic (Community of practice, 2 members, cluster" in svg
    page = page_html(response)
    assert "In focus: SQL Clinic" in page
    assert '<option value="sql-clinic" selected>SQL Clinic</option>' in page
    assert "Secret Proposal" not in page


def test_focus_on_a_community_keeps_the_kind_and_department_filters(signed_in, wider_network):
    response = signed_in.get(
        url("knowledge_map"), {"community": "fraud-before-payout", "kind": "kc"}
    )

    assert link_rows(response) == [("Claims Turnaround", "Fraud Before Payout", 3)]

    response = signed_in.get(
        url("knowledge_map"),
        {"community": "fraud-before-payout", "department": "claims-operations"},
    )

    assert link_rows(response) == [("Claims Turnaround", "Fraud Before Payout", 2)]
    # The list's focus links keep the filters.
    assert "?department=claims-operations&amp;community=claims-turnaround" in page_html(response)


def test_focus_on_a_community_that_shares_no_one_says_so(signed_in, wider_network):
    response = signed_in.get(url("knowledge_map"), {"community": "pricing-guild", "kind": "kc"})

    assert response.status_code == 200
    assert response.context["graph"].links == []
    assert "Pricing Guild shares no one with another community with these filters." in page_html(
        response
    )


@pytest.mark.parametrize("who", ["staff", "directory_admin"])
@pytest.mark.parametrize(
    "wanted", ["nowhere", "secret-proposal", "old-reporting", "<script>x</script>", "%00"]
)
def test_unknown_hidden_or_bad_focus_shows_the_whole_map_and_says_why(
    client, request, wider_network, who, wanted
):
    """A proposal and an archived community are never on the map: focusing one reads
    exactly like focusing a community that does not exist, even for an admin."""
    client.force_login(request.getfixturevalue(who))

    response = client.get(url("knowledge_map"), {"community": wanted})

    assert response.status_code == 200
    assert response.context["focus"] is None
    assert "Fraud Before Payout" in drawn_names(response)  # the whole map
    page = page_html(response)
    assert "on the map, so the whole map is shown." in page
    assert "<script>x" not in page
    assert "Secret Proposal" not in page and "Old Reporting" not in page


def test_unknown_department_shows_everyone_and_says_why(signed_in, network):
    response = signed_in.get(url("knowledge_map"), {"department": "nowhere"})

    assert len(link_rows(response)) == 2
    assert "There is no department “nowhere”, so people from every department are counted." in (
        page_html(response)
    )


@pytest.mark.parametrize("who", ["staff", "directory_admin"])
def test_focus_on_a_department_counts_only_its_people(client, request, wider_network, who):
    client.force_login(request.getfixturevalue(who))

    response = client.get(url("knowledge_map"), {"department": "claims-operations"})

    assert link_rows(response) == [("Claims Turnaround", "Fraud Before Payout", 2)]
    assert drawn_names(response) == {"Claims Turnaround", "Fraud Before Payout"}
    assert "Secret Proposal" not in page_html(response)


def test_anonymous_visitor_focusing_is_sent_to_sign_in(client, network):
    response = client.get(url("knowledge_map"), {"community": "sql-clinic"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("size", [5, 60])
def test_focused_map_stays_within_its_query_budget(client, django_assert_max_num_queries, size):
    client.force_login(build_network(size))
    focus = Community.objects.order_by("pk")[size // 2]

    # The map's 7 less the whole map's links (2), plus the focus, its neighbours and
    # the links among them.
    with django_assert_max_num_queries(8):
        response = client.get(url("knowledge_map"), {"community": focus.slug})

    assert response.context["focus"] == focus
    # Each community shares people with the two before and the two after it.
    assert len(response.context["graph"].nodes) == 5


def test_focus_map_keeps_the_closest_communities_in_three_queries(
    wider_network, django_assert_num_queries
):
    with django_assert_num_queries(3):
        focused = insights.focus_map(wider_network["sql"], limit=2)

    assert focused.more_neighbours and focused.truncated
    # Fraud Before Payout and Pricing Guild share two people with it; Claims one.
    assert {c.name for c in focused.nodes} == {"SQL Clinic", "Fraud Before Payout", "Pricing Guild"}
    assert [(link.source.name, link.target.name, link.shared) for link in focused.links] == [
        ("Fraud Before Payout", "SQL Clinic", 2),
        ("Fraud Before Payout", "Pricing Guild", 2),
        ("SQL Clinic", "Pricing Guild", 2),
    ]


def test_focus_draws_every_link_of_the_focus_and_the_strongest_others(
    signed_in, wider_network, monkeypatch
):
    monkeypatch.setattr(insights, "FOCUS_OTHER_LINK_LIMIT", 1)

    response = signed_in.get(url("knowledge_map"), {"community": "sql-clinic"})

    rows = link_rows(response)
    assert [row for row in rows if "SQL Clinic" not in row[:2]] == [
        ("Claims Turnaround", "Fraud Before Payout", 3)
    ]
    assert len(rows) == 4  # its three links and the strongest other
    assert "Only the strongest links among them are drawn." in page_html(response)


def test_a_shortened_name_on_the_map_keeps_the_full_name_as_its_tooltip(signed_in, network):
    long_name = "Claims Turnaround and Settlement Excellence Working Group"
    Community.objects.filter(pk=network["claims"].pk).update(name=long_name)

    response = signed_in.get(url("knowledge_map"))

    [node] = [n for n in response.context["drawing"].nodes if n.community.name == long_name]
    assert node.abbreviated and node.label.endswith("…")
    assert f"<title>{long_name}</title>{node.label}</text>" in svg_of(response)
    assert f">{long_name}</a>" in page_html(response)  # listed in full under the map
