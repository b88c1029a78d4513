"""History pages filter by action, person and date range, for each role that may see
them, and keep the filters from page to page."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from communities.models import MembershipEvent

from .factories import member_named
from .pages import page_text

Action = MembershipEvent.Action


def _at(day: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(day + " 12:00"))


@pytest.fixture
def events(open_kc, steward):
    """Four events in open_kc: Ada joins on 1 March, Bea requests on 10 March, Stella
    removes Ada on 20 March, Bea joins on 31 March."""
    MembershipEvent.objects.all().delete()
    ada = member_named("Ada Lovelace", username="ada")
    bea = member_named("Bea Garcia", username="bea")
    stella = steward.member
    for target, actor, action, day in [
        (ada, ada, Action.JOINED, "2026-03-01"),
        (bea, bea, Action.REQUESTED, "2026-03-10"),
        (ada, stella, Action.REMOVED, "2026-03-20"),
        (bea, bea, Action.JOINED, "2026-03-31"),
    ]:
        MembershipEvent.objects.create(
            community=open_kc,
            target=target,
            target_name=target.display_name,
            actor=actor,
            actor_name=actor.display_name,
            action=action,
            note=f"{target.display_name} {action} {day}",
            created_at=_at(day),
        )
    return open_kc


def history_url(community) -> str:
    return reverse("communities:community_history", args=[community.slug])


def notes(response) -> list[str]:
    return [event.note for event in response.context["page_obj"]]


@pytest.mark.parametrize("who", ["steward", "directory_admin"])
def test_those_who_see_history_can_filter_by_person(client, events, who, request):
    client.force_login(request.getfixturevalue(who))

    response = client.get(history_url(events), {"person": "ada"})

    assert notes(response) == [
        "Ada Lovelace removed 2026-03-20",
        "Ada Lovelace joined 2026-03-01",
    ]


def test_the_person_filter_matches_who_acted_too(client, events, steward):
    client.force_login(steward)

    response = client.get(history_url(events), {"person": "Stella"})

    assert notes(response) == ["Ada Lovelace removed 2026-03-20"]


def test_a_date_range_includes_both_days(client, events, steward):
    client.force_login(steward)

    response = client.get(history_url(events), {"from": "2026-03-10", "to": "2026-03-20"})

    assert notes(response) == [
        "Ada Lovelace removed 2026-03-20",
        "Bea Garcia requested 2026-03-10",
    ]


def test_filters_combine_with_the_action(client, events, steward):
    client.force_login(steward)

    response = client.get(
        history_url(events), {"action": "joined", "person": "bea", "from": "2026-03-05"}
    )

    assert notes(response) == ["Bea Garcia joined 2026-03-31"]
    text = page_text(response)
    assert 'value="bea"' in response.content.decode()
    assert "Ada Lovelace" not in text


def test_a_bad_date_is_a_form_error_not_a_failure(client, events, steward):
    client.force_login(steward)

    response = client.get(history_url(events), {"from": "31/02/2026"})

    assert response.status_code == 200
    assert "Enter a date, such as 2026-03-31." in page_text(response)
    assert len(notes(response)) == 4  # the bad filter is left out


def test_an_end_before_the_start_is_explained(client, events, steward):
    client.force_login(steward)

    response = client.get(history_url(events), {"from": "2026-03-20", "to": "2026-03-01"})

    assert "The end date comes before the start date." in page_text(response)


@pytest.mark.parametrize("who", ["staff", "outsider"])
def test_people_who_may_not_see_history_are_refused_with_filters_too(client, events, who, request):
    client.force_login(request.getfixturevalue(who))

    response = client.get(history_url(events), {"person": "ada", "from": "2026-03-01"})

    assert response.status_code == 403
    assert "Ada Lovelace" not in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client, events):
    response = client.get(history_url(events), {"person": "ada"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_pages_keep_the_filters(client, open_kc, steward):
    MembershipEvent.objects.all().delete()
    start = timezone.now() - timedelta(days=2)
    MembershipEvent.objects.bulk_create(
        MembershipEvent(
            community=open_kc,
            target_name="Ada Lovelace",
            action=Action.JOINED,
            created_at=start + timedelta(minutes=n),
        )
        for n in range(60)
    )
    client.force_login(steward)

    response = client.get(history_url(open_kc), {"person": "ada", "action": "joined"})

    html = response.content.decode()
    assert "?person=ada&amp;action=joined&amp;page=2" in html


@pytest.mark.parametrize("who", ["self", "directory_admin"])
def test_a_persons_history_filters_by_person_and_dates(client, events, who, directory_admin):
    ada = events.events.filter(target_name="Ada Lovelace").first().target
    client.force_login(ada.user if who == "self" else directory_admin)

    response = client.get(
        reverse("members:member_history", args=["ada"]),
        {"person": "Stella", "from": "2026-03-15", "to": "2026-03-25"},
    )

    assert notes(response) == ["Ada Lovelace removed 2026-03-20"]


def test_filtering_stays_within_the_history_query_budget(
    client, events, steward, django_assert_max_num_queries
):
    client.force_login(steward)
    client.get(history_url(events))  # warm the session

    with django_assert_max_num_queries(6):  # tests/test_membership_query_budgets.py
        response = client.get(
            history_url(events),
            {"action": "joined", "person": "a", "from": "2026-03-01", "to": "2026-03-31"},
        )
    assert response.status_code == 200
