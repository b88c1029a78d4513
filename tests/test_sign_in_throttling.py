"""Throttling beyond django-axes' username+address rule (``kcdir/throttle.py``).

- The password-change form checks the old password the way sign-in does, so it is no
  unthrottled oracle for someone who holds a signed-in session.
- One address that fails to sign in for many usernames (password spraying) is paused,
  whatever username comes next; a shared office address, where people mistype and
  then get in, never is.
"""

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from .factories import PASSWORD, member_named
from .pages import page_html
from .test_security import deploy_env, run_probe

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
CHANGE = reverse("password_change")
NEW_PASSWORD = "a-much-longer-passphrase-41"

HOME = "10.0.0.7"
OFFICE = "10.20.0.1"
ELSEWHERE = "10.0.0.99"


def sign_in(client, username, password, address=HOME):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def is_signed_in(client) -> bool:
    return SESSION_KEY in client.session


def security_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kcdir.security"]


def age_attempts(minutes: int) -> None:
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=minutes))


# -- the password-change form ----------------------------------------------------------------


@pytest.fixture
def mo(db):
    return member_named("Mo Member", username="mo").user


@pytest.fixture
def mos_session(mo):
    """Someone at a signed-in browser of Mo's (an unattended desk, a stolen cookie)."""
    client = Client()
    client.force_login(mo)
    return client


