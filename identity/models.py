from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentityLink(models.Model):
    """A kcdir account as an identity provider knows it: the provider's key (from the
    settings) and the subject it names the person by for good. Single sign-on matches
    people by this pair only, never by an email address."""

    provider = models.CharField(_("provider"), max_length=40)
    subject = models.CharField(_("subject"), max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="identity_links",
    )
    created_at = models.DateTimeField(_("linked at"), auto_now_add=True)
    last_sign_in_at = models.DateTimeField(_("last sign-in"), null=True, blank=True)

    class Meta:
        verbose_name = _("identity provider link")
        verbose_name_plural = _("identity provider links")
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="identity_link_unique"),
            # One account per person at each provider.
            models.UniqueConstraint(fields=["provider", "user"], name="identity_link_one_per_user"),
        ]

    def __str__(self):
        return f"{self.provider}:{self.subject}"


class SeenAssertion(models.Model):
    """A SAML assertion kcdir has accepted, kept until it expires so the same response
    posted again (from any browser or process) is refused."""

    provider = models.CharField(_("provider"), max_length=40)
    assertion_id = models.CharField(_("assertion ID"), max_length=255)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("accepted SAML assertion")
        verbose_name_plural = _("accepted SAML assertions")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "assertion_id"], name="identity_seen_assertion_unique"
            ),
        ]

    def __str__(self):
        return f"{self.provider}:{self.assertion_id}"
