"""Security promises, each tried from the outside through the test client.

IDOR (another community's rows through this community's URL), mass assignment,
personal data, sign-in throttling (django-axes), the password-reset rate limit,
error pages with DEBUG off, security headers and HTTPS, /healthz and
``check --deploy``.

This module is also a URLconf (``pytest.mark.urls(__name__)``): the project's URLs plus
two test-only views, one that raises (for the 500 page) and one that uses the CSP nonce.
"""

import logging
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpResponse
from django.template import engines
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone

from communities import services
from communities.models import Community, Membership, RosterImport
from kcdir import urls as project_urls
from members.models import Member

from .factories import PASSWORD, CommunityFactory, MembershipFactory, member_named
from .pages import page_html
from .test_authz_matrix import MATRIX, db_snapshot, path_for

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
LOGIN = reverse("login")
RESET = reverse("password_reset")


# -- a test-only URLconf ----------------------------------------------------------------


@login_not_required
def _boom(request):
    raise RuntimeError("secret-internal-detail: the database password is hunter2")


@login_not_required
def _inline_script(request):
    template = engines["django"].from_string(
        '<!doctype html><script nonce="{{ request.csp_nonce }}">document.title = "x";</script>'
    )
    return HttpResponse(template.render({}, request))


urlpatterns = [
    path("test-only/boom/", _boom),
    path("test-only/inline-script/", _inline_script),
    *project_urls.urlpatterns,
]
handler403 = project_urls.handler403


# -- helpers --------------------------------------------------------------------------


def signed_in(client, user):
    client.force_login(user)
    return client


def foreign_world(world):
    """World plus, in the OTHER community: a waiting request and a pending roster import."""
    other = world.other
    world.other_pending = MembershipFactory(
        member=member_named("Quinn Quester", username="quinn"), community=other, state="requested"
    )
    world.other_sponsor_membership = other.memberships.get(role="sponsor")
    world.other_import = services.preview_roster_import(
        community=other,
        actor=world.users["steward_other"].member,
        file_name="other.csv",
        text="username,role\nada,member\n",
        remove_absent=False,
    )
    return world


# -- IDOR: B's rows through A's URL ---------------------------------------------------------


@pytest.mark.parametrize("role", ["steward", "directory_admin", "superuser"])
@pytest.mark.parametrize(
    "name, method, data",
    [
        ("communities:membership_role", "post", {"role": "member"}),
        ("communities:membership_remove", "get", {}),
        ("communities:membership_remove", "post", {"note": "gone"}),
    ],
)
def test_another_communitys_membership_through_this_communitys_url_is_404(
    client, world, role, name, method, data
):
    foreign_world(world)
    signed_in(client, world.users[role])
    path_ = reverse(name, args=[world.target_slug, world.other_sponsor_membership.pk])
    before = db_snapshot()

    response = getattr(client, method)(path_, data)

    assert response.status_code == 404
    assert db_snapshot() == before


