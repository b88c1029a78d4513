"""Read-side analytics: the knowledge map, connectors, expertise and the insights charts.

Every function here runs a fixed number of queries, however large the directory:
the database counts and groups, Python only shapes a bounded result.
"""

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from os.path import commonprefix

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.functions import Lead, TruncMonth, TruncQuarter
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.models import Member

from . import caching
from .models import Community, CommunityOverlap, Membership, MembershipEvent, Purpose
from .selectors import LIVE, significant_words

MAP_LINK_LIMIT = 150  # links drawn on the map; their communities are its nodes
MAP_CACHE_SECONDS = 60
TABLE_LINK_LIMIT = 25  # strongest links listed beside it
CONNECTOR_LIMIT = 50
MONTHS = 24
QUARTERS = 16
TOP_PURPOSES = 10
RECENT_FORMALISATIONS = 10

ACTIVE = Membership.State.ACTIVE
LISTED = [Community.Status.ACTIVE, Community.Status.DORMANT, Community.Status.ARCHIVED]


def live_memberships():
    """Active memberships in live communities, community joined, by community name."""
    return (
        Membership.objects.filter(state=ACTIVE, community__status__in=LIVE)
        .select_related("community")
        .order_by("community__name", "pk")
    )


# -- knowledge map -----------------------------------------------------------------------


@dataclass
class Link:
    source: Community
    target: Community
    shared: int


@dataclass
class KnowledgeMap:
    nodes: list[Community]
    links: list[Link]
    truncated: bool  # more links exist than were drawn


def shared_people_pairs(*, kind: str = "", department=None, limit: int = MAP_LINK_LIMIT):
    """``(community_a_id, community_b_id, shared)`` for the pairs of live communities
    sharing the most active members, strongest first, each pair once (a < b).

    ``kind`` keeps pairs of that kind only; ``department`` counts only its people. Without
    a department the pairs are read from the stored overlaps (``CommunityOverlap``,
    strongest first by an index); with one, counted by a grouped self-join of Membership
    on member.
    """
    if department is None:
        live = {"community__status__in": LIVE, "other__status__in": LIVE}
        return _stored_pairs(kind=kind, among=live, limit=limit)
    live = {"community__status__in": LIVE, f"{OTHER}community__status__in": LIVE}
    return _department_pairs(department, kind=kind, among=live, limit=limit)


OTHER = "member__memberships__"  # from a membership to its member's other memberships


def _stored_pairs(
    *, kind: str, among: dict, limit: int | None = None
) -> list[tuple[int, int, int]]:
    """``(a, b, shared)`` for the stored pairs of communities (a < b, both ``among``'s),
    strongest first (``CommunityOverlap``: everyone's shared memberships)."""
    pairs = CommunityOverlap.objects.filter(community_id__lt=F("other_id"), **among)
    if kind:
        pairs = pairs.filter(community__kind=kind, other__kind=kind)
    pairs = pairs.order_by("-shared", "community_id", "other_id").values_list(
        "community_id", "other_id", "shared"
    )
    return list(pairs if limit is None else pairs[:limit])


def _department_pairs(
    department, *, kind: str, among: dict, limit: int | None = None
) -> list[tuple[int, int, int]]:
    """``(a, b, shared)`` for the pairs of communities (a < b, both ``among``'s) sharing
    active members of ``department``, strongest first: one grouped self-join of
    Membership on member (the stored overlaps count everyone, not one department)."""
    conditions = {
        "state": ACTIVE,
        f"{OTHER}state": ACTIVE,
        f"{OTHER}community_id__gt": F("community_id"),
        "member__department": department,
        **among,
    }
    if kind:
        conditions |= {"community__kind": kind, f"{OTHER}community__kind": kind}
    pairs = (
        Membership.objects.filter(**conditions)
        .values(a=F("community_id"), b=F(f"{OTHER}community_id"))
        .annotate(shared=Count("pk"))
        .order_by("-shared", "a", "b")
    )
    if limit is not None:
        pairs = pairs[:limit]
    return [(row["a"], row["b"], row["shared"]) for row in pairs]


