"""The email outbox: emails written in the caller's transaction, sent by the worker.

``queue_emails`` stores each email as an ``OutboxMessage`` inside the transaction that
causes it: a rollback leaves no row, so nothing is ever sent for a change that did not
happen. After the commit it asks the task queue to send what is due (``send_due``);
a sweep every minute (a django-q schedule, background/migrations/0002) sends anything
that request missed.

Sending claims one row at a time with a conditional UPDATE (pending → sending, with a
lease), so two workers never send the same row, on SQLite as on PostgreSQL. A failed
attempt goes back to pending with an exponential backoff (``KCDIR_EMAIL_RETRY_SECONDS``
doubled at each attempt) until ``KCDIR_EMAIL_MAX_ATTEMPTS``, then it is failed and shown
on the dashboard, where a directory admin can retry it.

At most once: a worker killed between the mail server accepting an email and the row
being marked sent leaves it "sending". When its lease runs out it is marked failed, not
sent again (the server may already have it); the dashboard says so, and Retry sends it
once more. Every attempt carries the same Message-ID, fixed when the row is written.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OutboxMessage

logger = logging.getLogger(__name__)

State = OutboxMessage.State

INTERRUPTED = (
    "The worker stopped while sending this email, so the mail server may or may not have "
    "it. It was not sent again, to never send it twice: Retry sends it once more."
)
# The worker waits out a backoff this short itself; longer ones wait for the sweep.
WAIT_IN_TASK_SECONDS = 30


def queue_emails(messages: list[EmailMessage]) -> list[OutboxMessage]:
    """Store the emails in the current transaction; send them after it commits."""
    rows = [
        OutboxMessage(
            recipients=list(message.to),
            subject=message.subject,
            body=message.body,
            from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
            headers={"Message-ID": make_msgid(domain=DNS_NAME), **message.extra_headers},
        )
        for message in messages
        if message.to
    ]
    if not rows:
        return []
    rows = OutboxMessage.objects.bulk_create(rows)
    pks = [row.pk for row in rows]
    transaction.on_commit(lambda: request_sending(pks))
    return rows


def request_sending(pks: list[int]) -> None:
    """Ask for the due emails to be sent: by the worker, or, when ``KCDIR_TASKS``
    is ``inline`` (the tests), these ones here and now through the worker's code."""
    if settings.KCDIR_TASKS == "inline":
        _send_batch(pks)
        return
    from .tasks import enqueue_send_due

    try:
        enqueue_send_due()
    except Exception:  # the change is saved; the minute's sweep sends its emails
        logger.exception("Could not queue the sending of emails; the sweep will send them")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.KCDIR_EMAIL_RETRY_SECONDS * 2 ** max(attempts - 1, 0))


def _as_email(row: OutboxMessage) -> EmailMessage:
    return EmailMessage(
        row.subject, row.body, row.from_email, list(row.recipients), headers=row.headers
    )


def expire_interrupted() -> int:
    """Mark failed the emails whose sending was interrupted (their lease ran out)."""
    return OutboxMessage.objects.filter(state=State.SENDING, lease_until__lt=timezone.now()).update(
        state=State.FAILED, lease_until=None, last_error=INTERRUPTED
    )


def _claim(pk: int) -> OutboxMessage | None:
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(
        pk=pk, state=State.PENDING, next_attempt_at__lte=now
    ).update(
        state=State.SENDING,
        attempts=F("attempts") + 1,
        lease_until=now + timedelta(seconds=settings.KCDIR_EMAIL_LEASE_SECONDS),
    )
    return OutboxMessage.objects.get(pk=pk) if claimed else None


def _record_failure(row: OutboxMessage, error: Exception) -> None:
    text = f"{type(error).__name__}: {error}"[:2000]
    if row.attempts >= settings.KCDIR_EMAIL_MAX_ATTEMPTS:
        changes = {"state": State.FAILED}
        logger.error("Email %s failed after %d attempts: %s", row.pk, row.attempts, text)
    else:
        changes = {
            "state": State.PENDING,
            "next_attempt_at": timezone.now() + _backoff(row.attempts),
        }
        logger.warning("Email %s attempt %d failed: %s", row.pk, row.attempts, text)
    OutboxMessage.objects.filter(pk=row.pk, state=State.SENDING).update(
        lease_until=None, last_error=text, **changes
    )


def _send_batch(pks: list[int]) -> int:
    sent = 0
    connection = get_connection(fail_silently=False)
    opened = False
    try:
        for pk in pks:
            row = _claim(pk)
            if row is None:  # another worker has it, or it was sent meanwhile
                continue
            try:
                if not opened:
                    connection.open()
                    opened = True
                connection.send_messages([_as_email(row)])
            except Exception as error:
                _record_failure(row, error)
                connection.close()  # the next email starts on a fresh connection
                opened = False
                continue
            OutboxMessage.objects.filter(pk=row.pk, state=State.SENDING).update(
                state=State.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
            )
            sent += 1
    finally:
        connection.close()
    return sent


def send_due(*, wait_for_retries: bool = True, limit: int = 500) -> int:
    """Send every email that is due, one claimed row at a time over one connection.
    With ``wait_for_retries``, keep going while the next retry (or the end of an
    interrupted send's lease) is within ``WAIT_IN_TASK_SECONDS``. Returns how many were
    sent."""
    sent = 0
    while True:
        expire_interrupted()
        now = timezone.now()
        due = list(
            OutboxMessage.objects.filter(state=State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            sent += _send_batch(due)
            continue
        if not wait_for_retries:
            return sent
        # The next retry, or the end of an interrupted send's lease.
        upcoming = min(
            [
                moment
                for moment in (
                    OutboxMessage.objects.filter(state=State.PENDING)
                    .order_by("next_attempt_at")
                    .values_list("next_attempt_at", flat=True)
                    .first(),
                    OutboxMessage.objects.filter(state=State.SENDING)
                    .order_by("lease_until")
                    .values_list("lease_until", flat=True)
                    .first(),
                )
                if moment is not None
            ],
            default=None,
        )
        if upcoming is None or upcoming - now > timedelta(seconds=WAIT_IN_TASK_SECONDS):
            return sent
        time.sleep(max((upcoming - now).total_seconds(), 0.05))


@transaction.atomic
def retry_failed(*, message_id: int) -> bool:
    """Put a failed email back in the queue with a fresh set of attempts."""
    updated = OutboxMessage.objects.filter(pk=message_id, state=State.FAILED).update(
        state=State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    if updated:
        transaction.on_commit(lambda: request_sending([message_id]))
    return bool(updated)


def failed_messages(*, limit: int = 50):
    """The failed emails, most recent first (the dashboard's list)."""
    return OutboxMessage.objects.filter(state=State.FAILED).order_by("-next_attempt_at", "-pk")[
        :limit
    ]


def stuck_since(*, minutes: int):
    """Whether an email has been due for longer than ``minutes`` (for /healthz/)."""
    return OutboxMessage.objects.filter(
        state=State.PENDING, next_attempt_at__lt=timezone.now() - timedelta(minutes=minutes)
    ).exists()
