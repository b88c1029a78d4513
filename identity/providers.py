"""The configured identity providers (``settings.IDENTITY_PROVIDERS``), looked up by key."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404
from django.urls import reverse

from .config import Provider


@dataclass(frozen=True)
class Choice:
    name: str
    url: str  # POST here (with the CSRF token and ``next``) to start signing in


def configured(protocol: str | None = None) -> list[Provider]:
    return [p for p in settings.IDENTITY_PROVIDERS if protocol in (None, p.protocol)]


def get(protocol: str, key: str) -> Provider:
    """The provider a URL names, or 404."""
    for provider in configured(protocol):
        if provider.key == key:
            return provider
    raise Http404("No such identity provider.")


def by_key(key: str) -> Provider | None:
    return next((p for p in configured() if p.key == key), None)


def sign_in_choices() -> list[Choice]:
    return [
        Choice(name=p.name, url=reverse(f"identity:{p.protocol}_login", args=[p.key]))
        for p in configured()
    ]


def form_action_origins() -> list[str]:
    """Where the sign-in page's "Sign in with" buttons end up, as origins
    (scheme://host:port), for its Content-Security-Policy ``form-action``: browsers apply
    it to the redirect after the button's POST. The OIDC providers' issuers (their
    authorization endpoints live there) and the SAML providers' sign-in URLs."""
    from .saml_settings import sign_in_origins  # reads the SAML metadata: only when asked

    origins = set()
    for provider in configured("oidc"):
        parts = urlsplit(provider.options["issuer"])
        origins.add(f"{parts.scheme}://{parts.netloc}")
    origins.update(sign_in_origins(configured("saml")))
    return sorted(origins)
