"""The worker for real: a process of its own, a mail server on loopback, the database
shared with this test. Emails are sent once, retried with backoff when the mail server
refuses them, never sent for a rolled-back change, and survive the worker's death."""

import pytest
from django.core.mail import EmailMessage
from django.db import transaction

from background import outbox
from background.models import Job, OutboxMessage
from communities import services

from ..factories import CommunityFactory, MemberFactory, led_kc, member_named
from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

State = OutboxMessage.State


def _queue(*subjects: str) -> list[OutboxMessage]:
    with transaction.atomic():
        return outbox.queue_emails(
            [EmailMessage(subject, "Hello.", None, ["pat@example.org"]) for subject in subjects]
        )


def _settled():
    return not OutboxMessage.objects.filter(state__in=[State.PENDING, State.SENDING]).exists()


def test_an_email_is_sent_by_the_worker_once(worker, mail_server):
    worker.start()
    [row] = _queue("Welcome")

    wait_for(lambda: mail_server.received, worker=worker, what="delivery")
    wait_for(_settled, worker=worker, what="marking sent")

    row.refresh_from_db()
    assert row.state == State.SENT and row.attempts == 1 and row.sent_at is not None
    assert mail_server.received == [row.message_id]


def test_a_refusing_mail_server_is_retried_with_backoff_until_it_accepts(worker, mail_server):
    mail_server.fail_next = 2
    worker.start()
    [row] = _queue("Third time lucky")

    wait_for(lambda: OutboxMessage.objects.filter(state=State.SENT).exists(), worker=worker)

    row.refresh_from_db()
    assert mail_server.refused == 2
    assert mail_server.received == [row.message_id]  # once, with the Message-ID it was given
    assert row.attempts == 3
    assert row.last_error == ""


def test_an_email_the_server_keeps_refusing_ends_failed_after_the_last_attempt(worker, mail_server):
    mail_server.fail_next = 100
    worker.start()
    [row] = _queue("Never")

    wait_for(lambda: OutboxMessage.objects.filter(state=State.FAILED).exists(), worker=worker)

    row.refresh_from_db()
    assert row.attempts == 4  # KCDIR_EMAIL_MAX_ATTEMPTS in the worker's environment
    assert "451" in row.last_error
    assert mail_server.received == []


def test_a_rolled_back_change_sends_nothing(worker, mail_server):
    worker.start()
    community = CommunityFactory(name="Claims Turnaround")
    rolled_back, kept = MemberFactory(), MemberFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.add_members(community=community, members=[rolled_back], actor=None)
        raise RuntimeError("the change failed")
    # A later change's email, to know the worker has looked since.
    services.add_members(community=community, members=[kept], actor=None)

    wait_for(lambda: mail_server.received, worker=worker, what="the later email")
    wait_for(_settled, worker=worker)
    [row] = OutboxMessage.objects.all()
    assert row.recipients == [kept.user.email]
    assert mail_server.received == [row.message_id]


def test_emails_queued_while_no_worker_runs_are_sent_when_it_starts(worker, mail_server):
    rows = _queue("One", "Two")  # queued (task and emails) with no worker running

    worker.start()

    wait_for(lambda: len(mail_server.received) == 2, worker=worker)
    assert sorted(mail_server.received) == sorted(row.message_id for row in rows)


def test_a_worker_killed_mid_queue_sends_each_email_at_most_once_after_restart(worker, mail_server):
    mail_server.hold = True  # the first delivery hangs: the worker dies inside it
    worker.start()
    first, second, third = _queue("First", "Second", "Third")
    wait_for(mail_server.holding.is_set, worker=worker, what="the first delivery")

    worker.kill()
    mail_server.release()
    assert OutboxMessage.objects.get(pk=first.pk).state == State.SENDING
    worker.start()

    wait_for(_settled, worker=worker, what="the queue to drain after the restart")
    states = dict(OutboxMessage.objects.values_list("pk", "state"))
    assert states == {first.pk: State.FAILED, second.pk: State.SENT, third.pk: State.SENT}
    # The interrupted one may have reached the server: it is not sent again by itself...
    first.refresh_from_db()
    assert first.last_error == outbox.INTERRUPTED
    assert sorted(mail_server.received) == sorted([second.message_id, third.message_id])

    # ...but once more when a directory admin retries it.
    assert outbox.retry_failed(message_id=first.pk)
    wait_for(lambda: len(mail_server.received) == 3, worker=worker)
    assert mail_server.received.count(first.message_id) == 1


def test_a_big_roster_import_is_applied_by_the_worker_and_its_emails_sent(worker, mail_server):
    steward = member_named("Stella Steward", username="stella")
    community = led_kc(sponsor=member_named("Spencer Sponsor"), steward=steward)
    member_named("Priya Patel", username="priya")
    member_named("Omar Odu", username="omar")
    pending = services.preview_roster_import(
        community=community,
        actor=steward,
        file_name="people.csv",
        text="username,role\npriya,member\nomar,member\n",
        remove_absent=False,
    )
    worker.start()

    job = services.queue_roster_import(
        roster_import=pending, actor=steward, mode=pending.mode, user=steward.user
    )

    wait_for(lambda: Job.objects.get(pk=job.pk).is_over, worker=worker, what="the job")
    job.refresh_from_db()
    assert (job.state, job.result) == (
        Job.State.DONE,
        "Import applied: 2 added, 0 roles changed, 0 removed.",
    )
    assert set(
        community.memberships.filter(member__user__username__in=["priya", "omar"]).values_list(
            "state", flat=True
        )
    ) == {"active"}
    wait_for(lambda: len(mail_server.received) == 2, worker=worker, what="the two emails")