@pytest.mark.parametrize("role", ["steward", "directory_admin"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_communitys_roster_import_through_this_communitys_url_is_404(
    client, world, role, method
):
    foreign_world(world)
    signed_in(client, world.users[role])
    before = db_snapshot()

    response = getattr(client, method)(
        reverse(
            "communities:roster_import_preview", args=[world.target_slug, world.other_import.pk]
        )
    )

    assert response.status_code == 404
    assert db_snapshot() == before
    assert RosterImport.objects.get(pk=world.other_import.pk).applied_at is None


def test_deciding_own_and_foreign_requests_together_changes_neither(client, world):
    foreign_world(world)
    signed_in(client, world.users["steward"])
    before = db_snapshot()

    response = client.post(
        reverse("communities:requests_decide", args=[world.target_slug]),
        {"decision": "approve", "memberships": [world.pending.pk, world.other_pending.pk]},
    )

    assert response.status_code == 302
    assert db_snapshot() == before


def test_the_steward_of_b_cannot_use_as_url_to_reach_bs_rows(client, world):
    """The other community's own steward, through the target's URL: refused at the door."""
    foreign_world(world)
    signed_in(client, world.users["steward_other"])
    before = db_snapshot()

    response = client.post(
        reverse("communities:membership_role", args=[world.target_slug, world.mo_membership_pk]),
        {"role": "steward"},
    )

    assert response.status_code == 403
    assert db_snapshot() == before


@pytest.mark.parametrize("role", ["staff", "outsider", "steward", "steward_other"])
def test_another_persons_history_is_403(client, world, role):
    signed_in(client, world.users[role])

    response = client.get(reverse("members:member_history", args=[world.bea.user.username]))

    assert response.status_code == 403


@pytest.mark.parametrize(
    "name, method",
    [
        ("communities:community_detail", "get"),
        ("communities:membership_join", "post"),
        ("communities:membership_request", "post"),
        ("communities:community_manage", "get"),
        ("communities:roster_export", "get"),
    ],
)
def test_a_proposal_does_not_exist_for_people_who_did_not_propose_it(client, world, name, method):
    signed_in(client, world.users["steward"])
    before = db_snapshot()

    response = getattr(client, method)(reverse(name, args=[world.proposal_slug]))

    assert response.status_code == 404
    assert db_snapshot() == before


# -- mass assignment ------------------------------------------------------------------------

EXTRA_FIELDS = {
    "role": "sponsor",
    "state": "active",
    "status": "active",
    "kind": "kc",
    "stage": "common_good",
    "is_staff": "1",
    "is_superuser": "1",
    "decided_by": "1",
}


def assert_no_privilege_gained(user):
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert not user.groups.exists()


def test_join_ignores_extra_fields(client, world):
    open_kc = CommunityFactory(name="Open Door", slug="open-door", join_policy="open")
    user = world.users["outsider"]
    signed_in(client, user)

    client.post(
        reverse("communities:membership_join", args=[open_kc.slug]),
        {**EXTRA_FIELDS, "community": world.target.pk, "user": world.users["steward"].pk},
    )

    rows = Membership.objects.filter(member__user=user).values_list(
        "community__slug", "state", "role"
    )
    assert list(rows) == [("open-door", "active", "member")]
    assert_no_privilege_gained(user)


def test_request_ignores_extra_fields(client, world):
    user = world.users["outsider"]
    signed_in(client, user)

    client.post(
        reverse("communities:membership_request", args=[world.target_slug]),
        {
            **EXTRA_FIELDS,
            "note": "Please",
            "community": world.other.pk,
            "user": world.users["steward"].pk,
        },
    )

    rows = Membership.objects.filter(member__user=user).values_list(
        "community__slug", "state", "role"
    )
    assert list(rows) == [("claims-turnaround", "requested", "member")]
    assert_no_privilege_gained(user)
    # The stewards' own rows are untouched.
    assert world.target.memberships.get(member__user=world.users["steward"]).role == "steward"


def test_profile_edit_ignores_extra_fields(client, world):
    user = world.users["outsider"]
    other_user = world.users["member"]
    signed_in(client, user)

    response = client.post(
        reverse("members:profile_edit"),
        {
            **EXTRA_FIELDS,
            "display_name": "Olive Renamed",
            "user": other_user.pk,
            "community": world.target.pk,
            "email": "takeover@example.org",
            "username": "root",
        },
    )

    assert response.status_code == 302
    member = Member.objects.select_related("user").get(user=user)
    assert (member.display_name, member.user.username, member.user.email) == (
        "Olive Renamed",
        "olive",
        "olive@example.org",
    )
    assert Member.objects.get(user=other_user).display_name == "Mo Member"
    assert_no_privilege_gained(user)


def test_record_cop_ignores_extra_fields(client, world):
    user = world.users["outsider"]
    signed_in(client, user)

    client.post(
        reverse("communities:cop_record"),
        {
            **EXTRA_FIELDS,
            "name": "Zymurgy Circle",
            "summary": "Brewing, scientifically.",
            "practise_here": "on",
            "community": world.target.pk,
            "user": world.users["steward"].pk,
            "slug": "claims-turnaround",
        },
    )

    cop = Community.objects.get(name="Zymurgy Circle")
    assert (cop.slug, cop.kind, cop.status, cop.stage) == (
        "zymurgy-circle",
        "cop",
        "active",
        "sharing",
    )
    assert list(cop.memberships.values_list("member__user", "state", "role")) == [
        # Its coordinator (recording one makes you that), never a sponsor, and no one else.
        (user.pk, "active", "steward")
    ]
    assert_no_privilege_gained(user)


def test_propose_ignores_extra_fields(client, world):
    user = world.users["outsider"]
    signed_in(client, user)

    client.post(
        reverse("communities:kc_propose"),
        {
            **EXTRA_FIELDS,
            "name": "Glacier Watch",
            "purpose": "Map every glacier by 2030",
            "community": world.target.pk,
            "user": world.users["steward"].pk,
            "proposed_by": world.users["steward"].member.pk,
        },
    )

    proposal = Community.objects.get(name="Glacier Watch")
    assert (proposal.kind, proposal.status, proposal.stage) == ("kc", "proposed", "sharing")
    assert proposal.proposed_by.user == user
    assert not proposal.memberships.exists()
    assert_no_privilege_gained(user)


def test_members_add_ignores_a_role_field(client, world):
    signed_in(client, world.users["steward"])

    client.post(
        reverse("communities:members_add", args=[world.target_slug]),
        {**EXTRA_FIELDS, "pasted": "ada", "mode": "add"},
    )

    assert world.target.memberships.get(member=world.ada).role == "member"


def test_community_create_ignores_kind_status_stage_and_slug_fields(client, world):
    signed_in(client, world.users["directory_admin"])

    client.post(
        reverse("communities:community_create"),
        {
            **EXTRA_FIELDS,
            "kind": "cop",
            "status": "archived",
            "slug": "claims-turnaround",
            "name": "Tidal Forecasting",
            "summary": "Forecasting tides a week ahead.",
            "join_policy": "request",
            "purposes": [world.purpose.pk],
            "sponsor": "ada",
            "stewards": "bea",
            "confirmed": "True",  # past the similar communities
        },
    )

    created = Community.objects.get(name="Tidal Forecasting")
    assert (created.slug, created.kind, created.status, created.stage) == (
        "tidal-forecasting",
        "kc",
        "active",
        "sharing",
    )


# -- personal data ----------------------------------------------------------------------------


def roster_emails(world) -> list[str]:
    return list(
        world.target.memberships.exclude(member__user=world.users["outsider"]).values_list(
            "member__user__email", flat=True
        )
    )


@pytest.mark.parametrize("role", ["steward", "directory_admin", "superuser"])
def test_the_manage_page_shows_stewards_and_admins_the_roster_emails(client, world, role):
    signed_in(client, world.users[role])

    page = page_html(client.get(reverse("communities:community_manage", args=[world.target_slug])))

    assert "mo@example.org" in page
    assert "rhea@example.org" in page


@pytest.mark.parametrize("role", ["staff", "outsider", "member", "steward_other"])
def test_the_manage_page_shows_no_one_else_any_email(client, world, role):
    signed_in(client, world.users[role])

    response = client.get(reverse("communities:community_manage", args=[world.target_slug]))

    assert response.status_code == 403
    assert not any(email in page_html(response) for email in roster_emails(world))


# A person's own profile page shows their work email (a directory's job); every other
# page an ordinary signed-in person can open shows no one's email.
PAGES_WITH_ONE_PERSONS_EMAIL = {"members:member_detail"}


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name, spec in MATRIX.items()
        if spec["methods"]["GET"]["outsider"] == 200 and name not in PAGES_WITH_ONE_PERSONS_EMAIL
    ),
)
def test_pages_open_to_everyone_show_no_roster_emails(client, world, name):
    signed_in(client, world.users["outsider"])

    response = client.get(path_for(name, world), {"q": "e"})

    body = b"".join(response.streaming_content) if response.streaming else response.content
    leaked = [email for email in roster_emails(world) if email.encode() in body]
    assert not leaked


