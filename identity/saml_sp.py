"""kcdir as a SAML service provider, with python3-saml: the authentication request that
sends a person to their provider, the checks on the response that brings them back, and
kcdir's own metadata."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.translation import gettext as _
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response

from . import saml_settings
from .config import Provider

logger = logging.getLogger(__name__)

# python3-saml's reasons that mean "too late" (or too early): the person can simply retry.
_TIMING = {
    ValidationError.ASSERTION_EXPIRED,
    ValidationError.ASSERTION_TOO_EARLY,
    ValidationError.SESSION_EXPIRED,
}


class ResponseRefused(Exception):
    """The provider's response is not one kcdir may act on. ``str()`` is for the person;
    ``detail`` (python3-saml's reason, no secrets) for the log."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Assertion:
    name_id: str
    attributes: dict[str, list[str]]
    assertion_id: str
    expires_at: datetime


def authn_request(provider: Provider) -> tuple[str, str]:
    """The provider's sign-in URL carrying a new AuthnRequest (HTTP-Redirect binding),
    and the request's ID, which the response must name in InResponseTo.
    Raises ``saml_settings.SAMLUnavailable``."""
    settings = saml_settings.settings_for(provider)
    sp = saml_settings.service_provider(provider)
    auth = OneLogin_Saml2_Auth(saml_settings.request_data(sp.acs_url), old_settings=settings)
    url = auth.login(return_to="")
    return url, auth.get_last_request_id()


def verified(provider: Provider, saml_response: str, *, request_id: str) -> Assertion:
    """The assertion in ``saml_response`` (base64, as POSTed), once it has passed every
    check: the provider's signature on the assertion, kcdir as its audience, kcdir's
    assertion consumer service as its destination and recipient, in response to
    ``request_id``, and within its validity period. Raises ``ResponseRefused`` or
    ``saml_settings.SAMLUnavailable``."""
    settings = saml_settings.settings_for(provider)
    sp = saml_settings.service_provider(provider)
    untrusted = _(
        "%(provider)s sent a sign-in response kcdir cannot trust, so nobody was "
        "signed in. Try again, and if it happens again tell your IT service desk."
    )
    untrusted %= {"provider": provider.name}
    try:
        response = OneLogin_Saml2_Response(settings, saml_response)
        response.is_valid(
            saml_settings.request_data(sp.acs_url), request_id=request_id, raise_exceptions=True
        )
        in_response_to = response.get_in_response_to()
        if in_response_to != request_id:
            # python3-saml lets a response without InResponseTo through; kcdir
            # accepts only answers to the requests it sent.
            raise ResponseRefused(untrusted, f"InResponseTo is {in_response_to!r}")
        if sp.entity_id not in response.get_audiences():
            raise ResponseRefused(untrusted, "the assertion names no audience, or not kcdir")
        expires_at = response.get_assertion_not_on_or_after()
        if not expires_at:
            raise ResponseRefused(untrusted, "the subject confirmation has no NotOnOrAfter")
        assertion_id = response.get_assertion_id()
        name_id = response.get_nameid()
        attributes = response.get_attributes()
    except ResponseRefused:
        raise
    except ValidationError as error:
        if error.code in _TIMING:
            message = _("The sign-in took too long and has expired. Try again.")
        else:
            message = untrusted
        raise ResponseRefused(message, str(error)) from error
    except Exception as error:  # malformed base64 or XML, and python3-saml's own errors
        raise ResponseRefused(untrusted, f"{type(error).__name__}: {error}") from error
    return Assertion(
        name_id=name_id or "",
        attributes=attributes,
        assertion_id=assertion_id,
        expires_at=datetime.fromtimestamp(expires_at, tz=UTC),
    )


def metadata_xml(provider: Provider) -> bytes:
    """kcdir's SP metadata for this provider (entity ID, assertion consumer service,
    NameID format, and kcdir's certificate when it has one).
    Raises ``saml_settings.SAMLUnavailable``."""
    settings = saml_settings.settings_for(provider, sp_only=True)
    metadata = settings.get_sp_metadata()
    errors = settings.validate_metadata(metadata)
    if errors:
        raise saml_settings.SAMLUnavailable(f"kcdir's metadata is not valid: {errors}")
    return metadata if isinstance(metadata, bytes) else metadata.encode()
