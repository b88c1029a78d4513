"""The people communities share, stored: ``CommunityOverlap`` rows, kept as memberships
change.

Every service that makes a membership active, or ends an active one, calls
``people_joined`` or ``people_left`` (one community, any number of people) in the same
transaction; a change that ends all of several people's memberships at once calls
``people_leaving`` before it. Each is one set-based statement (per 500 people on
SQLite): it counts the changed people's other active communities and adds (or takes)
that many to the pairs, both ways round, creating a pair's row at its first shared
person and deleting it at its last. Rows are written in (community, other) order, so
two transactions that touch the same pairs lock them in the same order.

The status of the communities is not stored: readers keep the live ones. ``rebuild``
counts every pair again from scratch (``manage.py rebuild_overlaps``, after loading
memberships by hand); ``counted`` is that count, for the tests that prove the stored
pairs always equal it.
"""

# The SQL is built from table names (from _meta) and placeholders only.
# ruff: noqa: S608

from collections.abc import Collection

from django.db import connection, transaction
from django.db.models import Q

from .models import CommunityOverlap, Membership

ACTIVE = Membership.State.ACTIVE
OVERLAP = CommunityOverlap._meta.db_table
MEMBERSHIP = Membership._meta.db_table


def _chunks(ids: Collection[int]) -> list[list[int]]:
    ids = sorted(set(ids))
    size = 500 if connection.features.max_query_params else max(len(ids), 1)
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _add(pairs_sql: str, params: list) -> list[tuple[int, int]] | None:
    """Add the (community_id, other_id, n) rows that ``pairs_sql`` selects to the
    stored pairs. Returns the pairs taken down to nothing (deleted by the caller, with
    ``_delete_emptied``), read back with ``RETURNING`` where the database has it (so a
    change that empties no pair costs no further statement); ``None`` where it has not
    (SQLite before 3.35)."""
    sql = (
        f"INSERT INTO {OVERLAP} (community_id, other_id, shared) "
        f"SELECT community_id, other_id, n FROM ({pairs_sql}) AS pairs WHERE true "
        "ORDER BY community_id, other_id "
        "ON CONFLICT (community_id, other_id) "
        f"DO UPDATE SET shared = {OVERLAP}.shared + excluded.shared"
    )
    returning = connection.features.can_return_rows_from_bulk_insert
    if returning:
        sql += " RETURNING community_id, other_id, shared"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning:
            return None
        return [(a, b) for a, b, shared in cursor.fetchall() if shared <= 0]


def _delete_emptied(pairs: list[tuple[int, int]]) -> None:
    """Delete these pairs (both ways round come back from ``_add`` as separate rows)."""
    for start in range(0, len(pairs), 400):
        chunk = pairs[start : start + 400]
        wanted = Q()
        for community_id, other_id in chunk:
            wanted |= Q(community_id=community_id, other_id=other_id)
        CommunityOverlap.objects.filter(wanted, shared__lte=0).delete()


def _shift(community_id: int, member_ids: Collection[int], sign: int) -> None:
    if not member_ids:
        return
    for chunk in _chunks(member_ids):
        marks = ", ".join(["%s"] * len(chunk))
        # The people's other active communities, counted: each pair both ways round.
        others = (
            f"SELECT m.community_id AS other, COUNT(*) AS n FROM {MEMBERSHIP} m "
            f"WHERE m.state = %s AND m.community_id <> %s AND m.member_id IN ({marks}) "
            "GROUP BY m.community_id"
        )
        params = [ACTIVE, community_id, *chunk]
        pairs = (
            f"SELECT %s AS community_id, o.other AS other_id, %s * o.n AS n FROM ({others}) o "
            "UNION ALL "
            f"SELECT o.other, %s, %s * o.n FROM ({others}) o"
        )
        emptied = _add(pairs, [community_id, sign, *params, community_id, sign, *params])
        if sign > 0:
            continue
        if emptied is None:
            CommunityOverlap.objects.filter(
                Q(community_id=community_id) | Q(other_id=community_id), shared__lte=0
            ).delete()
        elif emptied:
            _delete_emptied(emptied)


def people_joined(*, community_id: int, member_ids: Collection[int]) -> None:
    """``member_ids`` became active in the community (and nothing else changed for
    them): each pair of it and another community they are active in gains them. Call it
    before or after their memberships are written, within the same transaction."""
    _shift(community_id, member_ids, +1)


def people_left(*, community_id: int, member_ids: Collection[int]) -> None:
    """``member_ids`` stopped being active in the community (and nothing else changed
    for them): each pair of it and another community they are active in loses them."""
    _shift(community_id, member_ids, -1)


def people_leaving(*, member_ids: Collection[int]) -> None:
    """Every active membership of ``member_ids`` is about to end (people who left the
    organisation): every pair of their active communities loses them. Call it before
    their memberships are written."""
    if not member_ids:
        return
    touched: set[int] = set()
    for chunk in _chunks(member_ids):
        marks = ", ".join(["%s"] * len(chunk))
        pairs = (
            "SELECT a.community_id AS community_id, b.community_id AS other_id, "
            f"-COUNT(*) AS n FROM {MEMBERSHIP} a JOIN {MEMBERSHIP} b "
            "ON b.member_id = a.member_id AND b.community_id <> a.community_id "
            f"WHERE a.state = %s AND b.state = %s AND a.member_id IN ({marks}) "
            "GROUP BY a.community_id, b.community_id"
        )
        emptied = _add(pairs, [ACTIVE, ACTIVE, *chunk])
        if emptied is not None:
            _delete_emptied(emptied)
            continue
        touched.update(
            Membership.objects.filter(member_id__in=chunk, state=ACTIVE).values_list(
                "community_id", flat=True
            )
        )
    for chunk in _chunks(touched):
        CommunityOverlap.objects.filter(community_id__in=chunk, shared__lte=0).delete()


def counted() -> dict[tuple[int, int], int]:
    """Every pair's shared people, counted from the memberships now (both ways round):
    what the stored pairs must equal."""
    return {(a, b): n for a, b, n in _counted_rows()}


def _counted_sql() -> str:
    return (
        "SELECT a.community_id, b.community_id, COUNT(*) "
        f"FROM {MEMBERSHIP} a JOIN {MEMBERSHIP} b "
        "ON b.member_id = a.member_id AND b.community_id <> a.community_id "
        "WHERE a.state = %s AND b.state = %s "
        "GROUP BY a.community_id, b.community_id"
    )


def _counted_rows() -> list[tuple[int, int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(_counted_sql(), [ACTIVE, ACTIVE])
        return cursor.fetchall()


def stored() -> dict[tuple[int, int], int]:
    """The stored pairs, as ``counted`` gives them."""
    return {
        (a, b): n
        for a, b, n in CommunityOverlap.objects.values_list("community_id", "other_id", "shared")
    }


def rebuild() -> int:
    """Count every pair again from scratch, replacing what is stored (one ``DELETE`` and
    one ``INSERT … SELECT``, in one transaction: its own, or the caller's). Returns how
    many rows are stored."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Roster changes wait (their own increments would be lost in the DELETE); one
            # that committed before the lock is counted, one after it adds itself.
            cursor.execute(f"LOCK TABLE {OVERLAP} IN EXCLUSIVE MODE")
        cursor.execute(f"DELETE FROM {OVERLAP}")
        cursor.execute(
            f"INSERT INTO {OVERLAP} (community_id, other_id, shared) {_counted_sql()}",
            [ACTIVE, ACTIVE],
        )
    return CommunityOverlap.objects.count()
