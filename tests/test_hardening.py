"""Holes found by an attack on a production-like deployment, each closed at its root."""

import pytest
from django.urls import reverse

from .test_security import deploy_env, run_probe


def test_load_balancers_may_probe_health_with_head(client, db):
    response = client.head("/healthz/")

    assert response.status_code == 200
    assert response.content == b""


def test_health_refuses_writes(client, db):
    assert client.post("/healthz/").status_code == 405


@pytest.mark.parametrize(
    "name, args",
    [
        ("communities:community_list", []),
        ("communities:community_detail", ["claims-turnaround"]),
        ("communities:community_manage", ["claims-turnaround"]),
        ("communities:roster_export", ["claims-turnaround"]),
        ("members:my_communities", []),
    ],
)
def test_signed_in_pages_and_exports_are_never_stored_by_a_cache(
    client, steward, open_kc, name, args
):
    client.force_login(steward)

    response = client.get(reverse(name, args=args))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_sign_in_page_is_not_stored_either(client, db):
    response = client.get(reverse("login"))

    assert "no-store" in response["Cache-Control"]


def test_email_reaches_a_real_mail_server_configured_by_environment():
    env = deploy_env(
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="587",
        EMAIL_HOST_USER="kcdir",
        EMAIL_HOST_PASSWORD="not-a-real-password",  # noqa: S106
        EMAIL_USE_TLS="1",
    )

    assert (
        run_probe(
            env,
            "s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, "
            "s.EMAIL_USE_TLS, s.EMAIL_USE_SSL, s.EMAIL_TIMEOUT",
        )
        == "smtp.example.org 587 kcdir not-a-real-password True False 10"
    )


def test_a_slow_mail_server_cannot_hold_a_worker_past_its_timeout():
    assert run_probe(deploy_env(), "s.EMAIL_TIMEOUT") == "10"
    assert run_probe(deploy_env(EMAIL_TIMEOUT="3"), "s.EMAIL_TIMEOUT") == "3"
