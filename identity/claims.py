"""What an identity provider says about a person, mapped to kcdir's fields.

The protocols hand over different shapes (an ID token's claims; a SAML assertion's
attributes, each a list of values): ``mapped`` turns either into one ``Claims``, by the
provider's mapping (``config.DEFAULT_CLAIMS`` and its ``_CLAIMS`` variable).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import FIELDS, Provider

# Longest values the models take (longer ones are cut, never refused).
MAX_LENGTHS = {
    "username": 150,
    "email": 254,
    "first_name": 150,
    "last_name": 150,
    "display_name": 150,
    "department": 120,
    "job_title": 150,
}


@dataclass(frozen=True)
class Claims:
    subject: str
    username: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    department: str = ""
    job_title: str = ""


def _text(value: Any) -> str:
    """One value as text: SAML sends lists, OIDC scalars; the first non-empty wins."""
    if isinstance(value, list | tuple):
        value = next((item for item in value if item not in (None, "")), "")
    if value is None or isinstance(value, dict):
        return ""
    return str(value).strip()


def mapped(provider: Provider, subject: str, claims: Mapping[str, Any]) -> Claims:
    """``claims`` (what the provider sent) as kcdir's fields. ``subject`` is the
    protocol's own subject, used unless the provider names another claim for it."""
    if provider.subject_claim:
        subject = _text(claims.get(provider.subject_claim))
    values = {}
    for name in FIELDS:
        values[name] = _text(claims.get(provider.claims.get(name, "")))[: MAX_LENGTHS[name]]
    return Claims(subject=_text(subject)[:255], **values)