def test_member_detail_shows_that_persons_email_only(client, world):
    signed_in(client, world.users["outsider"])

    page = page_html(client.get(reverse("members:member_detail", args=[world.mo_username])))

    assert "mo@example.org" in page
    assert not [
        email for email in roster_emails(world) if email in page and email != "mo@example.org"
    ]


@pytest.mark.parametrize("role", ["steward", "directory_admin", "superuser"])
def test_roster_export_is_for_the_communitys_stewards_and_admins(client, world, role):
    signed_in(client, world.users[role])

    response = client.get(reverse("communities:roster_export", args=[world.target_slug]))

    assert response.status_code == 200
    assert b"mo@example.org" in b"".join(response.streaming_content)


@pytest.mark.parametrize("role", ["staff", "outsider", "member", "steward_other"])
@pytest.mark.parametrize("include_all", [False, True])
def test_roster_export_is_refused_to_everyone_else(client, world, role, include_all):
    signed_in(client, world.users[role])

    response = client.get(
        reverse("communities:roster_export", args=[world.target_slug]),
        {"all": "1"} if include_all else {},
    )

    assert response.status_code == 403
    assert b"mo@example.org" not in response.content


def test_anonymous_roster_export_is_sent_to_sign_in(client, world):
    response = client.get(reverse("communities:roster_export", args=[world.target_slug]))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


