"""Identity providers, read from environment variables by the settings module.

Plain Python (no Django imports): ``kcdir/settings.py`` calls ``providers_from_env`` and
keeps the result as ``settings.IDENTITY_PROVIDERS``; tests replace that setting.

One list per protocol names the providers, each then configured by its own variables::

    KCDIR_OIDC_PROVIDERS=entra,okta
    KCDIR_OIDC_ENTRA_NAME="Microsoft Entra ID"
    KCDIR_OIDC_ENTRA_ISSUER=https://login.microsoftonline.com/<tenant>/v2.0
    KCDIR_OIDC_ENTRA_CLIENT_ID=...
    KCDIR_OIDC_ENTRA_CLIENT_SECRET=...

    KCDIR_SAML_PROVIDERS=adfs
    KCDIR_SAML_ADFS_NAME="Contoso ADFS"
    KCDIR_SAML_ADFS_METADATA_FILE=/etc/kcdir/adfs-metadata.xml   (or _METADATA_URL)

Common to both (``<P>`` is ``KCDIR_OIDC_<KEY>`` or ``KCDIR_SAML_<KEY>``):

- ``<P>_CREATE_USERS`` (default 1): a first sign-in with no kcdir account creates one.
- ``<P>_LINK_BY_USERNAME`` (default 0): a first sign-in whose username matches an
  existing account (not staff, not a superuser, not yet linked to this provider) signs
  into that account. Only for a provider that is the authority for usernames, such as
  the one that provisions people by SCIM.
- ``<P>_CLAIMS``: the mapping, as ``field=claim`` pairs separated by commas, over the
  defaults in ``DEFAULT_CLAIMS``.
- ``<P>_SUBJECT_CLAIM``: the claim (OIDC) or attribute (SAML) naming the person for good;
  by default the ``sub`` claim or the SAML NameID.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

PROTOCOLS = ("oidc", "saml")

# The member fields single sign-on fills, and the claims they come from by default.
FIELDS = ("username", "email", "first_name", "last_name", "display_name", "department", "job_title")

DEFAULT_CLAIMS = {
    "oidc": {
        "username": "preferred_username",
        "email": "email",
        "first_name": "given_name",
        "last_name": "family_name",
        "display_name": "name",
        "department": "department",
        "job_title": "job_title",
    },
    # The attribute names ADFS and Entra ID send (Shibboleth's can be mapped with _CLAIMS).
    "saml": {
        "username": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "first_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "last_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "display_name": "http://schemas.microsoft.com/identity/claims/displayname",
        "department": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/department",
        "job_title": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/title",
    },
}

KEY = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class ConfigError(ValueError):
    """A provider's variables are missing or malformed (the settings raise it as
    ImproperlyConfigured, naming the variable)."""


@dataclass(frozen=True)
class Provider:
    protocol: str  # "oidc" or "saml"
    key: str  # in URLs and stored links: lower case letters, digits, "-"
    name: str  # "Sign in with <name>"
    claims: Mapping[str, str]  # member field -> claim or attribute name
    subject_claim: str = ""  # "" = the protocol's own subject (OIDC sub, SAML NameID)
    create_users: bool = True
    link_by_username: bool = False
    # Protocol settings: OIDC issuer, client_id, client_secret, scopes; SAML
    # metadata_file or metadata_url, and the rest the SAML views read.
    options: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name


def _bool(text: str | None, default: bool) -> bool:
    if text is None or text.strip() == "":
        return default
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _claims(protocol: str, text: str, variable: str) -> dict[str, str]:
    claims = dict(DEFAULT_CLAIMS[protocol])
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, _, claim = pair.partition("=")
        name, claim = name.strip(), claim.strip()
        if name not in FIELDS or not claim:
            raise ConfigError(
                f"{variable}: {pair!r} is not field=claim with a field among {', '.join(FIELDS)}."
            )
        claims[name] = claim
    return claims


REQUIRED = {
    "oidc": ("ISSUER", "CLIENT_ID", "CLIENT_SECRET"),
    "saml": (),
}
OPTIONAL = {
    "oidc": ("SCOPES",),
    "saml": ("METADATA_FILE", "METADATA_URL", "SP_CERT_FILE", "SP_KEY_FILE", "SP_ENTITY_ID"),
}


def providers_from_env(environ: Mapping[str, str] = os.environ) -> list[Provider]:
    """Every configured provider, OIDC first, in the order the lists name them."""
    providers = []
    seen = set()
    for protocol in PROTOCOLS:
        list_variable = f"KCDIR_{protocol.upper()}_PROVIDERS"
        keys = [k.strip().lower() for k in environ.get(list_variable, "").split(",") if k.strip()]
        for key in keys:
            if not KEY.match(key):
                raise ConfigError(
                    f"{list_variable}: {key!r} is not a provider key "
                    "(lower-case letters, digits and '-', starting with a letter)."
                )
            if key in seen:
                raise ConfigError(f"{list_variable}: the provider key {key!r} is used twice.")
            seen.add(key)
            prefix = f"KCDIR_{protocol.upper()}_{key.upper().replace('-', '_')}_"
            options = {}
            for name in REQUIRED[protocol] + OPTIONAL[protocol]:
                value = environ.get(prefix + name, "").strip()
                if not value and name in REQUIRED[protocol]:
                    raise ConfigError(f"{prefix}{name} must be set for the provider {key!r}.")
                if value:
                    options[name.lower()] = value
            if protocol == "saml" and not (
                options.get("metadata_file") or options.get("metadata_url")
            ):
                raise ConfigError(
                    f"{prefix}METADATA_FILE or {prefix}METADATA_URL must be set "
                    f"for the provider {key!r}."
                )
            providers.append(
                Provider(
                    protocol=protocol,
                    key=key,
                    name=environ.get(prefix + "NAME", "").strip() or key.title(),
                    claims=_claims(protocol, environ.get(prefix + "CLAIMS", ""), prefix + "CLAIMS"),
                    subject_claim=environ.get(prefix + "SUBJECT_CLAIM", "").strip(),
                    create_users=_bool(environ.get(prefix + "CREATE_USERS"), True),
                    link_by_username=_bool(environ.get(prefix + "LINK_BY_USERNAME"), False),
                    options=options,
                )
            )
    return providers
