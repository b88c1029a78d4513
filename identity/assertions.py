"""SAML assertions kcdir has accepted, so none signs anyone in twice."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .config import Provider
from .models import SeenAssertion
from .services import SignInRefused

# python3-saml allows this much clock difference with the provider.
CLOCK_DRIFT = timedelta(seconds=300)


@transaction.atomic
def accept_assertion(*, provider: Provider, assertion_id: str, expires_at: datetime) -> None:
    """Record that the assertion ``assertion_id`` signed someone in, keeping it until it
    has expired (after which the provider's signature no longer makes it valid anyway).

    Raises ``SignInRefused`` if it was accepted before, by any process: the database's
    unique constraint decides between two at once. Forgets expired assertions.
    """
    now = timezone.now()
    SeenAssertion.objects.filter(expires_at__lt=now).delete()
    try:
        with transaction.atomic():
            SeenAssertion.objects.create(
                provider=provider.key,
                assertion_id=assertion_id,
                expires_at=max(expires_at, now) + CLOCK_DRIFT,
            )
    except IntegrityError:
        raise SignInRefused(
            _("This sign-in has already been used. Start again from the sign-in page.")
        ) from None