def knowledge_map(*, kind: str = "", department=None, limit: int = MAP_LINK_LIMIT) -> KnowledgeMap:
    """The strongest ``limit`` links between communities and the communities they join
    (three queries, two when the links are cached)."""
    pairs = caching.remembered(
        "map-pairs",
        (kind, department.pk if department is not None else None, limit, _memberships_state()),
        lambda: shared_people_pairs(kind=kind, department=department, limit=limit + 1),
        MAP_CACHE_SECONDS,
    )
    truncated = len(pairs) > limit
    pairs = pairs[:limit]
    ids = {pk for a, b, _shared in pairs for pk in (a, b)}
    communities = (
        Community.objects.filter(pk__in=ids)
        .only("pk", "name", "slug", "kind", "status", "active_member_count")
        .in_bulk()
    )
    links = [
        Link(communities[a], communities[b], shared)
        for a, b, shared in pairs
        if a in communities and b in communities  # cached pairs may outlive a deletion
    ]
    nodes = sorted(communities.values(), key=lambda c: (-(c.active_member_count or 0), c.name))
    return KnowledgeMap(nodes=nodes, links=links, truncated=truncated)


@dataclass
class FocusMap(KnowledgeMap):
    more_neighbours: bool = False  # more communities share people with it than were drawn


FOCUS_NEIGHBOUR_LIMIT = 40  # communities drawn around a focused one
FOCUS_OTHER_LINK_LIMIT = 60  # links among them, besides their links to it


def focus_map(
    community: Community, *, kind: str = "", department=None, limit: int = FOCUS_NEIGHBOUR_LIMIT
) -> FocusMap:
    """``community``, the ``limit`` live communities sharing the most active members with
    it, its links to them and the strongest ``FOCUS_OTHER_LINK_LIMIT`` links among them
    (in a big directory they nearly all share someone: drawing every link would hide
    the focus), counted like ``shared_people_pairs`` (same ``kind`` and ``department``
    rules: the stored overlaps without a department, its people counted with one).
    Three queries, each narrowed to these communities."""
    if department is None:
        neighbours = CommunityOverlap.objects.filter(
            community=community, other__status__in=LIVE
        ).values_list("other_id", "shared")
        if kind:
            neighbours = neighbours.filter(other__kind=kind)
        neighbours = neighbours.order_by("-shared", "other_id")
    else:
        near = Membership.objects.filter(
            state=ACTIVE,
            community__status__in=LIVE,
            member__department=department,
            member__memberships__community=community,
            member__memberships__state=ACTIVE,
        ).exclude(community=community)
        if kind:
            near = near.filter(community__kind=kind)
        neighbours = (
            near.values("community_id")
            .annotate(shared=Count("pk"))
            .order_by("-shared", "community_id")
            .values_list("community_id", "shared")
        )
    found = list(neighbours[: limit + 1])
    more_neighbours = len(found) > limit
    ids = [community.pk, *(pk for pk, _shared in found[:limit])]
    pairs = _pairs_among(ids, kind=kind, department=department) if len(ids) > 1 else []
    own = [pair for pair in pairs if community.pk in pair[:2]]
    others = [pair for pair in pairs if community.pk not in pair[:2]]
    truncated = more_neighbours or len(others) > FOCUS_OTHER_LINK_LIMIT
    pairs = sorted(own + others[:FOCUS_OTHER_LINK_LIMIT], key=lambda p: (-p[2], p[0], p[1]))
    communities = (
        Community.objects.filter(pk__in=ids)
        .with_counts()
        .only("pk", "name", "slug", "kind", "status", "active_member_count")
        .in_bulk()
    )
    links = [
        Link(communities[a], communities[b], shared)
        for a, b, shared in pairs
        if a in communities and b in communities
    ]
    linked = {pk for link in links for pk in (link.source.pk, link.target.pk)}
    if community.pk not in linked:  # say, a CoP while only KCs' links are counted
        return FocusMap(nodes=[], links=[], truncated=False)
    nodes = sorted(
        (c for pk, c in communities.items() if pk in linked),
        key=lambda c: (-(c.active_member_count or 0), c.name),
    )
    return FocusMap(nodes=nodes, links=links, truncated=truncated, more_neighbours=more_neighbours)


