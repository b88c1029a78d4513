"""One client address, worked out in one place (``kcdir/client.py``), for sign-in
throttling (django-axes), the password-reset rate limit and the security log.

Behind a proxy every connection comes from the proxy: the client is the address the
trusted proxy appended to ``X-Forwarded-For``. Without a proxy that header is whatever
the client typed, and is ignored. Every test goes through the test client with a real
forwarded header, as the proxy would send it.
"""

import logging

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from .factories import PASSWORD, member_named
from .pages import page_html
from .test_security import deploy_env, run_check_deploy, run_probe

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
RESET = reverse("password_reset")

PROXY = "10.0.0.2"  # what REMOTE_ADDR is for every request that came through the proxy
ALICE_AT_HOME = "203.0.113.10"
BOB_AT_HOME = "198.51.100.20"


@pytest.fixture
def behind_one_proxy(settings):
    settings.KCDIR_BEHIND_PROXY = True
    settings.KCDIR_PROXY_COUNT = 1


@pytest.fixture
def mo(db):
    return member_named("Mo Member", username="mo").user


def through_proxy(client_address: str, *, forged: str = "") -> dict:
    """The headers of a request the proxy passed on: it appends the address it saw to
    whatever X-Forwarded-For the client sent (``forged``)."""
    forwarded_for = f"{forged}, {client_address}" if forged else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded_for}


def sign_in(client, username, password, **headers):
    return client.post(LOGIN, {"username": username, "password": password}, **headers)


def is_signed_in(client) -> bool:
    return SESSION_KEY in client.session


# -- sign-in throttling ------------------------------------------------------------------


def test_behind_a_proxy_wrong_passwords_lock_out_only_the_client_who_typed_them(
    behind_one_proxy, mo
):
    attacker, owner = Client(), Client()
    for n in range(5):
        sign_in(attacker, "mo", f"wrong-{n}", **through_proxy(ALICE_AT_HOME))
    locked = sign_in(attacker, "mo", PASSWORD, **through_proxy(ALICE_AT_HOME))
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in page_html(locked)

    response = sign_in(owner, "mo", PASSWORD, **through_proxy(BOB_AT_HOME))

    assert response.status_code == 302
    assert is_signed_in(owner)
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ALICE_AT_HOME]


def test_behind_a_proxy_the_client_cannot_escape_a_lock_by_forging_the_header(behind_one_proxy, mo):
    """The proxy appends the real address; what the client put before it is ignored."""
    attacker = Client()
    for n in range(5):
        headers = through_proxy(ALICE_AT_HOME, forged=f"192.0.2.{n + 1}")
        sign_in(attacker, "mo", f"wrong-{n}", **headers)

    headers = through_proxy(ALICE_AT_HOME, forged=BOB_AT_HOME)
    response = sign_in(attacker, "mo", PASSWORD, **headers)

    assert response.status_code == 429
    assert not is_signed_in(attacker)


def test_without_a_proxy_a_forwarded_header_from_the_client_is_ignored(mo):
    attacker = Client()
    for n in range(5):
        headers = {"REMOTE_ADDR": ALICE_AT_HOME, "HTTP_X_FORWARDED_FOR": f"192.0.2.{n + 1}"}
        sign_in(attacker, "mo", f"wrong-{n}", **headers)

    headers = {"REMOTE_ADDR": ALICE_AT_HOME, "HTTP_X_FORWARDED_FOR": BOB_AT_HOME}
    response = sign_in(attacker, "mo", PASSWORD, **headers)

    assert response.status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ALICE_AT_HOME]


def test_behind_two_proxies_the_client_is_the_second_address_from_the_right(settings, mo):
    """A load balancer appends the client, then the web server appends the balancer."""
    settings.KCDIR_BEHIND_PROXY = True
    settings.KCDIR_PROXY_COUNT = 2
    balancer = "10.0.0.1"
    attacker, owner = Client(), Client()
    for n in range(5):
        headers = {
            "REMOTE_ADDR": PROXY,
            "HTTP_X_FORWARDED_FOR": f"192.0.2.{n + 1}, {ALICE_AT_HOME}, {balancer}",
        }
        sign_in(attacker, "mo", f"wrong-{n}", **headers)

    owner_headers = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"{BOB_AT_HOME}, {balancer}"}
    assert sign_in(owner, "mo", PASSWORD, **owner_headers).status_code == 302
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ALICE_AT_HOME]


@pytest.mark.parametrize(
    "forwarded_for",
    ["", "not-an-address", "203.0.113.10, <script>"],
    ids=["missing", "garbage", "garbage-last"],
)
def test_behind_a_proxy_a_missing_or_garbled_header_falls_back_to_the_connection(
    behind_one_proxy, mo, forwarded_for
):
    """No 500 (the database stores addresses as addresses) and nothing forged counts."""
    response = sign_in(
        Client(), "mo", "wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for
    )

    assert response.status_code == 200
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [PROXY]


