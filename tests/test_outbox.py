"""The outbox in this process: the dashboard's failed emails and Retry, /healthz/ on a
stuck queue, the sweep's schedule. tests/worker/ runs the real worker."""

from datetime import timedelta

import pytest
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from background import outbox
from background.models import Job, OutboxMessage
from background.tasks import delete_old_records

from .pages import visible_text

State = OutboxMessage.State
DASHBOARD = reverse("communities:dashboard")


def failed(subject="You are now in Claims Turnaround", **fields) -> OutboxMessage:
    return OutboxMessage.objects.create(
        recipients=["quinn@example.org"],
        subject=subject,
        body="Hello.",
        from_email="kcdir@localhost",
        headers={"Message-ID": "<retry-1@kcdir.example.org>"},
        state=State.FAILED,
        attempts=8,
        last_error="SMTPRecipientsRefused: 550 no such mailbox",
        **fields,
    )


def test_the_dashboard_lists_failed_emails_with_their_error_and_a_retry_button(
    client, directory_admin
):
    failed()
    OutboxMessage.objects.create(
        recipients=["sent@example.org"], subject="Delivered", body="", from_email="x"
    )
    client.force_login(directory_admin)

    response = client.get(DASHBOARD)

    text = visible_text(response)
    assert "Failed emails 1" in text
    assert "quinn@example.org" in text
    assert "You are now in Claims Turnaround" in text
    assert "550 no such mailbox" in text
    assert "Delivered" not in text
    assert 'aria-label="Retry the email' in response.content.decode()


def test_the_dashboard_says_when_no_email_failed(client, directory_admin):
    client.force_login(directory_admin)

    assert "No failed emails" in visible_text(client.get(DASHBOARD))


def test_retry_sends_a_failed_email_once_more(
    client, directory_admin, mailoutbox, django_capture_on_commit_callbacks
):
    email = failed()
    client.force_login(directory_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("communities:email_retry", args=[email.pk]))

    assert response.status_code == 302
    email.refresh_from_db()
    assert email.state == State.SENT and email.attempts == 1
    [sent] = mailoutbox
    assert sent.to == ["quinn@example.org"]
    assert sent.message()["Message-ID"] == email.message_id
    assert "No failed emails" in visible_text(client.get(DASHBOARD))


def test_retrying_an_email_that_is_not_failed_changes_nothing(client, directory_admin):
    email = failed()
    OutboxMessage.objects.filter(pk=email.pk).update(state=State.SENT)
    client.force_login(directory_admin)

    response = client.post(reverse("communities:email_retry", args=[email.pk]), follow=True)

    assert "no longer failed" in visible_text(response)
    email.refresh_from_db()
    assert email.state == State.SENT


def test_an_email_keeps_its_message_id_on_every_attempt(db, mailoutbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    [row] = outbox.queue_emails([EmailMessage("Hi", "Hello.", None, ["a@example.org"])])
    assert row.message_id.startswith("<") and row.message_id.endswith(">")

    outbox.send_due(wait_for_retries=False)

    [sent] = mailoutbox
    assert sent.message()["Message-ID"] == row.message_id


def test_a_failed_attempt_waits_longer_each_time_then_fails(db, settings, monkeypatch):
    settings.KCDIR_EMAIL_RETRY_SECONDS = 60
    settings.KCDIR_EMAIL_MAX_ATTEMPTS = 3

    class Refusing:
        def __init__(self, *args, **kwargs):
            pass

        def open(self):
            raise ConnectionRefusedError("no mail server")

        def close(self):
            pass

    monkeypatch.setattr(outbox, "get_connection", Refusing)
    [row] = outbox.queue_emails([EmailMessage("Hi", "Hello.", None, ["a@example.org"])])
    waits = []
    for _attempt in range(3):
        OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        before = timezone.now()
        outbox.send_due(wait_for_retries=False)
        row.refresh_from_db()
        waits.append(round((row.next_attempt_at - before).total_seconds() / 60))

    assert waits[:2] == [1, 2]  # one minute, then two
    assert row.state == State.FAILED and row.attempts == 3
    assert "no mail server" in row.last_error


@pytest.mark.parametrize("minutes_ago, status", [(1, 200), (20, 503)])
def test_health_reports_an_email_due_for_too_long(client, db, settings, minutes_ago, status):
    settings.KCDIR_QUEUE_STUCK_MINUTES = 15
    OutboxMessage.objects.create(
        recipients=["a@example.org"],
        subject="Hi",
        body="",
        from_email="x",
        next_attempt_at=timezone.now() - timedelta(minutes=minutes_ago),
    )

    response = client.get("/healthz/")

    assert response.status_code == status
    if status == 503:
        assert b"email outbox stuck" in response.content


def test_health_reports_a_task_nobody_took(client, db, settings):
    settings.KCDIR_QUEUE_STUCK_MINUTES = 15
    assert client.get("/healthz/").status_code == 200

    OrmQ.objects.create(key="kcdir", payload="x", lock=timezone.now() - timedelta(minutes=30))

    response = client.get("/healthz/")
    assert response.status_code == 503
    assert b"task queue stuck" in response.content


def test_failed_emails_do_not_make_the_queue_look_stuck(client, db):
    failed(next_attempt_at=timezone.now() - timedelta(days=2))

    assert client.get("/healthz/").status_code == 200


def test_due_emails_are_swept_every_minute(db):
    schedule = Schedule.objects.get(func="background.tasks.send_due_emails")

    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1


def test_sent_emails_and_finished_jobs_are_deleted_after_thirty_days(db):
    old = timezone.now() - timedelta(days=31)
    for sent_at in (old, timezone.now()):
        OutboxMessage.objects.create(
            recipients=["a@example.org"],
            subject="Hi",
            body="",
            from_email="x",
            state=State.SENT,
            sent_at=sent_at,
        )
    old_failure = failed(next_attempt_at=old)
    Job.objects.create(label="Old", func="x", state=Job.State.DONE, finished_at=old)
    Job.objects.create(label="New", func="x", state=Job.State.DONE, finished_at=timezone.now())

    assert delete_old_records() == (1, 1)
    assert OutboxMessage.objects.filter(state=State.SENT).count() == 1
    assert OutboxMessage.objects.filter(pk=old_failure.pk).exists()  # until retried
    assert list(Job.objects.values_list("label", flat=True)) == ["New"]
    assert Schedule.objects.filter(func="background.tasks.delete_old_records").exists()


@pytest.mark.parametrize(
    "command",
    [
        "lapse_invitations",
        "clear_stale_imports",
        "expire_memberships",
        "run_reviews",
        "evaluate_rules",
    ],
)
def test_the_worker_runs_the_daily_commands(db, command):
    schedule = Schedule.objects.get(func="django.core.management.call_command", args=f"'{command}'")

    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
    assert schedule.next_run > timezone.now()
