"""Signing in through an identity provider: the account a provider's subject belongs
to, created or linked on a first sign-in when the provider allows it, and the member
record refreshed from the claims every time.

The protocol views (OIDC, SAML) verify what the provider sent, map it to ``Claims`` and
call ``account_for``; they then sign the account in with ``sign_in``.
"""

import re

from django.contrib.auth import get_user_model, login
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Department, Member

from .claims import Claims
from .config import Provider
from .models import IdentityLink

BACKEND = "communities.backends.MemberBackend"
SESSION_PROVIDER = "identity_provider"  # the key of the provider a session signed in with

_NOT_USERNAME = re.compile(r"[^\w.@+-]+")


class SignInRefused(Exception):
    """The provider vouched for someone kcdir will not sign in; the message says why, in
    words the person can act on."""


def account_for(provider: Provider, claims: Claims):
    """The active user ``claims`` sign in as, their details brought up to date.

    Raises ``SignInRefused`` when the provider named no subject, the account is switched
    off, or there is no account and the provider may not create one.
    """
    if not claims.subject:
        raise SignInRefused(
            _("%(provider)s did not say who you are. Try again, or ask your IT service desk.")
            % {"provider": provider.name}
        )
    try:
        with transaction.atomic():
            user = _linked_user(provider, claims)
    except IntegrityError:
        # Two first sign-ins of one person at once: the other one linked the account.
        with transaction.atomic():
            user = _linked_user(provider, claims)
    if not user.is_active:
        raise SignInRefused(
            _("Your kcdir account is switched off. Ask a directory admin if you still need it.")
        )
    return user


def sign_in(request, provider: Provider, user) -> None:
    """Sign ``user`` in (a new session key, as for a password sign-in), remembering the
    provider so sign-out can offer the provider's own."""
    login(request, user, backend=BACKEND)
    request.session[SESSION_PROVIDER] = provider.key


def _linked_user(provider: Provider, claims: Claims):
    now = timezone.now()
    link = (
        IdentityLink.objects.select_related("user")
        .select_for_update()
        .filter(provider=provider.key, subject=claims.subject)
        .first()
    )
    if link is None:
        user = _existing_by_username(provider, claims) or _new_user(provider, claims)
        link = IdentityLink.objects.create(
            provider=provider.key, subject=claims.subject, user=user, last_sign_in_at=now
        )
    else:
        user = link.user
        link.last_sign_in_at = now
        link.save(update_fields=["last_sign_in_at"])
    if user.is_active:
        _refresh(user, claims)
    return user


def _existing_by_username(provider: Provider, claims: Claims):
    if not (provider.link_by_username and claims.username):
        return None
    return (
        get_user_model()
        .objects.filter(
            username__iexact=_username(claims.username), is_staff=False, is_superuser=False
        )
        .exclude(identity_links__provider=provider.key)
        .first()
    )


def _username(text: str) -> str:
    return _NOT_USERNAME.sub("-", text).strip("-")[:150]


def _new_user(provider: Provider, claims: Claims):
    if not provider.create_users:
        raise SignInRefused(
            _(
                "You signed in with %(provider)s, but there is no kcdir account for you yet. "
                "Ask a directory admin to set one up."
            )
            % {"provider": provider.name}
        )
    user_model = get_user_model()
    base = _username(claims.username) or _username(claims.email.partition("@")[0])
    base = base or f"{provider.key}-{_username(claims.subject)[:100]}"
    # A local account may already hold the name: the newcomer gets the next free one.
    username, n = base, 2
    while user_model.objects.filter(username__iexact=username).exists():
        suffix = f"-{n}"
        username, n = base[: 150 - len(suffix)] + suffix, n + 1
    user = user_model(username=username)
    user.set_unusable_password()
    user.save()
    return user


def _refresh(user, claims: Claims) -> None:
    """Copy what the provider said over the account and member record; a claim the
    provider did not send leaves its field as it was."""
    changed = [
        name
        for name in ("email", "first_name", "last_name")
        if getattr(claims, name) and getattr(claims, name) != getattr(user, name)
    ]
    for name in changed:
        setattr(user, name, getattr(claims, name))
    if changed:
        user.save(update_fields=changed)

    member = Member.objects.for_user(user)
    display_name = (
        claims.display_name
        or f"{claims.first_name} {claims.last_name}".strip()
        or member.display_name
    )
    updates = {"display_name": display_name[:150]}
    if claims.job_title:
        updates["job_title"] = claims.job_title
    if claims.department:
        department = Department.objects.named(claims.department)
        updates["department_id"] = department.pk if department else None
    changed = [name for name, value in updates.items() if getattr(member, name) != value]
    for name in changed:
        setattr(member, name, updates[name])
    if changed:
        member.save(update_fields=[*changed, "updated_at"])