def test_a_port_the_proxy_adds_to_the_address_is_dropped(behind_one_proxy, mo):
    sign_in(Client(), "mo", "wrong", **through_proxy(f"{ALICE_AT_HOME}:51234"))
    sign_in(Client(), "mo", "wrong", **through_proxy("[2001:db8::7]:51234"))

    addresses = set(AccessAttempt.objects.values_list("ip_address", flat=True))
    assert addresses == {ALICE_AT_HOME, "2001:db8::7"}


# -- the password-reset rate limit -------------------------------------------------------


def reset_request(client, **headers):
    return client.post(RESET, {"email": "mo@example.org"}, **headers)


def test_behind_a_proxy_one_clients_resets_do_not_use_up_anyone_elses(
    behind_one_proxy, mo, mailoutbox
):
    for _ in range(5):
        assert reset_request(Client(), **through_proxy(ALICE_AT_HOME)).status_code == 302
    assert reset_request(Client(), **through_proxy(ALICE_AT_HOME)).status_code == 429
    del mailoutbox[:]

    response = reset_request(Client(), **through_proxy(BOB_AT_HOME))

    assert response.status_code == 302
    assert len(mailoutbox) == 1


def test_without_a_proxy_forging_the_header_does_not_buy_more_resets(mo, mailoutbox):
    for n in range(5):
        reset_request(Client(), REMOTE_ADDR=ALICE_AT_HOME, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    del mailoutbox[:]

    response = reset_request(Client(), REMOTE_ADDR=ALICE_AT_HOME, HTTP_X_FORWARDED_FOR=BOB_AT_HOME)

    assert response.status_code == 429
    assert mailoutbox == []


# -- the security log ----------------------------------------------------------------------


def security_messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kcdir.security"]


def test_behind_a_proxy_failed_sign_ins_are_logged_with_the_clients_address(
    behind_one_proxy, mo, caplog
):
    caplog.set_level(logging.INFO, logger="kcdir.security")

    sign_in(Client(), "mo", "wrong", **through_proxy(ALICE_AT_HOME, forged="192.0.2.66"))

    [message] = security_messages(caplog)
    assert f"address={ALICE_AT_HOME}" in message
    assert PROXY not in message
    assert "192.0.2.66" not in message


def test_behind_a_proxy_refusals_are_logged_with_the_clients_address(
    behind_one_proxy, client, world, caplog
):
    caplog.set_level(logging.INFO, logger="kcdir.security")
    client.force_login(world.users["outsider"])
    manage = reverse("communities:community_manage", args=[world.target_slug])

    response = client.get(manage, **through_proxy(ALICE_AT_HOME))

    assert response.status_code == 403
    [message] = security_messages(caplog)
    assert f"address={ALICE_AT_HOME}" in message
    assert PROXY not in message


def test_behind_a_proxy_rate_limited_resets_are_logged_with_the_clients_address(
    behind_one_proxy, mo, caplog
):
    caplog.set_level(logging.INFO, logger="kcdir.security")
    for _ in range(6):
        reset_request(Client(), **through_proxy(ALICE_AT_HOME))

    [message] = security_messages(caplog)
    assert "Rate limited" in message
    assert f"address={ALICE_AT_HOME}" in message


# -- configuration -------------------------------------------------------------------------

PROXY_SETTINGS = "s.KCDIR_BEHIND_PROXY, s.KCDIR_PROXY_COUNT, s.AXES_CLIENT_IP_CALLABLE"


def test_the_proxy_settings_come_from_the_environment_and_axes_asks_kcdir_for_the_address():
    assert run_probe(deploy_env(), PROXY_SETTINGS) == "False 0 kcdir.client.client_address"
    assert (
        run_probe(deploy_env(KCDIR_BEHIND_PROXY="1"), PROXY_SETTINGS)
        == "True 1 kcdir.client.client_address"
    )
    assert (
        run_probe(deploy_env(KCDIR_BEHIND_PROXY="1", KCDIR_PROXY_COUNT="2"), PROXY_SETTINGS)
        == "True 2 kcdir.client.client_address"
    )


def test_check_deploy_warns_when_a_proxy_count_is_set_without_a_proxy():
    """The count alone would read no header: every client would share the proxy's address."""
    result = run_check_deploy(deploy_env(KCDIR_PROXY_COUNT="1"))

    assert result.returncode != 0
    assert "kcdir.W002" in result.stdout + result.stderr
    assert (
        run_check_deploy(deploy_env(KCDIR_PROXY_COUNT="1", KCDIR_BEHIND_PROXY="1")).returncode == 0
    )
