"""Emails about roster changes, written to the outbox in the transaction that causes
them and sent by the worker after it commits (background/outbox.py).

Who is told what (README.md, "Emails kcdir sends"): stewards of a request; the person
of a decision, an invitation (naming who invited them), being added, being removed,
and a change of role; the proposer of their proposal's outcome; directory admins of a
new proposal. Links use ``kcdir.site``'s address (``KCDIR_SITE_URL`` or the request's).

Inside ``batch()`` (bulk adds, roster imports) the messages are written together at the
end of the batch (one INSERT) and go out over one connection to the mail server.
"""

from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from background.outbox import queue_emails
from kcdir.site import absolute as _absolute
from members.models import Member

from . import access
from .models import Membership

_pending: ContextVar[list | None] = ContextVar("kcdir_mail_batch", default=None)


@contextmanager
def batch():
    """Hold the messages written inside, then store them in the outbox together."""
    if _pending.get() is not None:  # already batching
        yield
        return
    pending: list[EmailMessage] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    if pending:
        queue_emails(pending)


def _send(*, subject: str, template: str, context: dict, recipients: Iterable[str]) -> None:
    recipients = [address for address in recipients if address]
    if not recipients:
        return
    # Names go into the subject: a line break there would make Django refuse the header.
    subject = " ".join(subject.split())
    message = EmailMessage(subject, render_to_string(template, context), None, recipients)
    pending = _pending.get()
    if pending is not None:
        pending.append(message)
    else:
        queue_emails([message])


def _actor_name(actor) -> str:
    return actor.display_name if actor is not None else _("A directory admin")


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
    """Tell someone who invited them, to what, and where to answer."""
    inviter = membership.decided_by
    _send(
        subject=_("%(inviter)s invites you to join %(community)s")
        % {"inviter": _actor_name(inviter), "community": membership.community.name},
        template="communities/email/invited.txt",
        context={
            "membership": membership,
            "community": membership.community,
            "inviter": _actor_name(inviter),
            "community_url": _absolute(membership.community.get_absolute_url()),
            "expiry_days": settings.INVITATION_EXPIRY_DAYS,
        },
        recipients=[membership.member.user.email],
    )


def added(membership: Membership, *, actor) -> None:
    """Tell someone a steward (or an import) put them on a community's list."""
    _send(
        subject=_("You are now in %(community)s") % {"community": membership.community.name},
        template="communities/email/added.txt",
        context={
            "membership": membership,
            "community": membership.community,
            "actor": _actor_name(actor),
            "role": membership.get_role_display(),
            "community_url": _absolute(membership.community.get_absolute_url()),
        },
        recipients=[membership.member.user.email],
    )


def removed(membership: Membership, *, actor, state_before: str) -> None:
    """Tell someone they were taken off a list (or their invitation withdrawn)."""
    _send(
        subject=_("You are no longer on the list of %(community)s")
        % {"community": membership.community.name}
        if state_before != Membership.State.INVITED
        else _("Your invitation to %(community)s was withdrawn")
        % {"community": membership.community.name},
        template="communities/email/removed.txt",
        context={
            "membership": membership,
            "community": membership.community,
            "actor": _actor_name(actor),
            "was_invited": state_before == Membership.State.INVITED,
            "was_requested": state_before == Membership.State.REQUESTED,
            "reason": membership.note,
            "community_url": _absolute(membership.community.get_absolute_url()),
        },
        recipients=[membership.member.user.email],
    )


def role_changed(membership: Membership, *, actor) -> None:
    """Tell someone their role in a community changed."""
    _send(
        subject=_("Your role in %(community)s is now %(role)s")
        % {"community": membership.community.name, "role": membership.get_role_display()},
        template="communities/email/role_changed.txt",
        context={
            "membership": membership,
            "community": membership.community,
            "actor": _actor_name(actor),
            "role": membership.get_role_display(),
            "community_url": _absolute(membership.community.get_absolute_url()),
        },
        recipients=[membership.member.user.email],
    )