def _pairs_among(ids: list[int], *, kind: str, department) -> list[tuple[int, int, int]]:
    """``(a, b, shared)`` for every pair of the communities ``ids`` (a < b) sharing
    active members, strongest first: the stored overlaps, or with a department one
    grouped self-join of its people's memberships, as in ``shared_people_pairs``."""
    if department is None:
        return _stored_pairs(kind=kind, among={"community_id__in": ids, "other_id__in": ids})
    among = {"community_id__in": ids, f"{OTHER}community_id__in": ids}
    return _department_pairs(department, kind=kind, among=among)


def _memberships_state() -> tuple:
    """The self-join reads every active membership (seconds, at 10,000 communities),
    so its result is kept for a minute, and recounted at once when any membership
    changes: its key holds their number and latest change (one quick query)."""
    state = Membership.objects.aggregate(count=Count("pk"), changed=Max("updated_at"))
    changed = state["changed"].isoformat() if state["changed"] else ""
    return (state["count"], changed)


# -- people ------------------------------------------------------------------------------


def connectors(*, department=None, limit: int = CONNECTOR_LIMIT) -> list[Member]:
    """People in the most live communities (two or more), most first, with
    ``community_count`` and their memberships as ``live_memberships``."""
    in_live = Q(memberships__state=ACTIVE, memberships__community__status__in=LIVE)
    people = Member.objects.active().annotate(community_count=Count("memberships", filter=in_live))
    if department is not None:
        people = people.filter(department=department)
    return list(
        people.filter(community_count__gte=2)
        .select_related("user", "department")
        .prefetch_related(
            Prefetch("memberships", queryset=live_memberships(), to_attr="live_memberships")
        )
        .order_by("-community_count", "display_name", "pk")[:limit]
    )


def search_words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())[:6]


def people_with_expertise(text: str, *, department=None):
    """People whose expertise mentions every word of ``text``, with their live
    memberships prefetched as ``live_memberships`` (paginate, then it costs one query)."""
    people = Member.objects.for_directory().exclude(expertise="")
    for word in search_words(text):
        people = people.filter(expertise__icontains=word)
    if department is not None:
        people = people.filter(department=department)
    return people.prefetch_related(
        Prefetch("memberships", queryset=live_memberships(), to_attr="live_memberships")
    )


def expertise_topics(member: Member, text: str) -> list[tuple[str, bool]]:
    """The person's topics, each flagged when it contains a searched word."""
    words = search_words(text)
    return [
        (topic, any(word in topic.lower() for word in words)) for topic in member.expertise_list
    ]


# -- suggestions -------------------------------------------------------------------------

DEPARTMENT_MINIMUM = 2  # colleagues it takes to suggest a community
EXPERTISE_CANDIDATES = 50


def _same_word(word: str, token: str) -> bool:
    """Loose match that survives suffixes: detection ~ detect, claims ~ claim."""
    if len(word) < 4 or len(token) < 4:
        return word == token
    return len(commonprefix([word, token])) >= max(4, min(len(word), len(token)) - 2)