# -- header injection: names go into email subjects --------------------------------------------


def test_a_line_break_in_a_display_name_does_not_silence_the_stewards_email(
    client, world, mailoutbox, django_capture_on_commit_callbacks
):
    signed_in(client, world.users["outsider"])
    client.post(
        reverse("members:profile_edit"),
        {"display_name": "Olive\nBcc: everyone@example.org", "department": ""},
    )

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("communities:membership_request", args=[world.target_slug]))

    assert [message.to for message in mailoutbox] == [["stella@example.org"]]
    assert "\n" not in mailoutbox[0].subject


def test_a_line_break_in_a_proposed_name_does_not_silence_the_proposers_email(
    client, world, mailoutbox, django_capture_on_commit_callbacks
):
    signed_in(client, world.users["outsider"])
    client.post(
        reverse("communities:kc_propose"),
        {"name": "Glacier\nBcc: everyone@example.org", "purpose": "Map every glacier by 2030"},
    )
    proposal = Community.objects.get(status="proposed", proposed_by__user__username="olive")
    signed_in(client, world.users["directory_admin"])

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("communities:proposal_decide", args=[proposal.slug]),
            {"decision": "decline", "reason": "Not now."},
        )

    assert [message.to for message in mailoutbox] == [["olive@example.org"]]


def test_plain_names_do_reach_the_stewards(
    client, world, mailoutbox, django_capture_on_commit_callbacks
):
    """The control for the two tests above: the same path, without the line break."""
    signed_in(client, world.users["outsider"])

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("communities:membership_request", args=[world.target_slug]))

    assert [message.to for message in mailoutbox] == [["stella@example.org"]]


# -- sign-in throttling (django-axes) -----------------------------------------------------------

HOME = "10.0.0.7"
ELSEWHERE = "10.0.0.99"


def sign_in_attempt(client, username, password, address=HOME):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def is_signed_in(client) -> bool:
    return SESSION_KEY in client.session


