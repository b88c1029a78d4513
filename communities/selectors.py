"""Reads that pages share: what a page shows, asked by name, with its cache.

Views (and forms, for their menus and look-ups) ask here or a QuerySet method for what
they show; nothing here writes. What is cached is cached here, through ``caching``
(which also says why each kind of entry is correct). None of these reads depends on the
page that shows it: they take plain values (a member, a community, a query string's
parts), never a request.
"""

import difflib
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.template import engines
from django.urls import reverse
from django.utils.formats import localize
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from members.models import Department, Member

from . import caching, manage_rows
from .access import is_directory_admin, requests_decidable_by
from .models import (
    ROLE_RANK,
    Community,
    CommunityTerm,
    Membership,
    Purpose,
    ReviewSchedule,
    RosterImport,
    count_communities,
    count_members,
)
from .paging import (
    CappedPaginator,
    CountedPaginator,
    NameKeysetPage,
    PositionedRows,
    ids_page,
    known_page,
    short_first_page,
)

# -- the directory and purposes -----------------------------------------------------------

# Communities that are "there" today: in the directory and not archived.
LIVE = [Community.Status.ACTIVE, Community.Status.DORMANT]
CARD_TEMPLATE = "includes/_community_card.html"  # a Jinja2 template
PURPOSES_PER_PAGE = 50
IMPORT_ROWS_PER_PAGE = 200
PURPOSE_MENU_SIZE = 100
PURPOSE_MENU_SECONDS = 300


def card_shows(community: Community) -> tuple:
    """Everything a community's card displays (its purposes, leaders and
    ``active_member_count`` loaded): the card's cache key, so no change goes unseen."""
    return (
        community.pk,
        community.slug,
        community.name,
        community.kind,
        community.status,
        community.stage,
        community.join_policy,
        community.summary,
        tuple((purpose.slug, purpose.statement) for purpose in community.purposes.all()),
        community.active_member_count,
        tuple(str(steward) for steward in community.stewards),
    )


def with_cards(communities: list) -> list:
    """Set ``card`` (its HTML) on each community: drawn only when what it shows changed.
    The communities need their purposes, leaders and ``active_member_count`` loaded.
    Cards are drawn by Jinja2 (``templates/jinja2/includes/_community_card.html``) from
    plain data (``card_data``): a page of 24 in a few ms, where Django's engine took
    20 ms with the badges' includes and a plural per card."""
    by_pk = {community.pk: community for community in communities}
    page = CardPage()
    template = engines["jinja2"].get_template(CARD_TEMPLATE)
    cards = caching.drawn_by_content(
        "card",
        {community.pk: card_shows(community) for community in communities},
        lambda pk: template.render(card_data(by_pk[pk], page)),
    )
    for community in communities:
        community.card = mark_safe(cards[community.pk])  # noqa: S308 (autoescaped template)
    return communities


class CardPage:
    """What every card of a page shares, made once for all of them: a community's and a
    purpose's address from their slug (reversed once; slugs need no quoting) and the
    labels, translated once (a page of 24 cards asked for 200 translations)."""

    SENTINEL = "kcdir0card0"

    def __init__(self):
        self.community = self._maker("communities:community_detail")
        self.purpose = self._maker("communities:purpose_detail")
        self.statuses = {value: str(label) for value, label in Community.Status.choices}
        self.stages = {value: str(label) for value, label in Community.Stage.choices}
        self.joining = {value: str(label) for value, label in JOIN_LABELS.items()}
        self.by_invitation = _("By invitation")
        self.purposes_label = _("Purposes:")
        self.kc = {
            "kind_label": _("Knowledge community"),
            "kind_title": _("Purposely formed, with a formal membership list"),
            "stewards_label": _("Stewards:"),
        }
        self.cop = {
            "kind_label": _("Community of practice"),
            "kind_title": _("Informal: people who practise together"),
            "stewards_label": _("Coordinators:"),
        }

    def _maker(self, viewname: str):
        before, _sep, after = reverse(viewname, args=[self.SENTINEL]).partition(self.SENTINEL)
        return lambda slug: f"{before}{slug}{after}"


