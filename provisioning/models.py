"""SCIM provisioning's own records: the bearer tokens identity providers use, the
identity each provisioned person has there, and the groups they push."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from communities.models import Community
from members.models import Department


class ScimTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at=None)


class ScimToken(models.Model):
    """A bearer token an identity provider sends to ``/scim/v2/``. Only its SHA-256 is
    kept: the value is shown once, when it is made (``services.create_token``)."""

    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_("The identity provider it is for, as people should read it: “Entra ID”."),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ScimTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("SCIM token")
        verbose_name_plural = _("SCIM tokens")

    def __str__(self):
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ProvisionedUser(models.Model):
    """A person as the identity provider knows them: its ``externalId`` for them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provisioned"
    )
    external_id = models.CharField(_("external id"), max_length=255, blank=True, db_index=True)
    provider_name = models.CharField(_("identity provider"), max_length=100, blank=True)
    # Set by a SCIM DELETE: the account is deactivated, kept, and no longer shown to the
    # provider (RFC 7644 section 3.6: a deleted resource answers 404); creating the same
    # userName again brings it back.
    deleted_at = models.DateTimeField(_("deleted by the provider"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("provisioned user")
        verbose_name_plural = _("provisioned users")

    def __str__(self):
        return self.external_id or str(self.user_id)


class ProvisionedGroup(models.Model):
    """A group the identity provider pushes. It is a department (people in the group
    have it as their department) unless a directory admin links it to a knowledge
    community: then it is that community's membership list."""

    display_name = models.CharField(_("name"), max_length=120, unique=True)
    external_id = models.CharField(_("external id"), max_length=255, blank=True, db_index=True)
    provider_name = models.CharField(_("identity provider"), max_length=100, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    community = models.OneToOneField(
        Community,
        verbose_name=_("knowledge community"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="provisioned_group",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["display_name"]
        verbose_name = _("provisioned group")
        verbose_name_plural = _("provisioned groups")

    def __str__(self):
        return self.display_name