def suggest_communities(member: Member, limit: int = 5) -> list[tuple[Community, str]]:
    """Active communities the person could join, best first, each with a reason:
    many colleagues from their department belong, it pursues a purpose of one of
    their communities, or it matches their expertise. At most six queries."""
    taken = Membership.objects.filter(
        member=member,
        state__in=[
            ACTIVE,
            Membership.State.REQUESTED,
            Membership.State.INVITED,
            Membership.State.REMOVED,  # stewards took them off: not for us to suggest
        ],
    ).values("community_id")
    candidates = Community.objects.filter(status=Community.Status.ACTIVE).exclude(pk__in=taken)
    reasons: dict[int, list[tuple[float, str]]] = defaultdict(list)
    _suggest_by_department(member, candidates, reasons, limit)
    _suggest_by_purpose(member, candidates, reasons, limit)
    _suggest_by_expertise(member, candidates, reasons)
    ranked = sorted(reasons.items(), key=lambda item: (-sum(s for s, _r in item[1]), item[0]))
    ranked = ranked[:limit]
    communities = Community.objects.with_counts().in_bulk([pk for pk, _r in ranked])
    return [(communities[pk], max(found)[1]) for pk, found in ranked]


def _suggest_by_department(member, candidates, reasons, limit) -> None:
    if member.department_id is None:
        return
    colleagues = (
        Membership.objects.filter(
            state=ACTIVE,
            community__in=candidates,
            member__department_id=member.department_id,
            member__user__is_active=True,
        )
        .exclude(member=member)
        .values("community_id")
        .annotate(n=Count("pk"), department=Max("member__department__name"))
        .filter(n__gte=DEPARTMENT_MINIMUM)
        .order_by("-n", "community_id")[: limit * 4]
    )
    for row in colleagues:
        count = row["n"]
        reason = ngettext(
            "%(count)d person from %(department)s belongs",
            "%(count)d people from %(department)s belong",
            count,
        ) % {"count": count, "department": row["department"]}
        reasons[row["community_id"]].append((min(count, 8) / 2, reason))


def _suggest_by_purpose(member, candidates, reasons, limit) -> None:
    pursuit = Community.purposes.through.objects
    mine = (
        pursuit.filter(
            community__memberships__member=member,
            community__memberships__state=ACTIVE,
            community__status__in=LIVE,
        )
        .select_related("purpose", "community")
        .order_by("community__name", "pk")[:200]
    )
    pursued: dict[int, tuple[str, str]] = {}
    for row in mine:
        pursued.setdefault(row.purpose_id, (row.purpose.statement, row.community.name))
    if not pursued:
        return
    others = (
        pursuit.filter(purpose_id__in=list(pursued), community__in=candidates)
        .order_by("community_id", "purpose_id")
        .values_list("community_id", "purpose_id")[: limit * 20]
    )
    for community_id, purpose_id in others:
        statement, community_name = pursued[purpose_id]
        reason = _("Pursues “%(purpose)s” like %(community)s") % {
            "purpose": Truncator(statement).words(6),
            "community": community_name,
        }
        reasons[community_id].append((4, reason))


def _suggest_by_expertise(member, candidates, reasons) -> None:
    topics = {topic: significant_words(topic) for topic in member.expertise_list}
    words = sorted({word for topic_words in topics.values() for word in topic_words})[:12]
    if not words:
        return

    def mentions(needle):
        purpose = Purpose.objects.filter(communities=OuterRef("pk"), statement__icontains=needle)
        return Q(name__icontains=needle) | Q(summary__icontains=needle) | Exists(purpose)

    # The database narrows by word stem; Python below confirms whole-word matches.
    needles = sorted({word[:4] for word in words})
    hits = sum(
        (Case(When(mentions(n), then=Value(1)), default=Value(0)) for n in needles),
        start=Value(0, output_field=IntegerField()),
    )
    found = (
        candidates.annotate(hits=hits)
        .filter(hits__gt=0)
        .prefetch_related("purposes")
        .order_by("-hits", "pk")[:EXPERTISE_CANDIDATES]
    )
    for community in found:
        text = " ".join(
            [community.name, community.summary, *(p.statement for p in community.purposes.all())]
        )
        tokens = set(significant_words(text))
        matched = [
            topic
            for topic, topic_words in topics.items()
            if topic_words
            and any(_same_word(word, token) for word in topic_words for token in tokens)
        ]
        if matched:
            reason = _("Matches your expertise: %(topics)s") % {"topics": ", ".join(matched)}
            reasons[community.pk].append((3 * len(matched), reason))


