from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _


class DepartmentManager(models.Manager):
    def named(self, name: str) -> "Department | None":
        """The department called ``name``, found again by slug ("claims" is "Claims"),
        created if new; ``None`` for an empty name. For one person's record (single
        sign-on, provisioning); the HR sync resolves a whole file's at once."""
        name = name.strip()[:120]
        if not name:
            return None
        base = slugify(name)[:120] or "department"
        found = self.filter(name=name).first() or self.filter(slug=base).first()
        if found is not None:
            return found
        slug, n = base, 2
        while self.filter(slug=slug).exists():
            slug, n = f"{base[:110]}-{n}", n + 1
        return self.create(name=name, slug=slug)


class Department(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)

    objects = DepartmentManager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self):
        return self.name


class MemberQuerySet(models.QuerySet):
    def active(self):
        """People whose account is not switched off.

        Asked as "no inactive account behind this person" rather than as a join to
        every user: PostgreSQL answers it from a partial index of the few inactive
        accounts (migration 0003), so a count of a search never reads the users table.
        """
        inactive = get_user_model().objects.filter(pk=OuterRef("user_id"), is_active=False)
        return self.filter(~Exists(inactive))

    def for_directory(self):
        """People as the directory lists them: user and department in one query."""
        return self.active().select_related("user", "department").order_by("display_name", "pk")

    def search(self, text: str, departments=None):
        """Narrow by name, job title, department or expertise (case-insensitive).

        Every condition is on the member row itself (departments are looked up
        first, a small table), so PostgreSQL can combine its trigram indexes.
        ``departments``, (pk, slug, name) of every department when the caller has
        them already, spares the query: names are then matched here.
        """
        if not text:
            return self
        if departments is None:
            departments = list(
                Department.objects.filter(name__icontains=text).values_list("pk", flat=True)
            )
        else:
            needle = text.upper()
            departments = [pk for pk, _slug, name in departments if needle in name.upper()]
        return self.filter(
            Q(display_name__icontains=text)
            | Q(job_title__icontains=text)
            | Q(expertise__icontains=text)
            | Q(department_id__in=departments)
        )


class MemberManager(models.Manager.from_queryset(MemberQuerySet)):
    def for_user(self, user) -> "Member":
        """The user's Member, created on first use (createsuperuser, admin, SSO)."""
        member, _created = self.get_or_create(
            user=user,
            defaults={"display_name": user.get_full_name() or user.get_username()},
        )
        return member


class Member(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member"
    )
    display_name = models.CharField(_("display name"), max_length=150, db_index=True)
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
    )
    location = models.CharField(_("location"), max_length=120, blank=True)
    expertise = models.CharField(
        _("expertise"),
        max_length=500,
        blank=True,
        help_text=_("Comma-separated topics people can ask you about."),
    )
    bio = models.TextField(_("about"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemberManager()

    class Meta:
        ordering = ["display_name"]
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self):
        return self.display_name

    def get_absolute_url(self):
        return reverse("members:member_detail", args=[self.user.get_username()])

    @property
    def email(self) -> str:
        return self.user.email

    @property
    def expertise_list(self) -> list[str]:
        return [topic.strip() for topic in self.expertise.split(",") if topic.strip()]
