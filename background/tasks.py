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