@pytest.fixture
def locked(client, world):
    """Five wrong passwords for Mo from HOME."""
    responses = [sign_in_attempt(client, "mo", f"wrong-{n}") for n in range(5)]
    return responses


def test_five_wrong_passwords_lock_the_pair_even_against_the_right_password(client, locked):
    assert [r.status_code for r in locked[:4]] == [200] * 4  # the form, with its error
    assert "Too many failed sign-ins" not in page_html(locked[3])

    response = sign_in_attempt(client, "mo", PASSWORD)

    assert response.status_code == 429
    assert "Too many failed sign-ins" in page_html(response)
    assert not is_signed_in(client)


def test_the_fifth_failure_already_shows_the_lockout_page(locked):
    assert locked[4].status_code == 429
    assert "Too many failed sign-ins" in page_html(locked[4])


def test_a_locked_pair_does_not_lock_the_same_username_from_another_address(client, locked):
    response = sign_in_attempt(client, "mo", PASSWORD, address=ELSEWHERE)

    assert response.status_code == 302
    assert is_signed_in(client)
    # ...and signing in elsewhere does not unlock the attacker's pair.
    attacker = Client()
    assert sign_in_attempt(attacker, "mo", PASSWORD).status_code == 429


def test_a_locked_pair_does_not_lock_another_username_from_the_same_address(client, locked):
    response = sign_in_attempt(client, "bea", PASSWORD)

    assert response.status_code == 302
    assert is_signed_in(client)


def test_the_lock_lifts_after_the_cool_off_and_not_before(client, locked):
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert sign_in_attempt(client, "mo", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    response = sign_in_attempt(client, "mo", PASSWORD)

    assert response.status_code == 302
    assert is_signed_in(client)


def test_failed_sign_ins_are_logged_with_username_and_address(client, world, caplog):
    caplog.set_level(logging.INFO, logger="kcdir.security")

    sign_in_attempt(client, "mo", "wrong", address="192.0.2.44")

    records = [r for r in caplog.records if r.name == "kcdir.security"]
    assert [r.levelno for r in records] == [logging.WARNING]
    assert "username=mo" in records[0].getMessage()
    assert "address=192.0.2.44" in records[0].getMessage()
    assert "wrong" not in records[0].getMessage().replace("username=mo", "")  # no password


def test_a_refused_authorisation_is_logged_with_user_and_path(client, world, caplog):
    caplog.set_level(logging.INFO, logger="kcdir.security")
    signed_in(client, world.users["outsider"])
    manage = reverse("communities:community_manage", args=[world.target_slug])

    response = client.get(manage, REMOTE_ADDR="192.0.2.45")

    assert response.status_code == 403
    messages = [r.getMessage() for r in caplog.records if r.name == "kcdir.security"]
    assert len(messages) == 1
    assert "user=olive" in messages[0]
    assert "address=192.0.2.45" in messages[0]
    assert f"GET {manage}" in messages[0]


@pytest.mark.parametrize(
    "next_url", ["https://evil.example.com/", "//evil.example.com/", "/\\evil.example.com/"]
)
def test_sign_in_never_redirects_off_site(client, world, next_url):
    response = client.post(
        LOGIN, {"username": "mo", "password": PASSWORD, "next": next_url}, REMOTE_ADDR=HOME
    )

    assert response.status_code == 302
    assert response.url == reverse("communities:community_list")


def test_signing_in_gives_a_new_session_key(client, world):
    client.get(LOGIN)
    client.session.save()
    before = client.session.session_key

    sign_in_attempt(client, "mo", PASSWORD)

    assert is_signed_in(client)
    assert client.session.session_key != before


# -- password reset: rate limited per address ---------------------------------------------------


def reset_request(client, email, address=HOME):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=address)


def test_password_reset_allows_five_requests_an_hour_per_address(client, world, mailoutbox):
    responses = [reset_request(client, "ada@example.org") for _ in range(5)]

    assert [r.status_code for r in responses] == [302] * 5
    assert len(mailoutbox) == 5