def change_password(client, old_password, address=HOME):
    return client.post(
        CHANGE,
        {
            "old_password": old_password,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        REMOTE_ADDR=address,
    )


def password_unchanged(user) -> bool:
    user.refresh_from_db()
    return user.check_password(PASSWORD) and not user.check_password(NEW_PASSWORD)


def test_four_wrong_old_passwords_get_the_form_back_with_its_error(mos_session, mo):
    responses = [change_password(mos_session, f"guess-{n}") for n in range(4)]

    assert [r.status_code for r in responses] == [200] * 4
    assert "Your old password was entered incorrectly" in page_html(responses[-1])
    assert password_unchanged(mo)


def test_after_five_wrong_old_passwords_even_the_right_one_is_refused(mos_session, mo):
    for n in range(5):
        change_password(mos_session, f"guess-{n}")

    response = change_password(mos_session, PASSWORD)

    assert response.status_code == 429
    assert "Too many wrong passwords" in page_html(response)
    assert password_unchanged(mo)


def test_a_locked_password_change_does_not_even_check_the_password(mos_session, mo, monkeypatch):
    for n in range(5):
        change_password(mos_session, f"guess-{n}")
    checked = []
    real_check = AbstractBaseUser.check_password
    monkeypatch.setattr(
        AbstractBaseUser,
        "check_password",
        lambda user, raw: checked.append(raw) or real_check(user, raw),
    )

    change_password(mos_session, PASSWORD)

    assert checked == []


def test_the_fifth_wrong_old_password_already_shows_the_pause(mos_session):
    responses = [change_password(mos_session, f"guess-{n}") for n in range(5)]

    assert responses[-1].status_code == 429
    assert "Too many wrong passwords" in page_html(responses[-1])


def test_the_right_old_password_clears_the_count(mos_session, mo):
    for n in range(4):
        change_password(mos_session, f"guess-{n}")
    assert change_password(mos_session, PASSWORD).url == reverse("password_change_done")

    for n in range(4):
        mos_session.post(
            CHANGE,
            {"old_password": f"again-{n}", "new_password1": "x", "new_password2": "x"},
            REMOTE_ADDR=HOME,
        )
    response = mos_session.post(
        CHANGE,
        {
            "old_password": NEW_PASSWORD,
            "new_password1": "yet-another-passphrase-42",
            "new_password2": "yet-another-passphrase-42",
        },
        REMOTE_ADDR=HOME,
    )

    assert response.status_code == 302
    mo.refresh_from_db()
    assert mo.check_password("yet-another-passphrase-42")


def test_the_password_change_pause_lifts_after_the_cool_off_and_not_before(mos_session, mo):
    for n in range(5):
        change_password(mos_session, f"guess-{n}")

    age_attempts(14)
    assert change_password(mos_session, PASSWORD).status_code == 429
    age_attempts(16)
    response = change_password(mos_session, PASSWORD)

    assert response.url == reverse("password_change_done")
    mo.refresh_from_db()
    assert mo.check_password(NEW_PASSWORD)


def test_wrong_old_passwords_count_towards_signing_in_as_that_person_too(mos_session):
    """One budget of guesses per username and address, whichever form they are typed in."""
    for n in range(3):
        change_password(mos_session, f"guess-{n}")
    attacker = Client()
    for n in range(2):
        sign_in(attacker, "mo", f"more-{n}")

    response = sign_in(attacker, "mo", PASSWORD)

    assert response.status_code == 429
    assert not is_signed_in(attacker)


def test_wrong_old_passwords_are_logged_without_the_passwords(mos_session, caplog):
    caplog.set_level(logging.INFO, logger="kcdir.security")

    change_password(mos_session, "guess-secret-1", address="192.0.2.44")

    [message] = security_messages(caplog)
    assert "username=mo" in message
    assert "address=192.0.2.44" in message
    assert CHANGE in message
    assert "guess-secret-1" not in message
    assert NEW_PASSWORD not in message


def test_the_failure_record_keeps_no_typed_password(mos_session):
    change_password(mos_session, "guess-secret-1")

    [attempt] = AccessAttempt.objects.all()
    assert attempt.username == "mo"
    assert "guess-secret-1" not in attempt.post_data
    assert NEW_PASSWORD not in attempt.post_data


# -- one address, many usernames -------------------------------------------------------------


@pytest.fixture
def people(db):
    """Forty people at one office, each with a password of their own."""
    return [member_named(f"Person {n:02d}", username=f"person{n:02d}").user for n in range(40)]


def test_guessing_across_usernames_from_one_address_is_paused(people):
    attacker = Client()
    for n in range(25):
        sign_in(attacker, f"person{n:02d}", "Summer2025!")

    response = sign_in(attacker, "person30", PASSWORD)  # a right password, even

    assert response.status_code == 429
    assert "Too many failed sign-ins from your address" in page_html(response)
    assert not is_signed_in(attacker)


def test_the_pause_starts_at_the_limit_and_not_before(people, settings):
    settings.KCDIR_ADDRESS_FAILURE_LIMIT = 10
    attacker = Client()
    responses = [sign_in(attacker, f"person{n:02d}", "Summer2025!") for n in range(10)]

    assert [r.status_code for r in responses] == [200] * 9 + [429]
    assert sign_in(Client(), "person30", PASSWORD).status_code == 429


def test_a_paused_address_does_not_pause_anyone_elsewhere(people):
    for n in range(25):
        sign_in(Client(), f"person{n:02d}", "Summer2025!")

    colleague = Client()
    response = sign_in(colleague, "person00", PASSWORD, address=ELSEWHERE)

    assert response.status_code == 302
    assert is_signed_in(colleague)


def test_the_address_pause_lifts_after_the_cool_off_and_not_before(people):
    for n in range(25):
        sign_in(Client(), f"person{n:02d}", "Summer2025!")

    age_attempts(14)
    assert sign_in(Client(), "person30", PASSWORD).status_code == 429
    age_attempts(16)
    colleague = Client()

    assert sign_in(colleague, "person30", PASSWORD).status_code == 302
    assert is_signed_in(colleague)


def test_the_address_pause_is_logged_once(people, caplog):
    caplog.set_level(logging.INFO, logger="kcdir.security")
    for n in range(25):
        sign_in(Client(), f"person{n:02d}", "Summer2025!")

    paused = [m for m in security_messages(caplog) if "paused" in m]
    assert len(paused) == 1
    assert f"address={HOME}" in paused[0]


def test_an_office_where_people_mistype_and_then_sign_in_is_never_paused(people):
    """Forty people behind one address; twenty of them mistype once before getting in,
    and a few more mistype twice: the address is never paused."""
    for index, person in enumerate(people):
        browser = Client()
        if index % 2 == 0:
            assert sign_in(browser, person.username, "typo", address=OFFICE).status_code == 200
        if index % 8 == 0:
            assert sign_in(browser, person.username, "typo2", address=OFFICE).status_code == 200
        response = sign_in(browser, person.username, PASSWORD, address=OFFICE)
        assert response.status_code == 302, person.username
        assert is_signed_in(browser)

    latecomer = Client()
    assert sign_in(latecomer, "person00", PASSWORD, address=OFFICE).status_code == 302


def test_the_address_limit_comes_from_the_environment():
    expression = "s.KCDIR_ADDRESS_FAILURE_LIMIT"
    assert run_probe(deploy_env(), expression) == "20"
    assert run_probe(deploy_env(KCDIR_ADDRESS_FAILURE_LIMIT="50"), expression) == "50"