# -- insights charts ---------------------------------------------------------------------


@dataclass
class Series:
    key: str  # a CSS hook: "kc", "cop" or "all"
    label: str
    values: list


@dataclass
class Chart:
    """A chart's numbers: what the SVG draws, the table shows and the CSV holds."""

    slug: str
    title: str
    summary: str  # one sentence for screen readers (the SVG's label)
    categories: list[str]
    series: list[Series]
    header: list[str]
    rows: list[list]
    notes: list[str] = field(default_factory=list)
    empty_text: str = ""  # what to do while there is nothing to chart
    shape: str = "columns"  # "columns" (vertical bars) or "rows" (horizontal bars)
    label_every: int = 1  # thins the category labels under columns

    @property
    def is_empty(self) -> bool:
        return not any(value for s in self.series for value in s.values if value)


def _period_starts(today: date, count: int, months: int) -> list[date]:
    """The first days of the last ``count`` periods of ``months`` months, oldest first,
    the current one last (months=1: months; months=3: calendar quarters)."""
    current = (today.year * 12 + today.month - 1) // months * months
    starts = []
    for back in range(count - 1, -1, -1):
        year, month = divmod(current - back * months, 12)
        starts.append(date(year, month + 1, 1))
    return starts


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day))


def _month_label(month: date) -> str:
    return date_format(month, "M Y")


def _quarter_label(quarter: date) -> str:
    return f"{quarter.year} Q{(quarter.month - 1) // 3 + 1}"


def communities_by_kind_and_stage() -> Chart:
    counted = {
        (row["kind"], row["stage"]): row["n"]
        for row in Community.objects.filter(status__in=LIVE)
        .order_by()
        .values("kind", "stage")
        .annotate(n=Count("pk"))
    }
    stages = Community.Stage.choices
    kinds = [
        (Community.Kind.KC, _("Knowledge communities")),
        (Community.Kind.COP, _("Communities of practice")),
    ]
    series = [
        Series(kind, label, [counted.get((kind, stage), 0) for stage, _l in stages])
        for kind, label in kinds
    ]
    rows = [
        [label, *(counted.get((kind, stage), 0) for kind, _l in kinds)] for stage, label in stages
    ]
    summary = _("Communities by kind and stage on the ladder: %(parts)s.") % {
        "parts": "; ".join(
            f"{s.label}: "
            + ", ".join(f"{label} {n}" for (_v, label), n in zip(stages, s.values, strict=True))
            for s in series
        )
    }
    return Chart(
        slug="kinds-and-stages",
        title=_("Communities by kind and stage"),
        summary=summary,
        categories=[label for _v, label in stages],
        series=series,
        header=[_("Stage"), _("Knowledge communities"), _("Communities of practice")],
        rows=rows,
        notes=[_("Active and dormant communities.")],
        empty_text=_("Communities appear here once they are in the directory."),
    )


