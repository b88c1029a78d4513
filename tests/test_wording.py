"""Counts and times read as people write them: singular and plural, "just now"."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from communities import insights
from communities.models import Membership

from .factories import person_in
from .pages import page_text

DIRECTORY = reverse("communities:community_list")


def render(text: str, **context) -> str:
    """The template's output, with ``timesince``'s no-break spaces as plain spaces."""
    return Template("{% load kcdir_wording %}" + text).render(Context(context)).replace("\xa0", " ")


@pytest.mark.parametrize(
    ("age", "words"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=5), "5 minutes ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=3), "3 days ago"),
    ],
)
def test_ago_says_just_now_then_singular_and_plural(age, words):
    assert render("{{ when|ago }}", when=timezone.now() - age) == words


def test_waited_says_just_now_then_the_time():
    now = timezone.now()
    assert render("{{ when|waited }}", when=now) == "just now"
    assert render("{{ when|waited }}", when=now - timedelta(days=2)) == "2 days"
    assert render("{{ when|waited }}", when=None) == ""


def test_one_match_is_singular_and_many_plural(client, staff, open_kc, request_kc):
    client.force_login(staff)

    one = page_text(client.get(DIRECTORY, {"q": "Claims"}))
    many = page_text(client.get(DIRECTORY, {"q": "C"}))

    assert "1 community matches your search." in one
    assert "communities match your search." in many
    assert "1 community match your" not in one


def test_a_request_sent_a_moment_ago_says_just_now(client, request_kc):
    person = person_in(request_kc, Membership.State.REQUESTED)
    client.force_login(person.user)

    text = page_text(client.get(request_kc.get_absolute_url()))

    assert "Your request is waiting for a steward (sent just now)." in text
    assert "0 minutes" not in text


def test_an_older_request_says_how_long_ago(client, request_kc):
    person = person_in(request_kc, Membership.State.REQUESTED)
    Membership.objects.filter(member=person).update(
        updated_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    client.force_login(person.user)

    text = page_text(client.get(request_kc.get_absolute_url()))

    assert "(sent 1 day ago)." in text


def test_my_communities_says_invited_just_now(client, invite_kc):
    person = person_in(invite_kc, Membership.State.INVITED)
    client.force_login(person.user)

    text = page_text(client.get(reverse("members:my_communities")))

    assert "invited just now" in text
    assert "0 minutes" not in text


def test_a_request_waiting_on_the_manage_page_says_just_now(client, other_steward, request_kc):
    person_in(request_kc, Membership.State.REQUESTED)
    client.force_login(other_steward)

    text = page_text(client.get(reverse("communities:community_manage", args=[request_kc.slug])))

    assert "just now" in text
    assert "0 minutes" not in text


def test_one_pursued_purpose_is_named_in_the_singular(open_kc):
    summary = str(insights.most_pursued_purposes().summary)

    assert summary == (
        "The purpose the most communities pursue: Cut claim turnaround to two days (1)."
    )
