"""The email outbox: each email kcdir sends is first a row here, written in the same
transaction as the change that causes it, then sent by the worker (background/outbox.py).
"""

from django.db import models
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
