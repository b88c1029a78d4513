"""The email outbox: each email kcdir sends is first a row here, written in the same
transaction as the change that causes it, then sent by the worker (background/outbox.py).
"""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    recipients = models.JSONField(help_text=_("The addresses the email goes to."))
    subject = models.CharField(max_length=998)
    body = models.TextField()
    from_email = models.CharField(max_length=254)
    # Message-ID among them: fixed when the row is written, the same on every attempt.
    headers = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # While "sending": when the attempt is over for sure (the claim's lease).
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The worker's question: what is due? And /healthz/'s: since when?
            models.Index(fields=["state", "next_attempt_at"], name="outbox_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "sending", "sent", "failed"]),
                name="outbox_state_valid",
            ),
        ]

    def __str__(self):
        return f"{self.subject} → {', '.join(self.recipients)} ({self.state})"

    @property
    def message_id(self) -> str:
        return self.headers.get("Message-ID", "")


class Job(models.Model):
    """A long action run by the worker (a big roster import), with the progress and the
    outcome its page shows to whoever started it."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting for the worker")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    label = models.CharField(max_length=200)
    func = models.CharField(max_length=200)  # the dotted path of what runs
    args = models.JSONField(default=list)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.TextField(blank=True)  # what happened, for its page
    error = models.TextField(blank=True)
    # Where the page leads once the job is over.
    return_url = models.CharField(max_length=500, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "running", "done", "failed"]),
                name="job_state_valid",
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.state})"

    def get_absolute_url(self):
        return reverse("background:job_detail", args=[self.pk])

    @property
    def is_over(self) -> bool:
        return self.state in {self.State.DONE, self.State.FAILED}

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(99, 100 * self.done // self.total) if self.total else 0


class JobFile(models.Model):
    """What a job produced for download (an export), gzip-compressed, kept in the
    database so that the worker and every web process see it wherever they run."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="file")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()  # bytes, uncompressed
    data = models.BinaryField()

    def __str__(self):
        return self.name