STATUS_BADGES = {"archived": "secondary", "dormant": "warning", "proposed": "info"}
JOIN_LABELS = {
    Community.JoinPolicy.OPEN: gettext_lazy("Open to join"),
    Community.JoinPolicy.REQUEST: gettext_lazy("Ask to join"),
}


def card_data(community: Community, page: CardPage) -> dict:
    """What a community's card shows, as plain values (labels translated, numbers
    localised, addresses made), for its template."""
    count = community.active_member_count or 0
    is_kc = community.kind == Community.Kind.KC
    if is_kc:
        members = ngettext("%(counter)s member", "%(counter)s members", count)
    else:
        members = ngettext("%(counter)s person practising", "%(counter)s people practising", count)
    return {
        "pk": community.pk,
        "kind": community.kind,
        "url": page.community(community.slug),
        "name": community.name,
        **(page.kc if is_kc else page.cop),
        "status_class": STATUS_BADGES.get(community.status, "info")
        if community.status != Community.Status.ACTIVE
        else "",
        "status_label": page.statuses.get(community.status, community.status),
        "stage_label": page.stages.get(community.stage, community.stage),
        "join_label": page.joining.get(community.join_policy, page.by_invitation),
        "summary": community.summary,
        "purposes_label": page.purposes_label,
        "purposes": [
            (page.purpose(purpose.slug), purpose.statement) for purpose in community.purposes.all()
        ],
        "members": members % {"counter": localize(count)},
        "stewards": ", ".join(str(steward) for steward in community.stewards),
    }


def directory_page(communities, number) -> Page:
    """Page ``number`` of ``communities`` (``Community.objects.for_directory()``, narrowed
    and sorted), each with its card: the page's ids and the total in one query
    (``paging.ids_page``), then the page's communities by id, with what cards show."""
    ids, count, number = ids_page(communities, number, settings.PAGE_SIZE)
    found = Community.objects.for_directory().in_bulk(ids) if ids else {}
    shown = with_cards([found[pk] for pk in ids if pk in found])
    return known_page(shown, number, count, settings.PAGE_SIZE)


@dataclass
class DirectorySearch:
    """A page of the directory, and the spelling it was found with when the words as
    typed found nothing (``corrected``, else ``""``)."""

    page: Page
    corrected: str = ""


def directory_search(narrow, query: str, number) -> DirectorySearch:
    """Page ``number`` of ``narrow(query)`` (the directory narrowed by the form, searching
    for the words given). When the words as typed find nothing, the closest spelling
    the directory's own words allow is tried instead ("pyton" is searched as "python")."""
    page = directory_page(narrow(query), number)
    if page.paginator.count or not query:
        return DirectorySearch(page)
    corrected = corrected_query(query)
    if not corrected:
        return DirectorySearch(page)
    retried = directory_page(narrow(corrected), number)
    if not retried.paginator.count:
        return DirectorySearch(page)
    return DirectorySearch(retried, corrected)


SPELLING_CUTOFF = 0.75
VOCABULARY_SECONDS = 300


def search_vocabulary() -> dict[int, list[str]]:
    """The words of listed communities' names, summaries and purposes (lower-cased,
    three letters or more), by length: what a misspelt search is corrected to. Read
    only when a search finds nothing, and kept for a few minutes (10,000 communities
    take about 0.4 s to read): a new name may take that long to be offered."""

    def read() -> dict[int, list[str]]:
        words = set()
        texts = Community.objects.listed().values_list("name", "summary")
        for name, summary in texts.iterator(chunk_size=2000):
            words.update(re.findall(r"\w{3,}", f"{name} {summary}".lower()))
        for statement in Purpose.objects.listed().values_list("statement", flat=True):
            words.update(re.findall(r"\w{3,}", statement.lower()))
        by_length: dict[int, list[str]] = {}
        for word in sorted(words):
            by_length.setdefault(len(word), []).append(word)
        return by_length

    return caching.remembered("search-vocabulary", (), read, VOCABULARY_SECONDS)


