import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Case, Count, Exists, F, OuterRef, Prefetch, Q, When
from django.db.models.functions import Coalesce, Upper
from django.db.models.lookups import Contains, Regex
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Department, Member


class PurposeQuerySet(models.QuerySet):
    def listed(self):
        """Purposes the directory shows: those a listed community (``CommunityQuerySet.
        listed()``: anything but a proposal) pursues. A purpose only proposals pursue,
        waiting or declined, is not public; nor is one no community pursues."""
        pursued = Community.purposes.through.objects.filter(purpose=OuterRef("pk")).exclude(
            community__status=Community.Status.PROPOSED
        )
        return self.filter(Exists(pursued))

    def with_community_counts(self):
        """Annotate ``community_count``: listed communities pursuing the purpose
        (``count_communities`` counts them for a page of purposes)."""
        return self.annotate(
            community_count=Count(
                "communities", filter=~Q(communities__status="proposed"), distinct=True
            )
        )

    def search(self, text: str):
        if not text:
            return self
        return self.filter(Q(statement__icontains=text) | Q(description__icontains=text))


def count_communities(purposes) -> list:
    """Set ``community_count`` (the listed communities pursuing it) on each purpose: one
    query for a page of purposes. Returns them as a list."""
    purposes = list(purposes)
    counts = dict(
        Community.purposes.through.objects.filter(purpose_id__in=[p.pk for p in purposes])
        .exclude(community__status=Community.Status.PROPOSED)
        .order_by()
        .values_list("purpose_id")
        .annotate(n=Count("community_id"))
    )
    for purpose in purposes:
        purpose.community_count = counts.get(purpose.pk, 0)
    return purposes