def test_the_sixth_reset_request_re_renders_the_form_and_sends_nothing(
    client, world, mailoutbox, caplog
):
    caplog.set_level(logging.INFO, logger="kcdir.security")
    for _ in range(5):
        reset_request(client, "ada@example.org")
    del mailoutbox[:]

    response = reset_request(client, "ada@example.org")

    assert response.status_code == 429
    assert "Too many password reset requests from your address" in page_html(response)
    assert 'name="email"' in page_html(response)  # the form again, ready for later
    assert mailoutbox == []
    assert any(
        "Rate limited" in r.getMessage() and HOME in r.getMessage()
        for r in caplog.records
        if r.name == "kcdir.security"
    )


def test_unknown_emails_count_towards_the_limit_too(client, world, mailoutbox):
    for n in range(5):
        assert reset_request(client, f"nobody{n}@example.org").status_code == 302

    assert reset_request(client, "ada@example.org").status_code == 429
    assert mailoutbox == []


def test_the_reset_limit_is_per_address(client, world, mailoutbox):
    for _ in range(6):
        reset_request(client, "ada@example.org")
    del mailoutbox[:]

    response = reset_request(client, "ada@example.org", address=ELSEWHERE)

    assert response.status_code == 302
    assert len(mailoutbox) == 1


def test_showing_the_reset_form_does_not_count(client, world):
    for _ in range(10):
        assert client.get(RESET, REMOTE_ADDR=HOME).status_code == 200

    assert reset_request(client, "ada@example.org").status_code == 302


@pytest.fixture
def cache_clock(monkeypatch):
    """Move the cache's clock forward (LocMem reads time.time() for its timeouts)."""
    import time
    from types import SimpleNamespace

    from django.core.cache.backends import base, locmem

    offset = [0.0]
    fake_time = SimpleNamespace(time=lambda: time.time() + offset[0])
    monkeypatch.setattr(base, "time", fake_time)
    monkeypatch.setattr(locmem, "time", fake_time)

    def advance(seconds):
        offset[0] += seconds

    return advance


def test_the_reset_limit_lifts_when_its_hour_ends_and_not_before(
    client, world, mailoutbox, cache_clock
):
    for _ in range(6):
        reset_request(client, "ada@example.org")

    cache_clock(59 * 60)
    assert reset_request(client, "ada@example.org").status_code == 429

    cache_clock(2 * 60)
    del mailoutbox[:]
    response = reset_request(client, "ada@example.org")

    assert response.status_code == 302
    assert len(mailoutbox) == 1


# -- error pages with DEBUG off ---------------------------------------------------------------

TRACEBACK_MARKERS = ("Traceback", "Exception Value", 'File "', "hunter2", "secret-internal-detail")


def assert_generic(response):
    page = page_html(response)
    assert not any(marker in page for marker in TRACEBACK_MARKERS), page[:500]


def test_debug_is_off_in_tests():
    assert django_settings.DEBUG is False