def membership_growth(today: date | None = None) -> Chart:
    months = _period_starts(today or timezone.localdate(), MONTHS, 1)
    counted = {
        _as_date(row["month"]): row["n"]
        for row in Membership.objects.filter(
            state=ACTIVE, community__status__in=LISTED, active_since__gte=_start_of(months[0])
        )
        .annotate(month=TruncMonth("active_since"))
        .order_by()
        .values("month")
        .annotate(n=Count("pk"))
    }
    values = [counted.get(month, 0) for month in months]
    labels = [_month_label(month) for month in months]
    peak = max(values)
    summary = _("New active memberships per month over %(months)d months: %(total)d in all") % {
        "months": MONTHS,
        "total": sum(values),
    }
    if peak:
        summary += _(", most in %(month)s (%(count)d)") % {
            "month": labels[values.index(peak)],
            "count": peak,
        }
    return Chart(
        slug="membership-growth",
        title=_("Membership growth"),
        summary=summary + ".",
        categories=labels,
        series=[Series("all", _("New active memberships"), values)],
        header=[_("Month"), _("New active memberships")],
        rows=[[label, n] for label, n in zip(labels, values, strict=True)],
        notes=[_("Memberships still active, by the month they began.")],
        empty_text=_("This fills in as people join communities."),
        label_every=6,
    )


def request_decisions(since: datetime) -> list[tuple[str, datetime, datetime]]:
    """``(kind, requested_at, decided_at)`` for requests since ``since`` that a steward
    approved or denied: each request is paired, in SQL, with the event that follows it
    for the same person and community, and counts if that event is an approval or a
    denial (not a cancellation or a new request)."""
    A = MembershipEvent.Action
    in_turn = {
        "partition_by": [F("target_id"), F("community_id")],
        "order_by": [F("created_at").asc(), F("pk").asc()],
    }
    followed_by_decision = (
        MembershipEvent.objects.filter(
            action__in=[A.REQUESTED, A.CANCELLED, A.APPROVED, A.DENIED],
            target__isnull=False,
            created_at__gte=since,
        )
        .annotate(
            next_action=Window(Lead("action"), **in_turn),
            decided_at=Window(Lead("created_at"), **in_turn),
        )
        .filter(next_action__in=[A.APPROVED, A.DENIED])
        .order_by()
        .values_list("action", "community__kind", "created_at", "decided_at")
    )
    # Django filters on plain columns before the window is computed, so the
    # "is it a request" test happens here, on rows already followed by a decision.
    return [
        (kind, requested_at, decided_at)
        for action, kind, requested_at, decided_at in followed_by_decision
        if action == A.REQUESTED
    ]


def _median_days(durations: list[float]):
    return round(statistics.median(durations), 1) if durations else None


def _median_note(label: str, durations: list[float]) -> str:
    if not durations:
        return _("%(label)s: no decisions.") % {"label": label}
    return ngettext(
        "%(label)s: median %(median)s days over %(count)d decision.",
        "%(label)s: median %(median)s days over %(count)d decisions.",
        len(durations),
    ) % {"label": label, "median": _median_days(durations), "count": len(durations)}


def decision_time(today: date | None = None) -> Chart:
    months = _period_starts(today or timezone.localdate(), MONTHS, 1)
    by_month: dict[date, list[float]] = defaultdict(list)
    by_kind: dict[str, list[float]] = defaultdict(list)
    window_start = _start_of(months[0])
    # A request decided inside the window may have been made up to a year before it.
    for kind, requested_at, decided_at in request_decisions(window_start - timedelta(days=365)):
        if decided_at < window_start:
            continue
        days = (decided_at - requested_at).total_seconds() / 86400
        by_month[_as_date(decided_at).replace(day=1)].append(days)
        by_kind[kind].append(days)
    labels = [_month_label(month) for month in months]
    values = [_median_days(by_month[month]) for month in months]
    everything = [days for durations in by_kind.values() for days in durations]
    overall = _median_days(everything)
    kinds = [
        (_("Knowledge communities"), by_kind[Community.Kind.KC]),
        (_("Communities of practice"), by_kind[Community.Kind.COP]),
    ]
    if overall is None:
        summary = _("No requests were decided in the last %(months)d months.") % {"months": MONTHS}
    else:
        summary = ngettext(
            "Median days from a request to its decision, by month of decision: "
            "%(overall)s days overall, over %(count)d decision.",
            "Median days from a request to its decision, by month of decision: "
            "%(overall)s days overall, over %(count)d decisions.",
            len(everything),
        ) % {"overall": overall, "count": len(everything)}
    return Chart(
        slug="decision-time",
        title=_("Days from request to decision"),
        summary=summary,
        categories=labels,
        series=[Series("all", _("Median days"), values)],
        header=[_("Month"), _("Median days"), _("Decisions")],
        rows=[
            [label, "" if value is None else value, len(by_month[month])]
            for label, value, month in zip(labels, values, months, strict=True)
        ],
        empty_text=_("Once stewards approve or deny join requests, the time they take shows here."),
        label_every=6,
        notes=[
            _median_note(_("Overall"), everything),
            *(_median_note(label, durations) for label, durations in kinds),
        ],
    )