def corrected_query(query: str) -> str:
    """``query`` with each word the directory does not know (nor begins a word it
    knows) replaced by the closest one it does; ``""`` when nothing changed."""
    vocabulary = search_vocabulary()
    words = re.findall(r"\w+", query.lower())
    corrected = []
    for word in words:
        known_start = any(
            known.startswith(word)
            for length, group in vocabulary.items()
            if length >= len(word)
            for known in group
        )
        if len(word) < 3 or known_start:
            corrected.append(word)
            continue
        near = [
            known
            for length in range(len(word) - 2, len(word) + 3)
            for known in vocabulary.get(length, ())
        ]
        match = difflib.get_close_matches(word, near, n=1, cutoff=SPELLING_CUTOFF)
        corrected.append(match[0] if match else word)
    return " ".join(corrected) if corrected != words else ""


def viewer_states(member, community_ids) -> dict[int, str]:
    """Community id -> the viewer's standing there ("active", "requested" or "invited")
    among ``community_ids``: one query, for what a card says to its viewer alone."""
    if member is None or not community_ids:
        return {}
    return dict(
        Membership.objects.filter(
            member=member,
            community_id__in=list(community_ids),
            state__in=[
                Membership.State.ACTIVE,
                Membership.State.REQUESTED,
                Membership.State.INVITED,
            ],
        ).values_list("community_id", "state")
    )


def purposes_page(query: str, number) -> Page:
    """Page ``number`` of the listed purposes (``Purpose.objects.listed()``: pursued by a
    community in the directory) matching ``query``, by statement, each with its
    ``community_count``: counted for the page's purposes only, so a page never
    counts the communities of every purpose."""
    purposes = Purpose.objects.listed().search(query).order_by("statement")
    page = Paginator(purposes, PURPOSES_PER_PAGE).get_page(number)
    page.object_list = count_communities(page.object_list)
    return page


def pursuing_page(purpose: Purpose, number) -> Page:
    """Page ``number`` of the listed communities pursuing ``purpose``, KCs first, with
    their cards."""
    return directory_page(purpose.communities.for_directory().order_by("kind", "name"), number)


def purpose_menu() -> list[tuple[str, str]]:
    """(slug, statement) of the most-pursued listed purposes, alphabetical, for filter
    menus.

    A menu of every purpose would be thousands of options on every page view; the
    filters still accept any listed purpose's slug (links from purpose pages use it).
    Kept for a few minutes: a slightly stale menu is harmless, and what makes a purpose
    listed (a proposal approved, a knowledge community formed or created) forgets it
    (``purpose_menu_changed``). Only listed purposes are ever in it, stale or not.
    """

    def read():
        # Counted from the purposes' links to listed communities alone (one row per
        # community and purpose, so no DISTINCT), each purpose's own row joined once
        # counted: 20,000 links in a few ms, where counting per purpose over all of them
        # (``with_community_counts``) took 35-70 ms on every miss.
        top = (
            Community.purposes.through.objects.exclude(community__status=Community.Status.PROPOSED)
            .values("purpose_id", "purpose__slug", "purpose__statement")
            .annotate(community_count=Count("community_id"))
            .order_by("-community_count", "purpose__statement")
            .values_list("purpose__slug", "purpose__statement")[:PURPOSE_MENU_SIZE]
        )
        return sorted(top, key=lambda choice: choice[1].lower())

    return caching.remembered("purpose-menu", (PURPOSE_MENU_SIZE,), read, PURPOSE_MENU_SECONDS)


def purpose_menu_changed() -> None:
    """Forget the kept ``purpose_menu``: purposes may have joined the directory. Writers
    call this once their transaction has committed."""
    caching.forget("purpose-menu", (PURPOSE_MENU_SIZE,))


# -- a community ----------------------------------------------------------------------------


