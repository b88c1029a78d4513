"""The directory admins' dashboard: what needs attention, read from the page itself.

Each section is found by its heading id (``aria-labelledby``) and read as text, so
the tests prove what an admin sees, not just what the view computed.
"""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from communities import services
from communities.models import Community, Membership, MembershipEvent, Purpose

from .factories import (
    CommunityFactory,
    MemberFactory,
    MembershipFactory,
    PurposeFactory,
    led_kc,
    member_named,
)
from .pages import section_html, section_text, visible_text

pytestmark = pytest.mark.django_db

State = Membership.State
Role = Membership.Role
DASHBOARD = reverse("communities:dashboard")


# -- reading the page ---------------------------------------------------------------------


def badge_count(response, heading_id: str) -> int:
    """The number in a section heading's badge."""
    heading = re.search(r"<h2[^>]*>(.*?)</h2>", section_html(response, heading_id), re.S).group(1)
    return int(re.search(r'<span class="badge[^"]*">(\d+)</span>', heading).group(1))


def counts(response, heading_id: str) -> dict[str, int]:
    """A "By kind/status/stage" card as {label: number}."""
    pairs = re.findall(
        r"<dt[^>]*>(.*?)</dt><dd[^>]*>(\d+)</dd>", section_html(response, heading_id), re.S
    )
    return {visible_text(label): int(n) for label, n in pairs}


