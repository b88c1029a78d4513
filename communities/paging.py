"""Paging long lists without counting or skipping more rows than a page needs.

- ``NameKeysetPage``: a community's list in name order, read from a cursor (the last or
  first membership shown) rather than by page number, so the fiftieth page costs what
  the first does: the database walks the names from the cursor instead of skipping
  everything before it. Its total is exact.
- ``PositionedRows``: rows numbered 0, 1, 2 … by a ``position`` column (a stored import
  plan), whose pages are ranges of positions: an index range, never an OFFSET.
- ``CappedPaginator``: a ``Paginator`` that counts at most ``cap`` + 1 rows. Up to the
  cap the total is exact; beyond it the page says "more than" the cap and offers the
  pages up to it, and searching or filtering narrows the list.
- ``ids_page``: the ids on one page of a sorted query and the query's total, in one
  statement, for pages whose rows are then read by id (the directory).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, Subquery, Window
from django.utils.functional import cached_property

from .models import MEMBER_NAME


def _cursor(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


@dataclass
class NameKeysetPage:
    """One page of memberships in ``Membership.objects.by_member_name()`` order."""

    object_list: list
    count: int
    has_previous: bool
    has_next: bool
    after_param: str = "after"
    before_param: str = "before"

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self):
        return len(self.object_list)

    @property
    def first_pk(self) -> int | None:
        return self.object_list[0].pk if self.object_list else None

    @property
    def last_pk(self) -> int | None:
        return self.object_list[-1].pk if self.object_list else None

    @classmethod
    def read(
        cls, queryset, params, per_page: int, *, cursors, count_in_page=False, values=(), build=None
    ):
        """The page ``params`` (a request's GET) asks for: after the membership
        ``?after=<pk>``, before ``?before=<pk>``, else the first page.

        ``cursors`` is where a cursor's pk is looked up (the community's memberships,
        whatever the filters: a cursor stays a position even when its row is filtered
        out). A cursor that names none of them (gone, another community's, not a
        number) gives the first page.
        ``values``: fetch only these columns (``values()``; counts still count the
        memberships alone, without the joins the columns need), and ``build`` makes
        each fetched row into what the page lists (it must have a ``pk``).
        ``count_in_page``: count the matches in the first page's query (a window
        function) instead of a query of its own; worth it when the database has to
        find every match to sort them anyway (a search), not when it can stop after a
        page (the whole list, walked in name order).
        """
        after, before = _cursor(params.get("after")), _cursor(params.get("before"))
        ordered = queryset.by_member_name()
        if values:
            ordered = ordered.values(*values)
        if after or before:
            pk = after or before
            name = Subquery(cursors.filter(pk=pk).values(MEMBER_NAME)[:1])
            if after:
                rows = list(
                    ordered.filter(**{f"{MEMBER_NAME}__gte": name}).filter(
                        Q(**{f"{MEMBER_NAME}__gt": name}) | Q(**{MEMBER_NAME: name}, pk__gt=pk)
                    )[: per_page + 1]
                )
                has_previous, has_next = True, len(rows) > per_page
                rows = rows[:per_page]
            else:
                rows = list(
                    ordered.filter(**{f"{MEMBER_NAME}__lte": name})
                    .filter(Q(**{f"{MEMBER_NAME}__lt": name}) | Q(**{MEMBER_NAME: name}, pk__lt=pk))
                    .reverse()[: per_page + 1]
                )
                has_previous, has_next = len(rows) > per_page, True
                rows = rows[:per_page][::-1]
            if rows:
                return cls(_built(rows, build), queryset.count(), has_previous, has_next)
        if count_in_page:
            rows = list(ordered.annotate(total_matches=Window(Count("pk")))[: per_page + 1])
            total = _field(rows[0], "total_matches") if rows else 0
        else:
            rows = list(ordered[: per_page + 1])
            total = queryset.count() if len(rows) > per_page else len(rows)
        return cls(_built(rows[:per_page], build), total, False, len(rows) > per_page)


def _field(row, name):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _built(rows: list, build) -> list:
    return [build(row) for row in rows] if build else rows


class PositionedRows:
    """What a ``Paginator`` pages over for rows numbered 0 … ``count`` - 1 by their
    ``position``: its total is known (no COUNT), and a slice reads the rows whose
    position is in range, so a deep page costs what the first does."""

    def __init__(self, queryset, count: int):
        self.queryset, self.total = queryset, count

    def count(self) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, key: slice) -> list:
        start, stop = key.start or 0, min(key.stop, self.total)
        return list(self.queryset.filter(position__gte=start, position__lt=stop))


class CountedPaginator(Paginator):
    """A ``Paginator`` whose total comes from ``count_queryset``: a ``values()`` list
    with columns of related tables would otherwise be counted over their joins."""

    def __init__(self, object_list, per_page, *, count_queryset, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.count_queryset = count_queryset

    @cached_property
    def count(self) -> int:
        return self.count_queryset.count()


class CappedPaginator(Paginator):
    """Counts at most ``cap`` + 1 rows (``SELECT COUNT(*) FROM (… LIMIT cap + 1)``).

    ``capped`` tells whether the count stopped there; then only the pages up to the
    cap are offered, and the page links say "more than" the cap.
    """

    def __init__(self, object_list, per_page, *, cap: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def num_pages(self) -> int:
        if self.capped:
            return math.ceil(self.cap / self.per_page)
        return super().num_pages


def known_page(object_list: list, number: int, count: int, per_page: int) -> Page:
    """A ``Page`` of rows already read (say, from a cache), with the total they were
    counted from: what page links need, without a query."""
    paginator = Paginator([], per_page)
    paginator.count = count  # a cached_property: set, never counted
    return Page(object_list, number, paginator)


def short_first_page(rows, number, per_page: int, paginator: Callable[[], Paginator]) -> Page:
    """Page ``number`` of ``rows`` (a QuerySet, ordered) as ``paginator()`` pages it, except
    that the first page is read first: when it is shorter than ``per_page`` (a search
    that finds a few, a person's short history) its length is the total, and nothing is
    counted. A full first page is counted (for its links); any other page is paged as
    usual."""
    if str(number or "1") != "1":
        return paginator().get_page(number)
    first = list(rows[:per_page])
    if len(first) < per_page:
        return known_page(first, 1, len(first), per_page)
    return Page(first, 1, paginator())  # a full page: counted for its links, not read again


MAX_PAGE_NUMBER = 10**9


def ids_page(queryset, number, per_page: int) -> tuple[list, int, int]:
    """The ids on page ``number`` of ``queryset`` (in its order), how many rows it has in
    all, and the number of the page read (as ``Paginator.get_page`` has it: not a number
    is page 1, a page out of range the last): one query.

    The total is counted in the same statement (``COUNT(*) OVER ()``), so a costly
    filter (a search) runs once, not once to count and once for the page, and only ids
    are read: the rows skipped to reach a deep page are read from an index that holds
    what the filters and the order ask (the directory's covering indexes), never from
    the table. Only a page past the end asks again: page 1, for the total, then the last."""

    def read(page: int) -> list[tuple]:
        offset = (page - 1) * per_page
        return list(
            queryset.annotate(total_rows=Window(Count("pk"))).values_list("pk", "total_rows")[
                offset : offset + per_page
            ]
        )

    try:
        number = int(number)
    except (TypeError, ValueError):
        number = 1
    # Beyond any list (and beyond what an OFFSET can be): past the end, without asking.
    rows = read(number) if 1 <= number <= MAX_PAGE_NUMBER else []
    if not rows and number != 1:
        # Past the end: page 1 says the total (and is the last page of a short list).
        number, rows = 1, read(1)
        last = math.ceil(rows[0][1] / per_page) if rows else 1
        if last > 1:
            number, rows = last, read(last)
    total = rows[0][1] if rows else 0
    return [pk for pk, _total in rows], total, number
