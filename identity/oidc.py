"""OpenID Connect sign-in: the authorization code flow with PKCE, through Authlib.

``login`` (a POST from the sign-in page) sends the person to the provider with a fresh
``state``, ``nonce`` and PKCE challenge, kept in their session; ``callback`` takes the
code back, exchanges it at the provider's token endpoint and accepts the ID token only
once its signature checks out against the provider's published keys (``jwks_uri`` in
its discovery document) and its issuer, audience, expiry and nonce are right. The
claims (with the userinfo endpoint's, when the provider has one) then go through
``claims.mapped`` and ``services.account_for``.

Anything that goes wrong ends on ``identity/sign_in_failed.html``, saying in plain
words what happened, with nobody signed in; the details go to the security log.
"""

import logging
import threading
import time
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoIntegration, DjangoOAuth2App
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from joserfc.errors import JoseError

from . import providers, services
from .claims import mapped
from .config import Provider

security_log = logging.getLogger("kcdir.security")

SESSION_NEXT = "identity_oidc_next"  # where to go once signed in
# The ID token, kept as the id_token_hint for the provider's sign-out (a session key name).
SESSION_ID_TOKEN = "identity_oidc_id_token"  # noqa: S105
# The provider's end_session_endpoint at sign-in ("" if none), so sign-out needs no request.
SESSION_END_SESSION = "identity_oidc_end_session"
DEFAULT_SCOPES = "openid email profile"
# How long kcdir keeps a provider's discovery document before reading it again (its
# signing keys are read again at once when a token names a key kcdir has not seen).
DISCOVERY_MAX_AGE = 24 * 60 * 60

_clients: dict[tuple, DjangoOAuth2App] = {}
_clients_lock = threading.Lock()


class SignInFailed(Exception):
    """Signing in cannot go on: ``reason`` picks the words the person reads."""

    def __init__(self, reason: str, detail: str = "", *, status: int = 400):
        super().__init__(reason, detail)
        self.reason, self.detail, self.status = reason, detail, status


def client_for(provider: Provider) -> DjangoOAuth2App:
    """The provider's Authlib client, made on first use and kept for the process. Keyed
    by the provider's settings as well as its key, so a changed setting takes effect."""
    cache_key = (provider.key, tuple(sorted(provider.options.items())))
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            scopes = provider.options.get("scopes", DEFAULT_SCOPES).replace(",", " ").split()
            if "openid" not in scopes:
                scopes.insert(0, "openid")  # the nonce, and the ID token, come with it
            client = DjangoOAuth2App(
                DjangoIntegration(provider.key),
                name=provider.key,
                client_id=provider.options["client_id"],
                client_secret=provider.options["client_secret"],
                server_metadata_url=_discovery_url(provider),
                client_kwargs={
                    "scope": " ".join(scopes),
                    "code_challenge_method": "S256",
                    "default_timeout": settings.IDENTITY_HTTP_TIMEOUT,
                },
            )
            _clients[cache_key] = client
    return client


def _discovery_url(provider: Provider) -> str:
    return provider.options["issuer"].rstrip("/") + "/.well-known/openid-configuration"


def _metadata(client: DjangoOAuth2App, provider: Provider) -> dict:
    """The provider's discovery document (read once a day), checked to be its own."""
    loaded_at = client.server_metadata.get("_loaded_at")
    if loaded_at and time.time() - loaded_at > DISCOVERY_MAX_AGE:
        client.server_metadata.clear()
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError, TypeError) as error:
        client.server_metadata.clear()
        raise SignInFailed("unreachable", _describe(error), status=502) from error
    missing = [
        name
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(metadata.get(name), str)
    ]
    if missing:
        client.server_metadata.clear()
        raise SignInFailed("misconfigured", f"discovery lacks {', '.join(missing)}", status=502)
    if metadata.get("issuer") != provider.options["issuer"]:
        # A document naming another issuer would let that issuer's tokens through.
        client.server_metadata.clear()
        raise SignInFailed(
            "misconfigured",
            f"discovery names issuer {metadata.get('issuer')!r}, "
            f"configured {provider.options['issuer']!r}",
            status=502,
        )
    return metadata


@login_not_required
def login(request, key):
    """Start signing in at the provider (POST from the sign-in page's button)."""
    provider = providers.get("oidc", key)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    request.session[SESSION_NEXT] = next_url
    client = client_for(provider)
    redirect_uri = request.build_absolute_uri(reverse("identity:oidc_callback", args=[key]))
    try:
        _metadata(client, provider)
        return client.authorize_redirect(request, redirect_uri)
    except SignInFailed as failure:
        return _failed(request, provider, failure)