def roster_page(community: Community, query: str, number, *, count: int | None = None) -> Page:
    """Page ``number`` of the community's roster (``Membership.objects.roster()``'s
    order), narrowed by ``query``, as ``manage_rows.Entry`` rows (name, username, job
    title, department, role, since when). ``count``: how many the roster holds, when the
    caller knows it (the whole list: the community's active members), else counted.

    One query: the page is found among membership ids alone (a subquery that PostgreSQL
    reads from the roster's index, skipping to a deep page without joining the rows it
    skips), and only its own rows are joined to their people."""
    roster = community.memberships.roster().search(query)
    paginator = Paginator(roster.values_list("pk", flat=True), settings.PAGE_SIZE)
    if count is not None:
        paginator.count = count  # a cached_property: set, never counted
    page = paginator.get_page(number)
    rows = []
    if paginator.count:
        rows = (
            Membership.objects.filter(pk__in=page.object_list)
            .order_by(ROLE_RANK, "sort_name", "pk")
            .values(*manage_rows.MEMBER_COLUMNS)
        )
    page.object_list = [manage_rows.member_entry(row) for row in rows]
    return page


@dataclass
class ManageLists:
    roster_page: NameKeysetPage  # of manage_rows.Entry
    waiting_page: Page  # of manage_rows.Entry


def roster_import_page(roster_import: RosterImport, number) -> Page:
    """One page of an import's stored plan, as the preview lists it (once applied: the
    rows with errors it skipped); read by position (an index range), with the total
    stored at upload: nothing is re-read or counted."""
    rows = roster_import.rows.select_related("member").order_by("position")
    return Paginator(
        PositionedRows(rows, roster_import.listed_row_count), IMPORT_ROWS_PER_PAGE
    ).get_page(number)


def manage_lists(
    community: Community,
    roster,
    *,
    filters: dict,
    after=None,
    before=None,
    requests_page=None,
    per_page: int,
) -> ManageLists:
    """The manage page's two lists: ``roster`` (the community's memberships narrowed by
    ``filters``, the valid values of the page's filter form) in ``by_member_name()``
    order from the cursor ``after`` or ``before``, and page ``requests_page`` of the
    requests waiting, oldest first.

    Both are the same for every curator of the community and change only with
    memberships, members, their users and departments: kept as plain rows under the
    directory version, and made into ``manage_rows.Entry`` rows here.
    """

    def read() -> dict:
        # The list is read from a cursor, in name order: a late page costs what the
        # first does. A search's first page counts its matches in the same query.
        page = NameKeysetPage.read(
            roster,
            {"after": after, "before": before},
            per_page,
            cursors=community.memberships.all(),
            count_in_page=bool(filters.get("q")),
            values=manage_rows.ROSTER_COLUMNS,
        )
        waiting = community.memberships.filter(state=Membership.State.REQUESTED)
        waiting_page = CountedPaginator(
            waiting.order_by("updated_at", "pk").values(*manage_rows.WAITING_COLUMNS),
            per_page,
            count_queryset=waiting,
        ).get_page(requests_page)
        return {
            "roster": (page.object_list, page.count, page.has_previous, page.has_next),
            "waiting": (
                list(waiting_page.object_list),
                waiting_page.number,
                waiting_page.paginator.count,
            ),
        }

    parts = (community.pk, per_page, filters, after, before, requests_page)
    lists = caching.versioned("manage", parts, read)
    rows, count, has_previous, has_next = lists["roster"]
    waiting_rows, waiting_number, waiting_count = lists["waiting"]
    return ManageLists(
        roster_page=NameKeysetPage(
            [manage_rows.roster_entry(row) for row in rows], count, has_previous, has_next
        ),
        waiting_page=known_page(
            [manage_rows.waiting_entry(row) for row in waiting_rows],
            waiting_number,
            waiting_count,
            per_page,
        ),
    )


def waiting_count(user) -> int:
    """How many requests ``user`` can decide (``access.requests_decidable_by``).
    Requests are memberships and stewardship is a role: both change the directory
    version, so the count is kept per person and version."""
    return caching.versioned(
        "waiting",
        (user.pk, is_directory_admin(user)),
        lambda: requests_decidable_by(user).count(),
    )


