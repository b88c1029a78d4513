"""python3-saml's settings for one SAML identity provider.

kcdir's own side (the service provider: entity ID, assertion consumer service URL) is
worked out from the address people reach kcdir at (``kcdir.site``: ``KCDIR_SITE_URL``,
or the request, which honours ``KCDIR_BEHIND_PROXY``), so an ``https`` deployment
behind a proxy names its ``https`` URLs. The provider's side comes from its metadata, a
file read when it changes or a URL fetched at most once an hour per process.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.urls import reverse
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser as MetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from kcdir import site

from .config import Provider

logger = logging.getLogger(__name__)

METADATA_MAX_AGE = 3600  # seconds a fetched metadata URL is trusted before fetching again
METADATA_TIMEOUT = 10  # seconds to wait for a metadata URL
RETRY_AFTER = 60  # seconds before a metadata URL that failed is tried again

_cache: dict[tuple, tuple[float, dict]] = {}
_failures: dict[tuple, tuple[float, str]] = {}
_cache_lock = threading.Lock()


class SAMLUnavailable(Exception):
    """The provider's metadata (or kcdir's own key and certificate for it) could not be
    read; the message is for the log, never shown."""


@dataclass(frozen=True)
class ServiceProvider:
    """kcdir as this provider sees it."""

    entity_id: str
    acs_url: str
    metadata_url: str


def service_provider(provider: Provider) -> ServiceProvider:
    metadata_url = site.absolute(reverse("identity:saml_metadata", args=[provider.key]))
    return ServiceProvider(
        entity_id=provider.options.get("sp_entity_id") or metadata_url,
        acs_url=site.absolute(reverse("identity:saml_acs", args=[provider.key])),
        metadata_url=metadata_url,
    )


def request_data(url: str, post_data=None) -> dict:
    """The request as python3-saml wants it, for ``url`` (kcdir's own address for the
    view, not the Host header): it checks a response's Destination and Recipient
    against this."""
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": {},
        "post_data": post_data or {},
    }


def settings_for(provider: Provider, *, sp_only: bool = False) -> OneLogin_Saml2_Settings:
    """python3-saml settings: strict, signed assertions required. ``sp_only`` (for kcdir's
    own metadata) needs nothing from the provider, so it works while the provider is
    unreachable. Raises ``SAMLUnavailable``."""
    sp = service_provider(provider)
    cert, key = _sp_key_pair(provider)
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs_url, "binding": Constants.BINDING_HTTP_POST},
            "NameIDFormat": Constants.NAMEID_PERSISTENT,
            "x509cert": cert,
            "privateKey": key,
        },
        "security": {
            "authnRequestsSigned": bool(key),
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "wantNameId": True,
            # Some providers send only the NameID; the mapping then fills nothing else.
            "wantAttributeStatement": False,
            # The provider decides how people authenticate (password, Kerberos, MFA).
            "requestedAuthnContext": False,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": Constants.RSA_SHA256,
            "digestAlgorithm": Constants.SHA256,
            "wantXMLValidation": True,
            "allowRepeatAttributeName": True,
            # Intranet host names ("https://kcdir/") are addresses too.
            "allowSingleLabelDomains": True,
        },
    }
    if not sp_only:
        data["idp"] = idp_metadata(provider)
    try:
        return OneLogin_Saml2_Settings(data, sp_validation_only=sp_only)
    except Exception as error:  # python3-saml raises plain errors for bad settings
        raise SAMLUnavailable(f"settings refused: {error}") from error


def idp_metadata(provider: Provider) -> dict:
    """The provider's entity ID, sign-in URL and signing certificates, from its metadata."""
    if provider.options.get("metadata_file"):
        path = provider.options["metadata_file"]
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError as error:
            raise SAMLUnavailable(f"metadata file {path}: {error.strerror}") from error
        return _cached(("file", path, stamp), None, lambda: _read_file(path))
    url = provider.options["metadata_url"]
    return _cached(("url", url), METADATA_MAX_AGE, lambda: _fetch(url))


def _cached(cache_key, max_age, load) -> dict:
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached and (max_age is None or now - cached[0] < max_age):
        return cached[1]
    with _cache_lock:
        failed = _failures.get(cache_key)
    if failed and not cached and now - failed[0] < RETRY_AFTER:
        # Pages wait for no provider that was just found unreachable.
        raise SAMLUnavailable(failed[1])
    try:
        idp = _parsed(load())
    except SAMLUnavailable as error:
        if cached:
            # The provider's metadata rarely changes: keep using the copy we have.
            logger.warning("SAML metadata not refreshed, using the cached copy: %s", error)
            return cached[1]
        with _cache_lock:
            _failures[cache_key] = (now, str(error))
        raise
    with _cache_lock:
        _failures.pop(cache_key, None)
        if cache_key[0] == "file":  # forget older versions of the same file
            for other in [k for k in _cache if k[:2] == cache_key[:2]]:
                del _cache[other]
        _cache[cache_key] = (now, idp)
    return idp


def _read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise SAMLUnavailable(f"metadata file {path}: {error}") from error


def _fetch(url: str) -> str:
    try:
        return MetadataParser.get_metadata(url, validate_cert=True, timeout=METADATA_TIMEOUT)
    except Exception as error:  # urllib's errors, or "not SAML metadata"
        raise SAMLUnavailable(f"metadata URL {url}: {error}") from error


def _parsed(xml: str) -> dict:
    try:
        parsed = MetadataParser.parse(xml, required_sso_binding=Constants.BINDING_HTTP_REDIRECT)
    except Exception as error:  # lxml's and python3-saml's errors for malformed XML
        raise SAMLUnavailable(f"metadata not readable: {error}") from error
    idp = parsed.get("idp")
    if not idp or not idp.get("singleSignOnService", {}).get("url"):
        raise SAMLUnavailable("metadata names no identity provider with an HTTP-Redirect sign-in")
    if not (idp.get("x509cert") or idp.get("x509certMulti")):
        raise SAMLUnavailable("metadata has no signing certificate")
    return idp


def _sp_key_pair(provider: Provider) -> tuple[str, str]:
    cert_file = provider.options.get("sp_cert_file")
    key_file = provider.options.get("sp_key_file")
    if not (cert_file and key_file):
        return "", ""
    try:
        with open(cert_file, encoding="ascii") as cert, open(key_file, encoding="ascii") as key:
            return cert.read(), key.read()
    except (OSError, UnicodeDecodeError) as error:
        raise SAMLUnavailable(f"kcdir's SAML certificate or key: {error}") from error


def sign_in_origins(providers) -> list[str]:
    """The origins (``https://idp.example``) of the SAML providers' sign-in URLs, which
    the sign-in page's Content-Security-Policy must allow as form targets: browsers
    apply ``form-action`` to the redirect that follows the "Sign in with" button."""
    origins = []
    for provider in providers:
        if provider.protocol != "saml":
            continue
        try:
            url = urlsplit(idp_metadata(provider)["singleSignOnService"]["url"])
        except SAMLUnavailable:
            continue  # pressing the button then says the provider cannot be reached
        origin = f"{url.scheme}://{url.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _failures.clear()