def test_a_bad_host_header_gets_the_project_400_page(client, settings):
    settings.ALLOWED_HOSTS = ["kcdir.example.org"]

    response = client.get("/healthz/", HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert "That request could not be understood" in page_html(response)
    assert_generic(response)


def test_a_refusal_gets_the_project_403_page(client, world):
    signed_in(client, world.users["outsider"])

    response = client.get(reverse("communities:community_manage", args=[world.target_slug]))

    assert response.status_code == 403
    assert "You can't do that here" in page_html(response)
    assert_generic(response)


def test_a_csrf_failure_gets_a_project_styled_403_page(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["outsider"])

    response = client.post(reverse("communities:membership_join", args=[world.target_slug]))

    assert response.status_code == 403
    assert_generic(response)
    assert "kcdir" in page_html(response)


@pytest.mark.parametrize("signed_in_as", [None, "outsider"])
def test_an_unknown_address_gets_the_project_404_page(client, world, signed_in_as):
    if signed_in_as:
        signed_in(client, world.users[signed_in_as])

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "We couldn't find that page" in page_html(response)
    assert_generic(response)


@pytest.mark.urls(__name__)
def test_an_unexpected_error_gets_the_project_500_page_and_is_logged(db, caplog):
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/test-only/boom/")

    assert response.status_code == 500
    assert "Something went wrong" in page_html(response)
    assert_generic(response)
    errors = [
        r for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR
    ]
    assert len(errors) == 1
    assert "/test-only/boom/" in errors[0].getMessage()
    assert errors[0].exc_info[0] is RuntimeError  # the traceback goes to the log, not the page


# -- headers --------------------------------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.status_code} response"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response):
    where = f"status {response.status_code}"
    directives = csp_directives(response)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert "'self'" in script_src, where
    unsafe = {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:", "blob:"}
    assert not unsafe & set(script_src), where
    assert not [s for s in script_src if s not in ("'self'",) and not s.startswith("'nonce-")]
    assert directives["default-src"] == ["'self'"], where
    assert directives["object-src"] == ["'none'"], where
    assert directives["frame-ancestors"] == ["'none'"], where
    assert directives["base-uri"] == ["'self'"], where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("Referrer-Policy") == "same-origin", where
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where


def assert_every_script_is_allowed(response):
    """Inline scripts carry the response's nonce; external ones come from this site."""
    if "html" not in response.get("Content-Type", "") or response.streaming:
        return
    nonces = [
        s[len("'nonce-") : -1]
        for s in csp_directives(response)["script-src"]
        if s.startswith("'nonce-")
    ]
    for tag in re.findall(r"<script\b[^>]*>", page_html(response)):
        src = re.search(r'\ssrc="([^"]*)"', tag)
        if src:
            assert src.group(1).startswith("/") and not src.group(1).startswith("//"), tag
        else:
            nonce = re.search(r'\snonce="([^"]*)"', tag)
            assert nonce and nonce.group(1) in nonces, f"inline script the CSP blocks: {tag}"


@pytest.mark.parametrize("role", ["anonymous", "outsider", "superuser"])
def test_every_page_sends_the_security_headers(client, world, role):
    """Every URL in the matrix, whatever its answer (200, 302, 403, 404, 405)."""
    if world.users[role]:
        signed_in(client, world.users[role])
    statuses = set()
    for name in sorted(MATRIX):
        response = client.get(path_for(name, world))
        statuses.add(response.status_code)
        assert_security_headers(response)
        assert_every_script_is_allowed(response)
    assert (
        statuses
        >= {"anonymous": {200, 302}, "outsider": {200, 403, 405}, "superuser": {200, 405}}[role]
    )


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("path_", ["/test-only/boom/", "/no/such/page/"])
def test_error_pages_send_the_security_headers_too(db, path_):
    response = Client(raise_request_exception=False).get(path_)

    assert response.status_code in (404, 500)
    assert_security_headers(response)


def test_the_bad_host_400_page_sends_the_security_headers_too(client, settings):
    settings.ALLOWED_HOSTS = ["kcdir.example.org"]

    response = client.get("/healthz/", HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert_security_headers(response)


def test_the_csp_config_allows_scripts_by_nonce_never_unsafe_inline():
    from csp.constants import NONCE, SELF

    script_src = django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"]

    assert set(script_src) == {SELF, NONCE}


@pytest.mark.urls(__name__)
def test_a_page_that_needs_an_inline_script_gets_a_fresh_nonce_in_its_header(db):
    client = Client()

    first, second = client.get("/test-only/inline-script/"), client.get("/test-only/inline-script/")

    for response in (first, second):
        nonce = re.search(r'nonce="([^"]+)"', page_html(response)).group(1)
        assert f"'nonce-{nonce}'" in csp_directives(response)["script-src"]
        assert_every_script_is_allowed(response)
    assert csp_directives(first)["script-src"] != csp_directives(second)["script-src"]


@pytest.fixture
def https_on(settings):
    """What KCDIR_HTTPS=1 sets (kcdir/settings.py), applied to the running test."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


@pytest.mark.parametrize("path_", ["/", "/people/", LOGIN, "/c/claims-turnaround/"])
def test_with_https_on_plain_http_is_redirected_to_https(client, world, https_on, path_):
    response = client.get(path_)

    assert response.status_code == 301
    assert response.url == f"https://testserver{path_}"


def test_with_https_on_healthz_answers_over_plain_http(client, world, https_on):
    response = client.get("/healthz/")

    assert response.status_code == 200


def test_with_https_on_pages_send_hsts_and_cookies_are_secure(client, world, https_on):
    response = client.post(LOGIN, {"username": "mo", "password": PASSWORD}, secure=True)

    assert response.status_code == 302
    assert response.url.startswith("/")  # within the site, over https
    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True
    assert response.cookies["sessionid"]["samesite"] == "Lax"
    form = client.get(LOGIN, secure=True)
    assert form.cookies["csrftoken"]["secure"] is True


def run_probe(env: dict, expression: str) -> str:
    code = (
        f"import django; django.setup(); from django.conf import settings as s; print({expression})"
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def run_settings_probe(env: dict) -> str:
    return run_probe(
        env,
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS > 0, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD",
    )


def deploy_env(**overrides) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KCDIR_", "SECURE_", "DJANGO_", "CACHE_", "SESSION_"))
        and key not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kcdir.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50)[:50],
        ALLOWED_HOSTS="kcdir.example.org",
        KCDIR_HTTPS="1",
        REDIS_URL="redis://127.0.0.1:6379/0",  # not connected to by these checks
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def test_kcdir_https_is_the_one_switch_for_every_https_setting():
    assert run_settings_probe(deploy_env()) == "True True True True True True"
    assert run_settings_probe(deploy_env(KCDIR_HTTPS=None)) == "False False False False False False"


# -- /healthz and check --deploy --------------------------------------------------------------


def test_healthz_answers_ok_without_sign_in(client, db):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert page_html(response) == "ok\n"
    assert "no-store" in response["Cache-Control"]


def test_healthz_is_503_when_the_database_fails(client, db, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise DatabaseError("connection refused")

    monkeypatch.setattr("kcdir.views.connection", BrokenConnection())

    response = client.get("/healthz/")

    assert response.status_code == 503
    assert "ok" not in page_html(response)
    assert "refused" not in page_html(response)  # no detail for whoever asks
    assert "no-store" in response["Cache-Control"]


def run_check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings():
    result = run_check_deploy(deploy_env())

    assert result.returncode == 0, result.stdout + result.stderr


SESSIONS_AND_CACHE = (
    "s.SESSION_ENGINE.rsplit('.', 1)[1], s.CACHES['default']['BACKEND'].rsplit('.', 1)[1]"
)


def test_sessions_are_cached_only_in_a_cache_shared_by_every_process():
    """Per-process caches would keep a signed-out session alive in the other processes."""
    assert run_probe(deploy_env(), SESSIONS_AND_CACHE) == "cached_db ForgivingRedisCache"
    assert run_probe(deploy_env(REDIS_URL=None), SESSIONS_AND_CACHE) == "db LocMemCache"


def test_check_deploy_warns_without_a_shared_cache():
    result = run_check_deploy(deploy_env(REDIS_URL=None))

    assert result.returncode != 0
    assert "kcdir.W001" in result.stdout + result.stderr


def test_check_deploy_fails_without_https():
    """The check above can fail: the same settings over plain HTTP do."""
    result = run_check_deploy(deploy_env(KCDIR_HTTPS=None))

    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr
