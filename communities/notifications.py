"""Emails about roster changes, sent after the transaction that caused them commits."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from .models import Membership

logger = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    return settings.KCDIR_BASE_URL.rstrip("/") + path


def _send(*, subject: str, template: str, context: dict, recipients: list[str]) -> None:
    recipients = [address for address in recipients if address]
    if not recipients:
        return
    # Names go into the subject: a line break there would make Django refuse the header.
    subject = " ".join(subject.split())
    body = render_to_string(template, context)

    def send():
        try:
            send_mail(subject, body, None, recipients)
        except Exception:  # a mail outage must not undo or break a roster change
            logger.exception("Could not send %r to %s", subject, recipients)

    transaction.on_commit(send)


def request_received(membership: Membership) -> None:
    """Tell the community's stewards that someone asked to join."""
    community = membership.community
    stewards = Membership.objects.filter(
        community=community, state=Membership.State.ACTIVE, role=Membership.Role.STEWARD
    ).values_list("member__user__email", flat=True)
    _send(
        subject=_("%(name)s asks to join %(community)s")
        % {"name": membership.member.display_name, "community": community.name},
        template="communities/email/request_received.txt",
        context={
            "membership": membership,
            "community": community,
            "manage_url": _absolute(community.get_absolute_url() + "manage/"),
        },
        recipients=list(stewards),
    )


def request_decided(membership: Membership) -> None:
    """Tell the requester whether they were approved or denied."""
    _send(
        subject=_("Your request to join %(community)s") % {"community": membership.community.name},
        template="communities/email/request_decided.txt",
        context={
            "membership": membership,
            "community": membership.community,
            "approved": membership.state == Membership.State.ACTIVE,
            "community_url": _absolute(membership.community.get_absolute_url()),
        },
        recipients=[membership.member.user.email],
    )


def invited(membership: Membership) -> None:
    _send(
        subject=_("You are invited to join %(community)s")
        % {"community": membership.community.name},
        template="communities/email/invited.txt",
        context={
            "membership": membership,
            "community": membership.community,
            "community_url": _absolute(membership.community.get_absolute_url()),
            "expiry_days": settings.INVITATION_EXPIRY_DAYS,
        },
        recipients=[membership.member.user.email],
    )


def proposal_decided(community, *, approved: bool) -> None:
    """Tell whoever proposed a knowledge community what was decided."""
    if community.proposed_by is None:
        return
    _send(
        subject=_("Your proposal: %(community)s") % {"community": community.name},
        template="communities/email/proposal_decided.txt",
        context={
            "community": community,
            "approved": approved,
            "community_url": _absolute(community.get_absolute_url()),
        },
        recipients=[community.proposed_by.user.email],
    )