def ladder_steps(communities, *, limit: int) -> list[dict]:
    """Botkin's ladder for ``communities``: per stage, in order, its value, label, how
    many communities stand on it and the first ``limit`` of them (by kind and name)."""
    counts = dict(
        communities.order_by()
        .values_list("stage")
        .annotate(n=Count("pk"))
        .values_list("stage", "n")
    )
    steps = []
    for value, label in Community.Stage.choices:
        shown = list(communities.filter(stage=value).order_by("kind", "name")[:limit])
        steps.append(
            {
                "value": value,
                "label": label,
                "count": counts.get(value, 0),
                "communities": shown,
                "more": max(0, counts.get(value, 0) - len(shown)),
            }
        )
    return steps


def people_to_add(community: Community, query: str, limit: int = 25) -> list[Member]:
    """Up to ``limit`` people matching ``query`` who are not active in ``community``."""
    if not query:
        return []
    active_here = Membership.objects.filter(
        member=OuterRef("pk"), community=community, state=Membership.State.ACTIVE
    )
    return list(Member.objects.for_directory().search(query).exclude(Exists(active_here))[:limit])


# Words that say nothing about what a community is about: left out when communities are
# compared with a name (duplicates) or with a person's expertise (suggestions).
STOP_WORDS = {
    "the",
    "and",
    "for",
    "our",
    "its",
    "into",
    "with",
    "from",
    "that",
    "this",
    "who",
    "all",
    "new",
    "how",
    "community",
    "communities",
    "practice",
    "group",
    "team",
    "club",
    "network",
}


def significant_words(text: str) -> list[str]:
    """The words of ``text`` that say something: lower-cased, three letters or more,
    no stop words; in their order, repeats kept."""
    return [w for w in re.findall(r"\w+", text.lower()) if len(w) >= 3 and w not in STOP_WORDS]


def similar_communities(
    name: str,
    summary: str = "",
    *,
    purposes=(),
    limit: int = 5,
    exclude_pk=None,
    within=None,
) -> list[Community]:
    """Communities most like this name, summary and purposes (their statements), best
    first: those sharing a word of the name, or two words of the rest, with their name,
    summary or purposes; shared words in the name count most, then anywhere, then how
    alike the names read. Among ``within`` (default: every listed community)."""
    name_words = set(significant_words(name))
    words = name_words | set(significant_words(" ".join([summary, *purposes])))
    if not words:
        return []
    chosen = sorted(words)[:12]
    query, statement = Q(), Q()
    for word in chosen:
        query |= Q(name__icontains=word) | Q(summary__icontains=word)
        statement |= Q(purpose__statement__icontains=word)
    pursuing = Purpose.communities.through.objects.filter(statement, community=OuterRef("pk"))
    within = Community.objects.listed() if within is None else within
    candidates = (
        within.filter(query | Exists(pursuing))
        .exclude(pk=exclude_pk)
        .prefetch_related("purposes")[:100]
    )

    def words_of(candidate) -> set[str]:
        statements = (purpose.statement for purpose in candidate.purposes.all())
        return set(significant_words(" ".join([candidate.name, candidate.summary, *statements])))

    def alike_enough(candidate) -> bool:
        # A word of the name anywhere in it, or two words of the rest: one common word
        # ("data", "2030") in a purpose is not a likeness.
        shared = words & words_of(candidate)
        return bool(shared & name_words) or len(shared) >= 2

    def score(candidate):
        shared_name = len(name_words & set(significant_words(candidate.name)))
        shared_any = len(words & words_of(candidate))
        alike = difflib.SequenceMatcher(None, name.lower(), candidate.name.lower()).ratio()
        return (shared_name, shared_any, alike)

    return sorted(filter(alike_enough, candidates), key=score, reverse=True)[:limit]


def merge_targets(source: Community):
    """The communities ``source`` may be merged into: live ones of its kind, not itself
    (``services.merge_problem`` says the same of any one)."""
    return Community.objects.live().filter(kind=source.kind).exclude(pk=source.pk)