def most_pursued_purposes() -> Chart:
    purposes = list(
        Purpose.objects.with_community_counts()
        .filter(community_count__gt=0)
        .order_by("-community_count", "statement")[:TOP_PURPOSES]
    )
    labels = [purpose.statement for purpose in purposes]
    values = [purpose.community_count for purpose in purposes]
    summary = ngettext(
        "The purpose the most communities pursue: %(parts)s.",
        "The %(count)d purposes the most communities pursue: %(parts)s.",
        len(purposes),
    ) % {
        "count": len(purposes),
        "parts": "; ".join(f"{label} ({n})" for label, n in zip(labels, values, strict=True)),
    }
    return Chart(
        slug="purposes",
        title=_("Most-pursued purposes"),
        summary=summary,
        categories=labels,
        series=[Series("all", _("Communities"), values)],
        header=[_("Purpose"), _("Communities")],
        rows=[[label, n] for label, n in zip(labels, values, strict=True)],
        notes=[_("Communities in the directory pursuing each purpose.")],
        empty_text=_("Purposes appear here once communities pursue them."),
        shape="rows",
    )


def formalised_per_quarter(today: date | None = None) -> Chart:
    quarters = _period_starts(today or timezone.localdate(), QUARTERS, 3)
    formalised = Community.objects.filter(
        kind=Community.Kind.KC, formed_from__isnull=False, status__in=LISTED
    )
    counted = {
        _as_date(row["quarter"]): row["n"]
        for row in formalised.filter(created_at__gte=_start_of(quarters[0]))
        .annotate(quarter=TruncQuarter("created_at"))
        .order_by()
        .values("quarter")
        .annotate(n=Count("pk"))
    }
    labels = [_quarter_label(quarter) for quarter in quarters]
    values = [counted.get(quarter, 0) for quarter in quarters]
    summary = _(
        "Communities of practice formalised as knowledge communities per quarter, "
        "last %(quarters)d quarters: %(total)d in all."
    ) % {"quarters": QUARTERS, "total": sum(values)}
    return Chart(
        slug="formalised",
        title=_("CoPs formalised per quarter"),
        summary=summary,
        categories=labels,
        series=[Series("kc", _("Formalised"), values)],
        header=[_("Quarter"), _("Formalised")],
        rows=[[label, n] for label, n in zip(labels, values, strict=True)],
        notes=[_("Knowledge communities formed from a CoP, by the quarter they were created.")],
        empty_text=_(
            "When a directory admin formalises a community of practice as a knowledge "
            "community, it shows here."
        ),
        label_every=4,
    )


def recent_formalisations(limit: int = RECENT_FORMALISATIONS):
    return (
        Community.objects.filter(
            kind=Community.Kind.KC, formed_from__isnull=False, status__in=LISTED
        )
        .select_related("formed_from")
        .order_by("-created_at", "-pk")[:limit]
    )


CHARTS = {
    "kinds-and-stages": communities_by_kind_and_stage,
    "membership-growth": membership_growth,
    "decision-time": decision_time,
    "purposes": most_pursued_purposes,
    "formalised": formalised_per_quarter,
}
