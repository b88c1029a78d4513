"""The functions the worker runs (django-q2: ``manage.py qcluster``)."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import OrmQ
from django_q.tasks import async_task

from . import outbox

SEND_DUE = "background.tasks.send_due_emails"


def send_due_emails() -> int:
    """Send the emails that are due (queued after each commit, and every minute)."""
    return outbox.send_due(wait_for_retries=True)


def enqueue_send_due() -> None:
    async_task(SEND_DUE, task_name="send due emails")


def queue_stuck_reason(*, minutes: int) -> str:
    """Why background work looks stuck, or "" when it does not (for /healthz/)."""
    oldest = timezone.now() - timedelta(minutes=minutes)
    # A task's lock is its enqueue time until a worker takes it.
    if OrmQ.objects.filter(lock__lt=oldest).exists():
        return f"task queue stuck: a task has waited more than {minutes} minutes"
    if outbox.stuck_since(minutes=minutes):
        return f"email outbox stuck: an email has been due for more than {minutes} minutes"
    return ""


def run_job(job_id: int) -> None:
    """Run a long action (background/jobs.py)."""
    from .jobs import run_job as run

    run(job_id)


KEEP_DAYS = 30


def delete_old_records() -> tuple[int, int]:
    """Delete sent emails and finished jobs older than ``KEEP_DAYS`` (daily). Failed
    emails stay until a directory admin retries them."""
    from .models import Job, OutboxMessage

    before = timezone.now() - timedelta(days=KEEP_DAYS)
    emails, _ = OutboxMessage.objects.filter(
        state=OutboxMessage.State.SENT, sent_at__lt=before
    ).delete()
    jobs, _ = Job.objects.filter(finished_at__lt=before).delete()
    return emails, jobs