def merge_candidates(source: Community, query: str, *, limit: int = 20) -> dict[str, list]:
    """What the merge page offers as the community that stays: ``similar`` (likely
    duplicates of ``source``) and ``found`` (names matching ``query``, by name; none
    without a query), each among ``merge_targets``, with member counts."""
    targets = merge_targets(source)
    similar = similar_communities(
        source.name,
        source.summary,
        purposes=source.purposes.values_list("statement", flat=True),
        exclude_pk=source.pk,
        within=targets,
    )
    found = []
    if query:
        found = list(
            targets.filter(name__icontains=query)
            .exclude(pk__in=[c.pk for c in similar])
            .order_by("name", "pk")[:limit]
        )
    return {"similar": count_members(similar), "found": count_members(found)}


# -- people ---------------------------------------------------------------------------------


def departments() -> list[tuple[int, str, str]]:
    """Every department as (pk, slug, name), by name: the same for everyone, so kept
    under the directory version (which changes with any department)."""
    return caching.versioned(
        "departments",
        (),
        lambda: list(Department.objects.order_by("name", "pk").values_list("pk", "slug", "name")),
    )


def people_page(people, number, *, cap: int) -> Page:
    """Page ``number`` of ``people`` (active members, narrowed) by name, with what the
    people directory's rows show; the total is counted up to ``cap`` (``CappedPaginator``),
    or not at all when the first page is not full (``short_first_page``)."""
    people = (
        people.select_related("user", "department")
        .only("display_name", "job_title", "expertise", "user__username", "department__name")
        .order_by("display_name", "pk")
    )
    size = settings.PAGE_SIZE
    return short_first_page(people, number, size, lambda: CappedPaginator(people, size, cap=cap))


HISTORY_PER_PAGE = 50


def history_page(events, number) -> Page:
    """Page ``number`` of ``events`` (a person's history, filtered and ordered), 50 a page;
    a history that fits on one page is read without counting it (``short_first_page``)."""
    return short_first_page(
        events, number, HISTORY_PER_PAGE, lambda: Paginator(events, HISTORY_PER_PAGE)
    )


def profile_memberships(member: Member):
    """The communities a person is active in, as a profile lists them (proposals left
    out), by community name: the role, and the community's name, slug and kind."""
    return (
        member.memberships.active()
        .exclude(community__status=Community.Status.PROPOSED)
        .select_related("community")
        .only("member", "role", "community__name", "community__slug", "community__kind")
        .order_by("community__name")
    )


# The sums are made from a covering index, leaving out the person's own communities and
# those not live (found by the kind-and-status index: a thousand at most of 10,000), and
# only the communities kept are read.
CONNECTED_SQL = """
SELECT c.id, c.slug, c.name, c.kind, c.status, top.total AS shared
FROM (
    SELECT o.other_id, SUM(o.shared) AS total
    FROM communities_communityoverlap o
    WHERE o.community_id IN (
        SELECT m.community_id FROM communities_membership m
        JOIN communities_community mc ON mc.id = m.community_id
        WHERE m.member_id = %s AND m.state = %s AND mc.status IN ({live})
    )
    AND o.other_id NOT IN (
        SELECT m.community_id FROM communities_membership m
        WHERE m.member_id = %s AND m.state = %s
    )
    AND o.other_id NOT IN (
        SELECT gone.id FROM communities_community gone
        WHERE gone.kind IN ({kinds}) AND gone.status IN ({gone})
    )
    GROUP BY o.other_id
    ORDER BY total DESC, o.other_id
    LIMIT %s
) top
JOIN communities_community c ON c.id = top.other_id
ORDER BY top.total DESC, top.other_id
"""


def connected_communities(member: Member, limit: int = 10) -> list[Community]:
    """Live communities the person is not in that share the most people with the live
    communities they are in, most first (ties: the older first); each carries
    ``shared``: the people it shares with each of the person's communities, added up
    (someone in two of them counts twice). One query over the stored overlaps
    (``CommunityOverlap``), nothing counted. Only the fields a profile shows are loaded
    (id, slug, name, kind, status)."""
    kinds = Community.Kind.values
    gone = [status for status in Community.Status.values if status not in LIVE]
    sql = CONNECTED_SQL.format(
        live=", ".join(["%s"] * len(LIVE)),
        kinds=", ".join(["%s"] * len(kinds)),
        gone=", ".join(["%s"] * len(gone)),
    )
    state = Membership.State.ACTIVE
    params = [member.pk, state, *LIVE, member.pk, state, *kinds, *gone, limit]
    return list(Community.objects.raw(sql, params))