@login_not_required
def callback(request, key):
    """The provider sends the person back here with a code (or an error)."""
    provider = providers.get("oidc", key)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        claims, id_token, end_session_endpoint = _verified_claims(request, provider)
        user = services.account_for(provider, claims)
    except SignInFailed as failure:
        return _failed(request, provider, failure)
    except services.SignInRefused as refusal:
        security_log.warning(
            "OIDC sign-in refused: provider=%s subject=%s reason=%s",
            provider.key,
            claims.subject,
            refusal,
        )
        return _failed_page(request, provider, message=str(refusal), status=403)
    next_url = request.session.pop(SESSION_NEXT, "")
    services.sign_in(request, provider, user)
    request.session[SESSION_ID_TOKEN] = id_token
    request.session[SESSION_END_SESSION] = end_session_endpoint
    security_log.info(
        "OIDC sign-in: provider=%s subject=%s user=%s", provider.key, claims.subject, user.pk
    )
    return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _verified_claims(request, provider: Provider):
    """The mapped claims, the raw ID token and the provider's end_session_endpoint ("" if
    none), once everything checks out."""
    client = client_for(provider)
    state = request.GET.get("state", "")
    if "error" in request.GET:
        client.framework.clear_state_data(request.session, state)
        error = request.GET.get("error", "")[:100]
        reason = "denied" if error in ("access_denied", "login_required") else "provider_error"
        raise SignInFailed(reason, error)
    metadata = _metadata(client, provider)
    try:
        # Checks the state (one use: it leaves the session), sends the code with the PKCE
        # verifier, and verifies the ID token: signature against the provider's keys,
        # iss, exp, iat and the nonce this session sent. The audience is named here:
        # left to itself, Authlib accepts another client's token whose azp is ours.
        token = client.authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "value": provider.options["issuer"]},
                "aud": {"essential": True, "value": provider.options["client_id"]},
            },
        )
    except MismatchingStateError as error:
        raise SignInFailed("state", _describe(error)) from error
    except OAuthError as error:
        raise SignInFailed("token", _describe(error)) from error
    except (requests.ConnectionError, requests.Timeout) as error:
        raise SignInFailed("unreachable", _describe(error), status=502) from error
    except (
        requests.RequestException,
        AuthlibBaseError,
        JoseError,
        RuntimeError,
        ValueError,
        KeyError,
        TypeError,
    ) as error:
        # What the provider sent could not be read or verified (RuntimeError: Authlib's
        # word for a response missing what it needs).
        raise SignInFailed("token", _describe(error)) from error
    id_claims = token.get("userinfo")
    if not id_claims or not id_claims.get("sub") or not token.get("id_token"):
        # No ID token, or none verified (Authlib verifies only when it sent a nonce,
        # which it always does with the openid scope).
        raise SignInFailed("token", "no verified ID token in the token response")
    claims = dict(id_claims)
    if metadata.get("userinfo_endpoint"):
        try:
            userinfo = client.userinfo(token=token)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise SignInFailed("unreachable", _describe(error), status=502) from error
        except (requests.RequestException, AuthlibBaseError, ValueError, TypeError) as error:
            raise SignInFailed("token", _describe(error)) from error
        if userinfo.get("sub") != id_claims["sub"]:
            raise SignInFailed("token", "userinfo names another subject than the ID token")
        # The verified ID token's claims win (the subject claim among them).
        claims = {**userinfo, **id_claims}
    end_session = metadata.get("end_session_endpoint")
    end_session = end_session if isinstance(end_session, str) else ""
    return mapped(provider, id_claims["sub"], claims), token["id_token"], end_session


def _describe(error: Exception) -> str:
    """For the log: the error's kind and text (never a token or secret: Authlib and
    requests name endpoints and error codes, not the values sent)."""
    return f"{type(error).__name__}: {error}"[:300]


FAILURES = {
    "state": _(
        "This sign-in had expired, had already been used, or was started in another browser "
        "window, so kcdir could not match it to you."
    ),
    "denied": _("You were not signed in at %(provider)s: it was cancelled or not allowed."),
    "provider_error": _("%(provider)s could not sign you in and sent kcdir an error instead."),
    "token": _(
        "kcdir could not verify what %(provider)s sent back, so nobody was signed in. "
        "If it happens again, tell your IT service desk."
    ),
    "unreachable": _(
        "kcdir could not reach %(provider)s: it may be down or slow. Try again in a few minutes."
    ),
    "misconfigured": _(
        "kcdir's connection to %(provider)s is not set up correctly. Tell your IT service desk."
    ),
}


def _failed(request, provider: Provider, failure: SignInFailed):
    security_log.warning(
        "OIDC sign-in failed: provider=%s reason=%s detail=%s",
        provider.key,
        failure.reason,
        failure.detail,
    )
    message = FAILURES[failure.reason] % {"provider": provider.name}
    return _failed_page(request, provider, message=message, status=failure.status)


def _failed_page(request, provider: Provider, *, message: str, status: int):
    login_url = resolve_url("login")
    next_url = request.session.get(SESSION_NEXT, "")
    if next_url:
        login_url += "?" + urlencode({"next": next_url})
    context = {"provider": provider, "message": message, "login_url": login_url}
    return render(request, "identity/sign_in_failed.html", context, status=status)


def end_session_url(request, provider: Provider) -> str | None:
    """The provider's sign-out address (RP-initiated logout) for the session signed in
    through it, coming back to kcdir's sign-in page; None when the provider named none.
    Read from the session (kept at sign-in), so signing out never waits on the provider."""
    endpoint = request.session.get(SESSION_END_SESSION, "")
    if not endpoint:
        return None
    params = {
        "client_id": provider.options["client_id"],
        "post_logout_redirect_uri": request.build_absolute_uri(resolve_url("login")),
    }
    id_token = request.session.get(SESSION_ID_TOKEN, "")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