def waiting_rows(response) -> list[tuple[str, str, str]]:
    """(person, community, who can act) for each waiting request, in page order."""
    body = section_html(response, "waiting-heading")
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [visible_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells:
            rows.append((cells[0], cells[1], cells[3]))
    return rows


def incomplete_items(response) -> dict[str, list[str]]:
    """{community name: its flags} for the "missing something" list."""
    items = {}
    for item in re.findall(
        r"<li[^>]*>(.*?)</li>", section_html(response, "incomplete-heading"), re.S
    ):
        name = visible_text(re.search(r"<a [^>]*>(.*?)</a>", item, re.S).group(1))
        items[name] = [
            visible_text(flag)
            for flag in re.findall(r'<span class="badge text-bg-danger">(.*?)</span>', item)
        ]
    return items


def linked_names(response, heading_id: str) -> list[str]:
    return [
        visible_text(name)
        for name in re.findall(r"<a [^>]*>(.*?)</a>", section_html(response, heading_id), re.S)
    ]


def stale_items(response) -> list[str]:
    body = section_html(response, "stale-heading")
    return [
        visible_text(re.search(r"<span>(.*?)</span>", item, re.S).group(1))
        for item in re.findall(r"<li[^>]*>(.*?)</li>", body, re.S)
    ]


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def set_updated_at(membership, when):
    Membership.objects.filter(pk=membership.pk).update(updated_at=when)


def event_in(community, when):
    return MembershipEvent.objects.create(
        community=community,
        target_name="Someone",
        action=MembershipEvent.Action.JOINED,
        created_at=when,
    )


# -- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "staff", "outsider", "steward", "directory_admin"])
def test_dashboard_is_for_directory_admins_only(client, request, open_kc, who):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    response = client.get(DASHBOARD)

    if who == "anonymous":
        assert response.status_code == 302
        target = urlsplit(response.url)
        assert target.path == reverse("login")
        assert parse_qs(target.query)["next"] == [DASHBOARD]
    elif who == "directory_admin":
        assert response.status_code == 200
        assert "Directory dashboard" in response.content.decode()
    else:
        assert response.status_code == 403


# -- what needs attention -------------------------------------------------------------------


def test_waiting_requests_are_listed_oldest_first_with_the_stewards_who_can_act(
    client, directory_admin, open_kc, request_kc
):
    MembershipFactory(community=request_kc, member=member_named("Ada Second"), role=Role.STEWARD)
    leaderless = CommunityFactory(name="Leaderless Lab", slug="leaderless")
    archived = CommunityFactory(name="Old Archive", status=Community.Status.ARCHIVED)
    for name, community, days in [
        ("Newt Newest", request_kc, 0),
        ("Rhea Oldest", request_kc, 10),
        ("Walter Middle", open_kc, 3),
        ("Lou Leaderless", leaderless, 5),
        ("Ari Archived", archived, 20),
    ]:
        waiting = MembershipFactory(
            community=community, member=member_named(name), state=State.REQUESTED
        )
        set_updated_at(waiting, ago(days=days, minutes=1))
    MembershipFactory(community=open_kc, member=member_named("Ivy Invited"), state=State.INVITED)
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    assert waiting_rows(response) == [
        ("Rhea Oldest", "Climate Risk Pricing", "Ada Second, Rex Steward"),
        ("Lou Leaderless", "Leaderless Lab", "No steward: directory admins"),
        ("Walter Middle", "Claims Turnaround", "Stella Steward"),
        ("Newt Newest", "Climate Risk Pricing", "Ada Second, Rex Steward"),
    ]
    assert badge_count(response, "waiting-heading") == 4
    manage_link = reverse("communities:community_manage", args=[request_kc.slug])
    assert f'href="{manage_link}"' in section_html(response, "waiting-heading")


def test_no_waiting_requests_says_so(client, directory_admin, open_kc):
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    assert waiting_rows(response) == []
    assert "No requests are waiting." in section_text(response, "waiting-heading")


def test_knowledge_communities_missing_a_sponsor_steward_or_future_purpose_are_flagged(
    client, directory_admin, open_kc, request_kc, cop
):
    future = PurposeFactory(orientation=Purpose.Orientation.SHAPE_FUTURE)
    practice = PurposeFactory(orientation=Purpose.Orientation.SPREAD_PRACTICE)

    no_sponsor = CommunityFactory(name="No Sponsor KC", purposes=[future])
    MembershipFactory(community=no_sponsor, member=MemberFactory(), role=Role.STEWARD)
    former = MembershipFactory(community=no_sponsor, member=MemberFactory(), role=Role.SPONSOR)
    former.state = State.LEFT  # a sponsor who left does not count
    former.save()

    no_steward = CommunityFactory(name="No Steward KC", purposes=[future])
    MembershipFactory(community=no_steward, member=MemberFactory(), role=Role.SPONSOR)
    MembershipFactory(
        community=no_steward, member=MemberFactory(), role=Role.STEWARD, state=State.INVITED
    )

    led_kc(
        name="Practice Only KC",
        purposes=[practice],
    )
    CommunityFactory(name="Bare KC")
    CommunityFactory(name="Bare Proposal", status=Community.Status.PROPOSED)
    CommunityFactory(name="Bare Dormant", status=Community.Status.DORMANT)
    CommunityFactory(name="Bare CoP", kind=Community.Kind.COP)
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    assert incomplete_items(response) == {
        "Bare KC": ["no sponsor", "no steward", "no future-shaping purpose"],
        "No Sponsor KC": ["no sponsor"],
        "No Steward KC": ["no steward"],
        "Practice Only KC": ["no future-shaping purpose"],
    }
    assert badge_count(response, "incomplete-heading") == 4


def test_communities_with_no_events_in_ninety_days_are_listed_as_quiet(
    client, directory_admin, open_kc
):
    old = ago(days=200)
    quiet = CommunityFactory(name="Quiet Circle", kind=Community.Kind.COP, created_at=old)
    event_in(quiet, ago(days=91))
    silent = CommunityFactory(name="Silent KC", created_at=old)
    busy = CommunityFactory(name="Busy KC", created_at=old)
    event_in(busy, ago(days=89))
    CommunityFactory(name="Brand New", created_at=ago(days=10))
    CommunityFactory(name="Old Archive", created_at=old, status=Community.Status.ARCHIVED)
    CommunityFactory(name="Old Proposal", created_at=old, status=Community.Status.PROPOSED)
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    assert linked_names(response, "quiet-heading") == ["Quiet Circle", "Silent KC"]
    assert badge_count(response, "quiet-heading") == 2
    body = section_text(response, "quiet-heading")
    assert "No activity in 90 days" in body
    assert "Community of practice" in body and "Knowledge community" in body

    event_in(silent, ago(minutes=5))
    assert linked_names(client.get(DASHBOARD), "quiet-heading") == ["Quiet Circle"]


def test_invitations_unanswered_for_thirty_days_are_listed(client, directory_admin, open_kc):
    archived = CommunityFactory(name="Old Archive", status=Community.Status.ARCHIVED)
    for name, community, state, days in [
        ("Ivy Stale", open_kc, State.INVITED, 31),
        ("Ian Fresh", open_kc, State.INVITED, 29),
        ("Ann Archived", archived, State.INVITED, 60),
        ("Rob Requested", open_kc, State.REQUESTED, 60),
    ]:
        membership = MembershipFactory(community=community, member=member_named(name), state=state)
        set_updated_at(membership, ago(days=days))
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    assert stale_items(response) == ["Ivy Stale → Claims Turnaround"]
    assert badge_count(response, "stale-heading") == 1
    assert "Invitations unanswered for 30 days" in section_text(response, "stale-heading")


def action_links(response, heading_id: str) -> list[tuple[str, str, str]]:
    """(text, aria-label, href) of each button-like link in a section: where each row
    is acted on."""
    return [
        (visible_text(text), html.unescape(label), html.unescape(href))
        for href, label, text in re.findall(
            r'<a class="btn[^"]*" href="([^"]*)" aria-label="([^"]*)">(.*?)</a>',
            section_html(response, heading_id),
            re.S,
        )
    ]


def test_each_waiting_request_links_to_its_row_where_it_is_decided(
    client, directory_admin, open_kc, request_kc
):
    rhea = MembershipFactory(
        community=request_kc, member=member_named("Rhea O'Neil"), state=State.REQUESTED
    )
    walter = MembershipFactory(
        community=open_kc, member=member_named("Walter Middle"), state=State.REQUESTED
    )
    set_updated_at(rhea, ago(days=5))
    client.force_login(directory_admin)

    links = action_links(client.get(DASHBOARD), "waiting-heading")

    assert [(text, label) for text, label, _href in links] == [
        ("Decide", "Decide on the request from Rhea O'Neil to join Climate Risk Pricing"),
        ("Decide", "Decide on the request from Walter Middle to join Claims Turnaround"),
    ]
    for (_text, _label, href), membership in zip(links, [rhea, walter], strict=True):
        target = urlsplit(href)
        manage = reverse("communities:community_manage", args=[membership.community.slug])
        assert (target.path, target.fragment) == (manage, f"membership-{membership.pk}")
        assert parse_qs(target.query) == {
            "state": ["requested"],
            "q": [membership.member.display_name],
        }
        page = client.get(f"{target.path}?{target.query}")
        row = re.search(
            rf'<tr id="membership-{membership.pk}">(.*?)</tr>', page.content.decode(), re.S
        )
        name, cells = membership.member.display_name, html.unescape(row.group(1))
        assert f'aria-label="Approve the request from {name}"' in cells
        assert f'aria-label="Deny the request from {name}"' in cells


def test_each_stale_invitation_links_to_its_row_where_it_is_resent_or_withdrawn(
    client, directory_admin, open_kc
):
    ivy = MembershipFactory(
        community=open_kc, member=member_named("Ivy Stale"), state=State.INVITED
    )
    set_updated_at(ivy, ago(days=31))
    client.force_login(directory_admin)

    links = action_links(client.get(DASHBOARD), "stale-heading")

    assert [(text, label) for text, label, _href in links] == [
        (
            "Resend or withdraw",
            "Resend or withdraw the invitation to Ivy Stale to join Claims Turnaround",
        )
    ]
    target = urlsplit(links[0][2])
    assert target.fragment == f"membership-{ivy.pk}"
    assert parse_qs(target.query) == {"state": ["invited"], "q": ["Ivy Stale"]}
    page = client.get(f"{target.path}?{target.query}").content.decode()
    row = re.search(rf'<tr id="membership-{ivy.pk}">(.*?)</tr>', page, re.S).group(1)
    assert 'aria-label="Resend invitation to Ivy Stale"' in row
    assert 'aria-label="Withdraw invitation to Ivy Stale"' in row


def test_a_resent_invitation_is_no_longer_stale(client, directory_admin, open_kc, steward):
    ivy = MembershipFactory(
        community=open_kc, member=member_named("Ivy Stale"), state=State.INVITED
    )
    Membership.objects.filter(pk=ivy.pk).update(decided_at=ago(days=40), updated_at=ago(days=40))
    client.force_login(directory_admin)
    assert stale_items(client.get(DASHBOARD)) == ["Ivy Stale → Claims Turnaround"]

    services.resend_invitation(community=open_kc, membership=ivy, actor=steward.member)

    assert stale_items(client.get(DASHBOARD)) == []


def test_counts_by_kind_status_and_stage_follow_the_data(
    client, directory_admin, open_kc, request_kc, cop
):
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    assert counts(response, "kind-counts") == {
        "Community of practice": 1,
        "Knowledge community": 2,
    }
    assert counts(response, "status-counts") == {
        "Proposed": 0,
        "Active": 3,
        "Dormant": 0,
        "Archived": 0,
    }
    assert counts(response, "stage-counts") == {
        "Sharing": 0,
        "Cooperation": 2,
        "Community": 1,
        "Common good": 0,
    }

    CommunityFactory(
        kind=Community.Kind.COP, status=Community.Status.DORMANT, stage=Community.Stage.SHARING
    )
    CommunityFactory(status=Community.Status.PROPOSED, stage=Community.Stage.COMMON_GOOD)
    Community.objects.filter(pk=cop.pk).update(status=Community.Status.ARCHIVED)

    response = client.get(DASHBOARD)

    assert counts(response, "kind-counts") == {
        "Community of practice": 2,
        "Knowledge community": 3,
    }
    assert counts(response, "status-counts") == {
        "Proposed": 1,
        "Active": 2,
        "Dormant": 1,
        "Archived": 1,
    }
    assert counts(response, "stage-counts") == {
        "Sharing": 1,
        "Cooperation": 2,
        "Community": 1,
        "Common good": 1,
    }


def test_lists_show_the_oldest_fifty_and_count_them_all(client, directory_admin):
    community = CommunityFactory(name="Crowded KC")
    for n in range(55):
        waiting = MembershipFactory(community=community, state=State.REQUESTED)
        set_updated_at(waiting, ago(days=100 - n))
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    rows = waiting_rows(response)
    assert len(rows) == 50
    assert badge_count(response, "waiting-heading") == 55
    assert "The oldest 50 are shown." in section_text(response, "waiting-heading")
    oldest = Membership.objects.filter(state=State.REQUESTED).order_by("updated_at").first()
    assert rows[0][0] == oldest.member.display_name


# -- query budget ---------------------------------------------------------------------------

# Measured at 5 (the same at 60) on SQLite and PostgreSQL: session, user, the admin's
# two permission reads and the navbar's counts, then the dashboard's own reads (each
# list and its count, the steward prefetch, the three tallies; memberships kept past their
# end date and overdue reviews, each a list and its count, and the open reviews' count).
DASHBOARD_QUERY_BUDGET = 25


def _needs_attention(size: int):
    """``size`` KCs, each old and quiet, lacking a future-shaping purpose, with one
    waiting request and one stale invitation: every list on the page has ``size`` rows."""
    practice = PurposeFactory(orientation=Purpose.Orientation.SPREAD_PRACTICE)
    for n in range(size):
        community = led_kc(
            name=f"Needy {n:03d}",
            created_at=ago(days=365),
            purposes=[practice],
        )
        MembershipFactory(community=community, role=Role.STEWARD)
        set_updated_at(
            MembershipFactory(community=community, state=State.REQUESTED), ago(days=n + 1)
        )
        set_updated_at(
            MembershipFactory(community=community, state=State.INVITED), ago(days=40 + n)
        )


@pytest.mark.parametrize("size", [5, 60])
def test_dashboard_stays_within_its_query_budget(
    client, directory_admin, django_assert_max_num_queries, size
):
    _needs_attention(size)
    client.force_login(directory_admin)

    with django_assert_max_num_queries(DASHBOARD_QUERY_BUDGET):
        response = client.get(DASHBOARD)

    shown = min(size, 50)
    assert len(waiting_rows(response)) == shown
    assert all(who.count(",") == 1 for _person, _community, who in waiting_rows(response))
    assert len(incomplete_items(response)) == shown
    assert len(linked_names(response, "quiet-heading")) == shown
    assert len(stale_items(response)) == shown
    for heading in ["waiting-heading", "incomplete-heading", "quiet-heading", "stale-heading"]:
        assert badge_count(response, heading) == size