class Purpose(models.Model):
    class Orientation(models.TextChoices):
        SHAPE_FUTURE = "shape_future", _("Shape the future")
        SPREAD_PRACTICE = "spread_practice", _("Spread practice and bring people up to speed")

    statement = models.CharField(_("statement"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    orientation = models.CharField(
        _("orientation"), max_length=20, choices=Orientation.choices, db_index=True
    )
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PurposeQuerySet.as_manager()

    class Meta:
        ordering = ["statement"]
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")

    def __str__(self):
        return self.statement

    def get_absolute_url(self):
        return reverse("communities:purpose_detail", args=[self.slug])


def validate_links(value: str) -> None:
    """Every line of a community's ``links`` is a web address, optionally after a title
    and a bar ("Team site | https://…"): what ``Community.link_list`` shows."""
    for number, line in enumerate(value.splitlines(), start=1):
        if not line.strip():
            continue
        _title, _sep, url = line.rpartition("|")
        url = url.strip()
        if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
            raise ValidationError(
                _(
                    "Line %(number)s is not a web address: write one address a line, "
                    "starting with https://, optionally after a title and a bar "
                    "(“Team site | https://…”)."
                ),
                code="invalid_link",
                params={"number": number},
            )


class CommunityQuerySet(models.QuerySet):
    def listed(self):
        """Communities a directory shows: everything but proposals."""
        return self.exclude(status=Community.Status.PROPOSED)

    def live(self):
        """Communities that are there today: listed and not archived (active or dormant)."""
        return self.listed().exclude(status=Community.Status.ARCHIVED)

    def with_counts(self):
        """The communities with their ``active_member_count``: a stored column now (the
        membership services keep it), so nothing is counted; kept for its callers."""
        return self

    def recount_members(self) -> int:
        """Store each community's ``active_member_count`` afresh, counted from its
        memberships: one statement. For the services' bulk changes (which hold the
        communities' row locks), data loaders and repairs."""
        active = (
            Membership.objects.filter(community=OuterRef("pk"), state=Membership.State.ACTIVE)
            .order_by()
            .values("community")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.update(active_member_count=Coalesce(models.Subquery(active), 0))

    def with_leaders(self, *, users: bool = True):
        """Prefetch purposes and active sponsors/stewards (as ``leaders``) for cards.
        ``users=False``: the leaders' members without their users, for what shows only
        their names (a card), not links to their profiles."""
        leaders = (
            Membership.objects.filter(
                state=Membership.State.ACTIVE,
                role__in=[Membership.Role.SPONSOR, Membership.Role.STEWARD],
            )
            .select_related("member__user" if users else "member")
            .order_by("role", "member__display_name")
        )
        if not users:
            # What the ``membership_leaders`` index holds, and the member's name.
            leaders = leaders.only("community", "role", "member__display_name")
        return self.prefetch_related(
            Prefetch("purposes", queryset=Purpose.objects.order_by("statement")),
            Prefetch("memberships", queryset=leaders, to_attr="leaders"),
        )

    def for_directory(self):
        """Listed communities with what a card shows (the member count is a column; the
        stewards by name only)."""
        return self.listed().with_leaders(users=False)

    def search(self, text: str):
        """Narrow to communities where every word of ``text`` starts a word of the name,
        the summary or a purpose's statement ("AI" finds "AI Guild", not "Claims"),
        annotating ``search_rank``: 0 when every word is in the name, 1 in the name or
        summary, 2 when a purpose is needed. ``ranked()`` orders by it.

        Each word's matches are asked as sets of ids, one per column, so PostgreSQL finds
        them through the trigram indexes on ``UPPER(column)`` (migration 0005) and never
        runs a regular expression over every community (10,000 communities, "python": the
        page 16 ms and its count 17 ms, against 367 ms and 190 ms)."""
        words = search_words(text)
        if not words:
            return self
        name, summary, anywhere = Q(), Q(), Q()
        for word in words:
            pattern = word_start_pattern(word)
            name_ids = _ids_where(Community.objects, "name", pattern, word)
            summary_ids = _ids_where(Community.objects, "summary", pattern, word)
            pursued = Community.purposes.through.objects.filter(
                purpose__in=_ids_where(Purpose.objects, "statement", pattern, word)
            ).values("community_id")
            # The rank tests the matched row's own columns: the same answer as asking
            # the sets of ids again, for the few rows found, and half the subqueries for
            # the ORM to build (a two-word search took 16 ms to build, 8 ms now).
            in_name = _word_in("name", pattern, word)
            name &= in_name
            summary &= in_name | _word_in("summary", pattern, word)
            # The word's matches as one set: PostgreSQL starts from them (a few hundred
            # ids), not from every community's row with three tests each.
            anywhere &= Q(pk__in=name_ids.union(summary_ids, pursued, all=True))
        return self.filter(anywhere).annotate(
            search_rank=Case(
                When(name, then=0),
                When(summary, then=1),
                default=2,
                output_field=models.IntegerField(),
            )
        )

    def ranked(self):
        """Best matches first (``search()``'s ``search_rank``), then by name."""
        return self.order_by("search_rank", "name", "pk")

    def with_status(self, status: str):
        """Narrow by status: ``""`` is the default view (archived hidden), ``"all"``
        is every listed community, anything else that status."""
        if status == "all":
            return self
        if not status:
            return self.exclude(status=Community.Status.ARCHIVED)
        return self.filter(status=status)

    def in_department(self, department):
        """Communities with an active member (any role) from ``department``.

        ``department`` is a ``Department`` or its id. Asked of the memberships' own copy
        of their member's department (``Membership.member_department_id``), through its
        index: a department of 1,000 people is 7,400 index entries, never its people's
        rows, where asking each community in turn for a member of the department read
        the department's people once per community (0.5 ms each, 60 ms for a search's
        120 candidates)."""
        communities = Membership.objects.filter(
            state=Membership.State.ACTIVE,
            member_department_id=getattr(department, "pk", department),
        ).values("community_id")
        return self.filter(pk__in=communities)

    def pursuing(self, purpose):
        """Communities pursuing ``purpose`` (a ``Purpose``, or its slug)."""
        chosen = Q(purpose__slug=purpose) if isinstance(purpose, str) else Q(purpose=purpose)
        return self.filter(
            Exists(Purpose.communities.through.objects.filter(chosen, community=OuterRef("pk")))
        )

    def sorted_by(self, sort: str):
        if sort == "newest":
            return self.order_by("-created_at", "-pk")
        if sort == "members":
            # The stored count, read in the order of its index (``community_by_members``).
            return self.order_by("-active_member_count", "name", "pk")
        return self.order_by("name", "pk")


def _word_in(column: str, pattern: str, word: str) -> Q:
    """The row's upper-cased ``column`` matches ``pattern`` (``word_start_pattern(word)``).
    The column must hold the word (``LIKE``) before the pattern is tried: SQLite asks
    Python for every regular expression, 10,000 calls a column, and ``LIKE`` leaves it
    the few rows that have the word at all."""
    upper = Upper(column)
    return Q(Contains(upper, word), Regex(upper, pattern))


def _ids_where(queryset, column: str, pattern: str, word: str):
    """The ids of ``queryset``'s rows whose ``column`` matches (``_word_in``): built as
    one filter, not an annotation and two filters (each a copy of the query)."""
    return queryset.filter(_word_in(column, pattern, word)).values("pk").order_by()


def search_words(text: str) -> list[str]:
    """The words of a search, upper-cased (as the trigram indexes are), at most 8: its
    pieces between spaces, without the punctuation around them ("(AI)," is "AI").
    A piece that is only punctuation or symbols ("%", "☕") is kept as it is."""
    words = []
    for piece in (text or "").upper().split():
        word = re.sub(r"^[\W_]+|[\W_]+$", "", piece) if re.search(r"[^\W_]", piece) else piece
        if word not in words:
            words.append(word)
    return words[:8]


def word_start_pattern(word: str) -> str:
    """A regular expression for ``word`` at the start of a word ("AI" finds "AI Guild",
    not "Claims"), for this database: PostgreSQL writes the word boundary ``\\m``,
    Python (SQLite's REGEXP) ``\\b``. A word that begins with a symbol matches anywhere."""
    if not re.match(r"\w", word):
        return re.escape(word)
    boundary = r"\m" if connection.vendor == "postgresql" else r"\b"
    return boundary + re.escape(word)


def count_members(communities) -> list:
    """The communities as a list, each with its ``active_member_count``: the stored
    column, so no query (kept for its callers)."""
    return list(communities)


def active_member_counts(community_ids=None):
    """Community id -> its active memberships, counted from the memberships (what
    ``Community.active_member_count`` stores), for ``community_ids`` or every community:
    for the services that recount and the tests that check the stored count."""
    memberships = Membership.objects.filter(state=Membership.State.ACTIVE)
    if community_ids is not None:
        memberships = memberships.filter(community_id__in=community_ids)
    return dict(memberships.order_by().values_list("community_id").annotate(n=Count("pk")))


class Community(models.Model):
    class Kind(models.TextChoices):
        COP = "cop", _("Community of practice")
        KC = "kc", _("Knowledge community")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        ACTIVE = "active", _("Active")
        DORMANT = "dormant", _("Dormant")
        ARCHIVED = "archived", _("Archived")

    class JoinPolicy(models.TextChoices):
        OPEN = "open", _("Open: anyone can join")
        REQUEST = "request", _("On request: stewards approve")
        INVITE = "invite", _("By invitation only")

    class Stage(models.TextChoices):
        # Botkin's ladder, in order.
        SHARING = "sharing", _("Sharing")
        COOPERATION = "cooperation", _("Cooperation")
        COMMUNITY = "community", _("Community")
        COMMON_GOOD = "common_good", _("Common good")

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=160, unique=True)
    kind = models.CharField(_("kind"), max_length=3, choices=Kind.choices)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    join_policy = models.CharField(
        _("join policy"),
        max_length=10,
        choices=JoinPolicy.choices,
        default=JoinPolicy.REQUEST,
        help_text=_("Knowledge communities only; people simply practise in a CoP."),
    )
    stage = models.CharField(
        _("stage"), max_length=12, choices=Stage.choices, default=Stage.SHARING
    )
    cadence = models.CharField(
        _("meeting cadence"), max_length=150, blank=True, help_text=_("e.g. Every other Tuesday")
    )
    links = models.TextField(
        _("links"),
        blank=True,
        help_text=_("One address a line, optionally 'Title | address'."),
        validators=[validate_links],
    )
    purposes = models.ManyToManyField(
        Purpose, verbose_name=_("purposes"), related_name="communities", blank=True
    )
    formed_from = models.ForeignKey(
        "self",
        verbose_name=_("formed from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="formalised_as",
        help_text=_("The community of practice this knowledge community grew out of."),
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_from",
        help_text=_("Set when a duplicate was merged into another community."),
    )
    # Proposals (status "proposed"): who asked, whom they suggest, and the decision.
    proposed_by = models.ForeignKey(
        Member,
        verbose_name=_("proposed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    suggested_sponsor = models.ForeignKey(
        Member,
        verbose_name=_("suggested sponsor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The proposer's "Why now", for the directory admins who decide: never the public
    # ``summary``, and shown nowhere else.
    proposal_note = models.TextField(_("why now"), blank=True)
    # Its active memberships, kept by the membership services in the transaction that
    # changes them (``services._counts``), so the directory sorts by it from an index
    # and never counts a whole directory's memberships (backfilled by migration 0019).
    active_member_count = models.PositiveIntegerField(
        _("active members"), default=0, editable=False
    )
    # Set (to the identity provider's name) while a directory group in that provider
    # decides who is on the list (SCIM provisioning): people then neither join nor leave
    # here (``access.membership_managed_by``). Empty: the list is kcdir's own.
    membership_managed_by = models.CharField(
        _("membership managed by"), max_length=100, blank=True, editable=False
    )
    declined_at = models.DateTimeField(_("proposal declined"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = CommunityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        indexes = [
            models.Index(fields=["kind", "status"], name="community_kind_status"),
            models.Index(fields=["stage"], name="community_stage"),
            # The directory's three orders, each holding what its filters ask most
            # (status, kind): a deep page skips through the index alone, never reading
            # the rows it skips (PostgreSQL; SQLite has no INCLUDE).
            models.Index(
                fields=["name", "id"], include=["status", "kind"], name="community_by_name"
            ),
            models.Index(
                fields=["-created_at", "-id"],
                include=["status", "kind"],
                name="community_newest",
            ),
            models.Index(
                fields=["-active_member_count", "name", "id"],
                include=["status", "kind"],
                name="community_by_members",
            ),
        ]
        permissions = [
            ("manage_directory", _("Can curate every community (directory admin)")),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("communities:community_detail", args=[self.slug])

    @property
    def is_kc(self) -> bool:
        return self.kind == self.Kind.KC

    @property
    def is_cop(self) -> bool:
        return self.kind == self.Kind.COP

    @property
    def stage_index(self) -> int:
        return list(self.Stage.values).index(self.stage)

    # ``stewards`` and ``sponsor`` read the ``leaders`` that
    # ``CommunityQuerySet.with_leaders()`` prefetches: no query of their own.
    @property
    def stewards(self) -> list[Member]:
        return [m.member for m in self.leaders if m.role == Membership.Role.STEWARD]

    @property
    def sponsor(self) -> Member | None:
        return next((m.member for m in self.leaders if m.role == Membership.Role.SPONSOR), None)

    @property
    def link_list(self) -> list[tuple[str, str]]:
        """``links`` parsed into (title, url) pairs; only http(s) addresses."""
        pairs = []
        for line in self.links.splitlines():
            title, _sep, url = line.rpartition("|")
            url = url.strip()
            if url.startswith(("https://", "http://")):
                pairs.append((title.strip() or url, url))
        return pairs


# Sponsor, stewards, everyone else: ``roster()``'s order (with ``sort_name``). PostgreSQL
# has an index on this very expression (migration 0008).
ROLE_RANK = models.Case(
    models.When(role="sponsor", then=models.Value(0)),
    models.When(role="steward", then=models.Value(1)),
    default=models.Value(2),
)


# What ``MembershipQuerySet.by_member_name()`` orders by (and its cursors compare): the
# membership row's copy of the member's display name, kept by triggers (migration 0008).
MEMBER_NAME = "sort_name"


def invitations_lapse_before(now: datetime | None = None) -> datetime:
    """Invitations sent (or sent again) before this moment have lapsed: they were not
    answered within ``INVITATION_EXPIRY_DAYS`` days."""
    return (now or timezone.now()) - timedelta(days=settings.INVITATION_EXPIRY_DAYS)


class MembershipQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state=Membership.State.ACTIVE)

    def waiting_in(self, community_ids=None):
        """Requests waiting for a decision, oldest first: in the communities whose ids
        are ``community_ids`` (a list or a subquery; every community when ``None``),
        never in archived or proposed ones (``access.requests_decidable_by`` asks
        this for a steward or a directory admin)."""
        waiting = self.filter(state=Membership.State.REQUESTED).exclude(
            community__status__in=[Community.Status.ARCHIVED, Community.Status.PROPOSED]
        )
        if community_ids is not None:
            waiting = waiting.filter(community_id__in=community_ids)
        return waiting.order_by("updated_at", "pk")

    def lapsed_invitations(self, now: datetime | None = None):
        """Invitations not answered within ``INVITATION_EXPIRY_DAYS`` days, oldest first
        (``Membership.invitation_sent_at``: when one was sent, or last sent again). They
        can no longer be accepted; ``services.lapse_invitations`` ends them."""
        cutoff = invitations_lapse_before(now)
        return self.filter(
            Q(decided_at__lt=cutoff) | Q(decided_at__isnull=True, updated_at__lt=cutoff),
            state=Membership.State.INVITED,
        ).order_by("decided_at", "updated_at", "pk")

    def roster(self):
        """Active members in roster order: sponsor, stewards, then everyone by name
        (``sort_name``, the membership row's copy of the member's display name), then pk.
        Membership rows only, so PostgreSQL reads the order from an index (migration
        0008) and skips to a deep page without joining the rows it skips: a page's ids
        are read from it, then only those rows joined (``selectors.roster_page``)."""
        return self.active().order_by(ROLE_RANK, "sort_name", "pk")

    def by_member_name(self):
        """Every row by the member's display name alone (``sort_name``), then pk: the
        manage page's list of every state and role, paged from a cursor
        (``paging.NameKeysetPage``). The same names as ``roster()``'s, without its
        leaders-first rank.

        A community's rows are read in this order from the ``membership_list_by_name``
        index (migration 0018) and the page stops after its rows: a range of this
        community's memberships, whatever the size of the organisation. (Ordering by the
        member's own name walked every person in name order, probing each one's
        membership here: 1,139 people for a page of 51 on a roster of 4,800.)"""
        return self.order_by(MEMBER_NAME, "pk")

    def search(self, text: str):
        """Narrow to people whose name, job title or department name has ``text``.

        Asked as "the member is one of these people": PostgreSQL finds the people
        through the trigram indexes (the departments' people through the department
        index, as a second set joined to the first) and looks up only their
        memberships, instead of reading the member row of everyone on a big roster.
        """
        if not text:
            return self
        by_name_or_title = Member.objects.filter(
            Q(display_name__icontains=text) | Q(job_title__icontains=text)
        )
        by_department = Member.objects.filter(
            department__in=Department.objects.filter(name__icontains=text).values("pk")
        )
        people = (
            by_name_or_title.order_by().values("pk").union(by_department.order_by().values("pk"))
        )
        return self.filter(member_id__in=people)


class Membership(models.Model):
    class Role(models.TextChoices):
        SPONSOR = "sponsor", _("Sponsor")
        STEWARD = "steward", _("Steward")
        MEMBER = "member", _("Member")
        PARTICIPANT = "participant", _("Participant")

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        REQUESTED = "requested", _("Requested")
        INVITED = "invited", _("Invited")
        LEFT = "left", _("Left")
        REMOVED = "removed", _("Removed")
        DENIED = "denied", _("Denied")

    # On the community's list: members, and people asked or asking to be; the
    # ``remove_member`` service takes any of them off it (the manage page offers Remove
    # for members, and Deny or Withdraw invitation for the others).
    ON_THE_LIST = (State.ACTIVE, State.INVITED, State.REQUESTED)

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="memberships"
    )
    community = models.ForeignKey(
        Community,
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    role = models.CharField(_("role"), max_length=12, choices=Role.choices, default=Role.MEMBER)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    note = models.TextField(_("note"), blank=True)
    decided_by = models.ForeignKey(
        Member,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # When the person last became active here: the join, approval, accepted invitation,
    # addition or import that made them a member (``created_at`` is when the row began,
    # often a request). Rosters show it as "Since" and exports as "joined"; a role
    # change or leaving keeps it, becoming active again sets it afresh.
    active_since = models.DateTimeField(_("member since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # The member's display name, for sorting rosters by an index. Kept by database
    # triggers (migration 0008) on every insert and update, and when a member is renamed;
    # what Django writes here is replaced.
    sort_name = models.CharField(max_length=150, null=True, blank=True, editable=False)
    # The member's department (its id), for the directory's department filter: kept like
    # ``sort_name`` by database triggers (migration 0020) on every insert, on every save,
    # and when a member moves department; what Django writes here is replaced.
    member_department_id = models.IntegerField(null=True, blank=True, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "community"], name="one_membership_per_member_and_community"
            ),
            models.UniqueConstraint(
                fields=["community"],
                condition=Q(role="sponsor", state="active"),
                name="one_active_sponsor_per_community",
            ),
        ]
        indexes = [
            models.Index(fields=["community", "state", "role"], name="membership_roster"),
            models.Index(fields=["member", "state"], name="membership_by_member"),
            # The manage page's list, by name from a cursor (``by_member_name``).
            models.Index(fields=["community", "sort_name", "id"], name="membership_list_by_name"),
            models.Index(
                fields=["member_department_id", "state", "community"],
                name="membership_by_department",
            ),
            # A community's active sponsor and stewards, with what a card shows of them
            # (their role and member): read from the index alone, never from the rows of
            # a million memberships (PostgreSQL; SQLite has no INCLUDE).
            models.Index(
                fields=["community"],
                include=["id", "role", "member"],
                condition=Q(state="active", role__in=["sponsor", "steward"]),
                name="membership_leaders",
            ),
        ]

    def __str__(self):
        return f"{self.member} in {self.community} ({self.get_role_display()}, {self.state})"

    @property
    def ends_on(self):
        """The end date of this stretch of active membership, or None (reads ``term``:
        select it with the membership)."""
        try:
            term = self.term
        except MembershipTerm.DoesNotExist:
            return None
        if self.state != self.State.ACTIVE or term.since != self.active_since:
            return None
        return term.ends_on

    @property
    def invitation_sent_at(self) -> datetime | None:
        """When an invitation was sent, or last sent again: inviting (and resending)
        records its decision time; a row written without one counts from its last change."""
        return self.decided_at or self.updated_at

    def invitation_has_lapsed(self, now: datetime | None = None) -> bool:
        """Whether this is an invitation nobody answered within ``INVITATION_EXPIRY_DAYS``
        days (``MembershipQuerySet.lapsed_invitations`` asks the same of many)."""
        sent = self.invitation_sent_at
        return (
            self.state == self.State.INVITED
            and sent is not None
            and sent < invitations_lapse_before(now)
        )


class MembershipEvent(models.Model):
    """Append-only history of roster changes. Names are copied so history
    survives a person's account being deleted."""

    class Action(models.TextChoices):
        JOINED = "joined", _("Joined")
        REQUESTED = "requested", _("Requested to join")
        CANCELLED = "cancelled", _("Cancelled request")
        INVITED = "invited", _("Invited")
        ACCEPTED = "accepted", _("Accepted invitation")
        DECLINED = "declined", _("Declined invitation")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        ADDED = "added", _("Added")
        LEFT = "left", _("Left")
        REMOVED = "removed", _("Removed")
        ROLE_CHANGED = "role_changed", _("Role changed")
        PRACTISING = "practising", _("Says they practise here")
        MERGED = "merged", _("Moved in from a merged community")
        # The community's own details (summary, purposes, join policy…), one event per
        # field, with no person as its target (``services.edit_community``).
        EDITED = "edited", _("Community details changed")
        REINVITED = "reinvited", _("Invitation sent again")
        WITHDRAWN = "withdrawn", _("Invitation withdrawn")
        LAPSED = "lapsed", _("Invitation lapsed")
        TERM_SET = "term_set", _("End date changed")

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="events"
    )
    actor = models.ForeignKey(
        Member,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    target = models.ForeignKey(
        Member,
        verbose_name=_("target"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="membership_events",
    )
    target_name = models.CharField(_("target name"), max_length=150)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    state_before = models.CharField(max_length=10, choices=Membership.State.choices, blank=True)
    state_after = models.CharField(max_length=10, choices=Membership.State.choices, blank=True)
    role_before = models.CharField(max_length=12, choices=Membership.Role.choices, blank=True)
    role_after = models.CharField(max_length=12, choices=Membership.Role.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("membership event")
        verbose_name_plural = _("membership events")
        indexes = [
            models.Index(fields=["community", "-created_at"], name="event_by_community"),
            models.Index(fields=["target", "-created_at"], name="event_by_target"),
        ]

    def __str__(self):
        return f"{self.get_action_display()}: {self.target_name} in {self.community}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Membership events are append-only; they cannot be changed.")
        super().save(*args, **kwargs)


class CommunityOverlap(models.Model):
    """How many people are active members of both ``community`` and ``other``: stored
    both ways round (one row each), only for pairs sharing someone, whatever the two
    communities' status. Kept by ``communities.overlaps`` in the same transaction as
    every membership that becomes active or stops being active, so pages read the
    people two communities share (connected communities, the knowledge map) without
    counting them; ``manage.py rebuild_overlaps`` counts them again from scratch."""

    # No foreign-key constraints in the database: checking one locks the community row
    # (FOR KEY SHARE), and two roster changes that each hold their own community's lock
    # (FOR UPDATE) while writing the pair both ways would wait for each other. Deleting
    # a community still deletes its pairs (Django's cascade).
    community = models.ForeignKey(
        Community,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    other = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # An IntegerField: a change is written as its signed difference (INSERT … ON CONFLICT
    # DO UPDATE), and the row proposed for a decrease is negative before it meets its pair.
    shared = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["community", "other"], name="one_overlap_per_pair"),
        ]
        indexes = [
            # A community's pairs with their counts, read from the index alone (profiles).
            models.Index(fields=["community", "other", "shared"], name="overlap_of_community"),
            # The strongest links of all (the knowledge map), each pair once.
            models.Index(
                fields=["-shared", "community", "other"],
                name="overlap_strongest",
                condition=Q(community__lt=F("other")),
            ),
        ]

    def __str__(self):
        return f"{self.community_id} & {self.other_id}: {self.shared}"


class StageChange(models.Model):
    """A dated step on Botkin's ladder, with the steward's note."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="stage_changes")
    stage_before = models.CharField(max_length=12, choices=Community.Stage.choices, blank=True)
    stage_after = models.CharField(max_length=12, choices=Community.Stage.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    changed_by = models.ForeignKey(
        Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self):
        return f"{self.community}: {self.stage_before or '—'} → {self.stage_after}"


class RosterImport(models.Model):
    """An uploaded roster between its preview and its confirmation.

    The upload is planned once and the plan stored (``RosterImportRow``, with the
    totals and the rule problems here); the file itself is not kept. The plan records
    a fingerprint of the roster it was computed against; confirming applies the stored
    plan only if the roster still matches, and only once. Applying deletes the plan's
    rows; anything older than a day is deleted (``clear_stale_imports``).

    ``mode`` says what rows with errors do: with "all or nothing" (the default) any
    error row blocks the whole import; with "apply the valid rows" they are skipped, and
    kept after the rest is applied so that the page can still list them.
    """

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")
        VALID_ROWS = "valid_rows", _("Apply the valid rows")

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="roster_imports"
    )
    uploaded_by = models.ForeignKey(Member, on_delete=models.SET_NULL, null=True, related_name="+")
    file_name = models.CharField(max_length=255)
    remove_absent = models.BooleanField(default=False)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    fingerprint = models.CharField(max_length=64)
    # How many plan rows there are of each action ("add", "change", "unchanged",
    # "remove", "skip", "error"), and the community rules the result would break.
    totals = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")

    def __str__(self):
        return f"{self.file_name} → {self.community}"

    @property
    def change_count(self) -> int:
        return sum(self.totals.get(action, 0) for action in ("add", "change", "remove"))

    @property
    def error_count(self) -> int:
        return self.totals.get("error", 0)

    @property
    def blocked_by_errors(self) -> bool:
        """All or nothing, and some rows have errors: nothing may be applied."""
        return self.mode == self.Mode.ALL_OR_NOTHING and self.error_count > 0

    @property
    def can_apply(self) -> bool:
        return not self.problems and self.change_count > 0 and not self.blocked_by_errors

    @property
    def confirm_state(self) -> str:
        """What the preview offers: "applied", "ready" (Confirm), "blocked" (Confirm
        disabled until the errors are fixed or the valid rows are chosen), "nothing"."""
        if self.applied_at is not None:
            return "applied"
        if self.can_apply:
            return "ready"
        if not self.problems and self.change_count > 0:
            return "blocked"
        return "nothing"

    @property
    def listed_row_count(self) -> int:
        """The plan rows stored: all of them until it is applied; then only the rows
        with errors that applying the valid rows skipped (positions 0 … n - 1, as
        error rows come first)."""
        if self.applied_at is None:
            return self.row_count
        return self.error_count if self.mode == self.Mode.VALID_ROWS else 0


class RosterImportRow(models.Model):
    """One row of a stored import plan, numbered (``position``) in the order the
    preview lists them: the rows with errors first, then every row that does something,
    then the unchanged ones, each group in file order."""

    class Action(models.TextChoices):
        ADD = "add", _("Add")
        CHANGE = "change", _("Change role")
        UNCHANGED = "unchanged", _("Unchanged")
        REMOVE = "remove", _("Remove")
        SKIP = "skip", _("Skipped")
        ERROR = "error", _("Error")

    # Neither foreign key is a database constraint: checking one costs PostgreSQL a
    # lookup per row at commit (about as long again as storing 50,000 rows). Only
    # ``services.preview_roster_import`` writes rows, with their import, in one
    # transaction; Django deletes them with it (CASCADE, SET_NULL); and applying joins
    # each row to its person and refuses if they are gone or inactive.
    # No index of its own either: the (roster_import, position) constraint's serves it.
    roster_import = models.ForeignKey(
        RosterImport,
        on_delete=models.CASCADE,
        related_name="rows",
        db_index=False,
        db_constraint=False,
    )
    position = models.PositiveIntegerField()
    line = models.PositiveIntegerField()  # 0: a removal, not in the file
    key = models.TextField(blank=True)  # the email or username cell, as written
    action = models.CharField(max_length=10, choices=Action.choices)
    role = models.CharField(max_length=12, blank=True)
    note = models.CharField(max_length=1000, blank=True)
    message = models.TextField(blank=True)
    # Unindexed: plans are short-lived, and people are deactivated, not deleted.
    member = models.ForeignKey(
        Member,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["roster_import", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["roster_import", "position"], name="roster_import_row_position"
            )
        ]
        verbose_name = _("roster import row")
        verbose_name_plural = _("roster import rows")

    def __str__(self):
        return f"{self.roster_import_id} #{self.position}: {self.action} {self.key}"


class PeopleSyncUpload(models.Model):
    """An HR extract uploaded on the admin's sync page, between its dry run and "Apply".

    Applying reads this stored file, never a new upload: the page sends back the file's
    SHA-256 (``sha256``) and the ``summary`` of the dry run it showed, and the sync is
    refused if either differs (another file, or a directory changed meanwhile).
    """

    file_name = models.CharField(max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    summary = models.JSONField(default=dict)  # ``SyncPlan.summary()`` as the dry run showed it
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("people sync upload")
        verbose_name_plural = _("people sync uploads")

    def __str__(self):
        return f"{self.file_name} ({self.sha256[:12]})"


class DirectoryVersion(models.Model):
    """One row whose ``number`` grows whenever anything the directory shows changes.

    Database triggers (migrations 0006 and 0009) bump it on every insert, update or
    delete of communities, their purposes, purposes, memberships, members and
    departments, and on changes to what pages show of users (username, email, names,
    whether active), whoever writes (a service, the admin, a bulk load, raw SQL), so
    pages can cache what they draw under the number they read (``communities.caching``).
    On PostgreSQL the bump runs once per transaction, at commit.
    """

    number = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("directory version")

    def __str__(self):
        return str(self.number)


class MembershipTerm(models.Model):
    """When an active membership ends: set by a steward, or from the community's default
    term when the person became active. ``expire_memberships`` moves it to "left" once
    ``ends_on`` has passed. Its own table (one row per membership with an end), so that
    memberships without one cost nothing."""

    membership = models.OneToOneField(
        Membership,
        verbose_name=_("membership"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="term",
    )
    ends_on = models.DateField(_("ends on"), db_index=True)
    # The membership's ``active_since`` when this end date was set: the date belongs to
    # that stretch of membership only. Someone who leaves and later becomes active again
    # starts without it (the row is replaced only when a new date is set), so leaving
    # and joining cost no statement for it.
    since = models.DateTimeField(_("for the membership since"), null=True)
    # The smallest "days before" reminder already sent for this end date (None: none
    # yet); a new end date starts the reminders again.
    reminded_days = models.PositiveSmallIntegerField(null=True, blank=True)
    set_by = models.ForeignKey(
        Member,
        verbose_name=_("set by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("membership term")
        verbose_name_plural = _("membership terms")

    def __str__(self):
        return f"{self.membership_id} until {self.ends_on}"


class CommunityTerm(models.Model):
    """A community's default membership term: people who become active members get an
    end date this many months ahead."""

    community = models.OneToOneField(
        Community,
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="default_term",
    )
    months = models.PositiveSmallIntegerField(_("default term (months)"))

    class Meta:
        verbose_name = _("default membership term")
        verbose_name_plural = _("default membership terms")

    def __str__(self):
        return f"{self.community_id}: {self.months} months"


class Review(models.Model):
    """A periodic review of a community's list: its stewards confirm or remove each
    active member by ``due_on``. Overdue, its sponsor is told (``sponsor_told_at``);
    still open a grace period later, it is listed on the directory admins' dashboard
    (``escalated_at``). It completes when nobody active is left undecided; its outcome
    is its ``ReviewItem`` rows (who confirmed or removed whom, when)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        COMPLETED = "completed", _("Completed")

    community = models.ForeignKey(
        Community, verbose_name=_("community"), on_delete=models.CASCADE, related_name="reviews"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    due_on = models.DateField(_("due on"))
    started_by = models.ForeignKey(
        Member,
        verbose_name=_("started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    sponsor_told_at = models.DateTimeField(_("sponsor told"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    confirmed_count = models.PositiveIntegerField(_("confirmed"), default=0)
    removed_count = models.PositiveIntegerField(_("removed"), default=0)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["community"],
                condition=Q(status="open"),
                name="one_open_review_per_community",
            )
        ]
        indexes = [models.Index(fields=["status", "due_on"], name="review_by_status_due")]

    def __str__(self):
        return f"Review of {self.community} due {self.due_on} ({self.status})"

    def is_overdue(self, today=None) -> bool:
        return self.status == self.Status.OPEN and self.due_on < (today or timezone.localdate())

    def pending_memberships(self):
        """Active members of the community not yet confirmed or removed in this review
        (people who joined since it started included)."""
        decided = ReviewItem.objects.filter(review_id=self.pk, member=OuterRef("member"))
        return Membership.objects.filter(
            community_id=self.community_id, state=Membership.State.ACTIVE
        ).exclude(Exists(decided))


class ReviewItem(models.Model):
    """One person's outcome in a review: confirmed or removed, by whom and when. Names
    are copied so the outcome survives an account being deleted."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        REMOVED = "removed", _("Removed")

    review = models.ForeignKey(
        Review, verbose_name=_("review"), on_delete=models.CASCADE, related_name="items"
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    member_name = models.CharField(_("member name"), max_length=150)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    decided_by = models.ForeignKey(
        Member,
        verbose_name=_("decided by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_by_name = models.CharField(_("decided by (name)"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided"), default=timezone.now)

    class Meta:
        verbose_name = _("review item")
        verbose_name_plural = _("review items")
        constraints = [
            models.UniqueConstraint(fields=["review", "member"], name="one_item_per_review_member")
        ]
        indexes = [models.Index(fields=["review", "member_name", "id"], name="review_item_by_name")]

    def __str__(self):
        return f"{self.member_name}: {self.outcome}"


class ReviewSchedule(models.Model):
    """A community reviewed every ``every_months`` months: ``manage.py run_reviews``
    starts a review on ``next_on`` and moves ``next_on`` on."""

    community = models.OneToOneField(
        Community,
        verbose_name=_("community"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="review_schedule",
    )
    every_months = models.PositiveSmallIntegerField(_("every (months)"), default=12)
    next_on = models.DateField(_("next review on"), db_index=True)

    class Meta:
        verbose_name = _("review schedule")
        verbose_name_plural = _("review schedules")

    def __str__(self):
        return f"{self.community_id}: every {self.every_months} months from {self.next_on}"


class MembershipRule(models.Model):
    """Who a community's list holds by their attributes (``communities.rules``).

    ``groups`` is a list of condition groups, OR-ed; inside a group the conditions are
    AND-ed: ``{"departments": [department ids], "job_title": "text the title contains",
    "location": "the exact location"}`` (a blank condition is left out). In ``strict``
    mode the list is exactly the people the rule matches; in ``additive`` mode the rule
    adds them and people may also join by hand."""

    class Mode(models.TextChoices):
        STRICT = "strict", _("Strict: the list is exactly the rule")
        ADDITIVE = "additive", _("Additive: the rule adds, people may also join by hand")

    community = models.OneToOneField(
        Community, on_delete=models.CASCADE, related_name="membership_rule"
    )
    name = models.CharField(_("rule name"), max_length=100)
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.ADDITIVE)
    groups = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        Member, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("membership rule")
        verbose_name_plural = _("membership rules")

    def __str__(self):
        return f"{self.name} ({self.community})"


class RuleMembership(models.Model):
    """Marks a membership the community's rule made (and may end): shown "By rule" on
    the roster; its person neither joins nor leaves by hand."""

    membership = models.OneToOneField(
        Membership, on_delete=models.CASCADE, related_name="rule_mark"
    )
    rule = models.ForeignKey(MembershipRule, on_delete=models.CASCADE, related_name="marks")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("membership made by a rule")
        verbose_name_plural = _("memberships made by a rule")

    def __str__(self):
        return f"{self.membership} ({self.rule.name})"