def memberships_by_state(member: Member) -> dict[str, list[Membership]]:
    """The person's active, requested and invited memberships (with their community and
    end date, ``term``, if any), each list by community name; every state is a key."""
    memberships = (
        member.memberships.filter(
            state__in=[
                Membership.State.ACTIVE,
                Membership.State.REQUESTED,
                Membership.State.INVITED,
            ]
        )
        .select_related("community", "term")
        .order_by("community__name")
    )
    grouped = {state: [] for state in Membership.State.values}
    for membership in memberships:
        grouped[membership.state].append(membership)
    return grouped


def requests_waiting_for(user, limit: int = 50):
    """The first ``limit`` requests ``user`` can decide, oldest first, with community
    and member."""
    return requests_decidable_by(user).select_related("community", "member")[:limit]


def proposals_by(member: Member, limit: int = 20):
    """The person's latest knowledge-community proposals, newest first."""
    return Community.objects.filter(proposed_by=member).order_by("-created_at")[:limit]


def people_by_key(keys: list[str], *, names_only: bool = False) -> dict[str, Member | None]:
    """Active members by lower-cased username and email, for the given lower-cased keys.

    An email that several people share maps to None: it names no one for sure.
    ``names_only``: members with just their id and display name loaded (what an import
    plan needs; any other field would cost a query), not their whole row and user.
    """
    people: dict[str, Member | None] = {}
    usernames: set[str] = set()
    # One query on PostgreSQL (no parameter limit; it hashes long IN lists), which scans
    # the users once instead of once per 2,000 keys; batches of 2,000 elsewhere.
    size = 2000 if connection.features.max_query_params else max(len(keys), 1)
    for start in range(0, len(keys), size):
        chunk = keys[start : start + size]
        found = (
            Member.objects.active()
            .annotate(email_lower=Lower("user__email"), username_lower=Lower("user__username"))
            .filter(Q(email_lower__in=chunk) | Q(username_lower__in=chunk))
            .order_by()
        )
        found = found.only("display_name") if names_only else found.select_related("user")
        for member in found:
            people[member.username_lower] = member
            usernames.add(member.username_lower)
            email = member.email_lower
            if email and email not in usernames:
                shared = email in people and people[email] != member
                people[email] = None if shared else member
    return people


def default_term_months(community: Community) -> int | None:
    """The community's default membership term in months, or None."""
    return (
        CommunityTerm.objects.filter(community=community).values_list("months", flat=True).first()
    )


REVIEW_PAGE_SIZE = 50


def review_pending_page(review, number) -> Page:
    """Page ``number`` of the people still to confirm or remove in an open review, by
    name, as plain rows (membership pk, role and its label, name, username, job title): two queries
    (the count and the page) whatever the roster's size."""
    rows = (
        review.pending_memberships()
        .order_by("sort_name", "pk")
        .values("pk", "role", "member__display_name", "member__user__username", "member__job_title")
    )
    page = Paginator(rows, REVIEW_PAGE_SIZE).get_page(number)
    labels = dict(Membership.Role.choices)
    page.object_list = [{**row, "role_label": labels.get(row["role"], "")} for row in page]
    return page


def review_items_page(review, number) -> Page:
    """Page ``number`` of a review's outcome (who was confirmed or removed, by whom and
    when), by name."""
    return Paginator(review.items.order_by("member_name", "pk"), REVIEW_PAGE_SIZE).get_page(number)


def past_reviews(community: Community, limit: int = 10) -> list:
    """The community's completed reviews, newest first."""
    return list(
        community.reviews.filter(status="completed").order_by("-completed_at", "-pk")[:limit]
    )


def open_review(community: Community):
    """The community's open review, or None."""
    return community.reviews.filter(status="open").first()


def review_every_months(community: Community) -> int | None:
    """How often the community's list is reviewed (months), or None."""
    return (
        ReviewSchedule.objects.filter(community=community)
        .values_list("every_months", flat=True)
        .first()
    )