def proposal_received(community) -> None:
    """Tell every directory admin that a knowledge community was proposed."""
    admins = access.directory_admins().values_list("email", flat=True)
    _send(
        subject=_("New proposal: %(community)s") % {"community": community.name},
        template="communities/email/proposal_received.txt",
        context={
            "community": community,
            "proposer": _actor_name(community.proposed_by),
            "proposal_url": _absolute(
                reverse("communities:proposal_decide", args=[community.slug])
            ),
        },
        recipients=sorted(set(admins)),
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


def roster_imported(community, events: list[tuple], *, actor) -> None:
    """Tell each person an applied roster import added, removed or re-roled: one email
    each, over one connection. ``events`` are the import's event rows: (member id,
    name, action, state before, state after, role before, role after, note)."""
    emails = dict(
        Member.objects.filter(pk__in=[event[0] for event in events]).values_list(
            "pk", "user__email"
        )
    )
    templates = {
        "added": ("communities/email/added.txt", _("You are now in %(community)s")),
        "removed": (
            "communities/email/removed.txt",
            _("You are no longer on the list of %(community)s"),
        ),
        "role_changed": (
            "communities/email/role_changed.txt",
            _("Your role in %(community)s is now %(role)s"),
        ),
    }
    community_url = _absolute(community.get_absolute_url())
    with batch():
        for member_id, _name, action, state_before, _after, _role_before, role, _note in events:
            if action not in templates:
                continue
            template, subject = templates[action]
            role_label = Membership.Role(role).label if role else ""
            _send(
                subject=subject % {"community": community.name, "role": role_label},
                template=template,
                context={
                    "community": community,
                    "actor": _actor_name(actor),
                    "role": role_label,
                    "was_invited": state_before == Membership.State.INVITED,
                    "was_requested": state_before == Membership.State.REQUESTED,
                    "reason": "",
                    "community_url": community_url,
                },
                recipients=[emails.get(member_id, "")],
            )


def membership_ending(membership: Membership, *, ends_on) -> None:
    """Remind someone that their membership ends soon, and how to keep it."""
    community = membership.community
    _send(
        subject=_("Your membership of %(community)s ends on %(date)s")
        % {"community": community.name, "date": date_format(ends_on)},
        template="communities/email/membership_ending.txt",
        context={
            "membership": membership,
            "community": community,
            "ends_on": ends_on,
            "community_url": _absolute(community.get_absolute_url()),
            "my_communities_url": _absolute(reverse("members:my_communities")),
        },
        recipients=[membership.member.user.email],
    )


def _leaders_emails(community, role) -> list[str]:
    return list(
        Membership.objects.filter(
            community=community, state=Membership.State.ACTIVE, role=role
        ).values_list("member__user__email", flat=True)
    )


def review_started(review) -> None:
    """Tell a community's stewards that its list is to be reviewed, and by when."""
    community = review.community
    _send(
        subject=_("Review the list of %(community)s by %(date)s")
        % {"community": community.name, "date": date_format(review.due_on)},
        template="communities/email/review_started.txt",
        context={
            "community": community,
            "review": review,
            "review_url": _absolute(reverse("communities:review_detail", args=[community.slug])),
        },
        recipients=_leaders_emails(community, Membership.Role.STEWARD),
    )


def review_overdue(review) -> None:
    """Tell a community's sponsor (directory admins, when it has none) that the review
    of its list is overdue."""
    community = review.community
    recipients = _leaders_emails(community, Membership.Role.SPONSOR)
    if not recipients:
        recipients = sorted(set(access.directory_admins().values_list("email", flat=True)))
    _send(
        subject=_("Overdue: the review of %(community)s") % {"community": community.name},
        template="communities/email/review_overdue.txt",
        context={
            "community": community,
            "review": review,
            "review_url": _absolute(reverse("communities:review_detail", args=[community.slug])),
        },
        recipients=recipients,
    )
