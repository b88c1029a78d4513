"""The CSV downloads: a community's roster, every membership, and the directory.

Each ``export_*`` function returns an iterator of bytes: a BOM and the header, then the
rows. On PostgreSQL with psycopg2 the rows come from one SQL query copied out as CSV
(``pg_copy``: the same bytes as the Python rows, many times faster); elsewhere (or with
``use_copy=False``) from the row generators below through ``cells.csv_rows``.
``on_rows(n)`` is called as rows are handed out (for progress and benchmarks). Nothing
is queried until the first chunk is read.
"""

from collections.abc import Generator, Iterable, Iterator

from django.db import connection

from members.models import Member

from ..models import Community, Membership, Purpose
from . import pg_copy
from .cells import FORMULA_PREFIXES, csv_rows

ROSTER_HEADER = ["name", "email", "username", "department", "role", "state", "joined", "decided_by"]
# Every membership (``export_memberships``): the community's slug, then a roster row.
MEMBERSHIPS_HEADER = ["community", *ROSTER_HEADER]


def roster_export_rows(
    community: Community, *, states=(Membership.State.ACTIVE,)
) -> Iterator[list]:
    """The community's memberships in ``states``, by name: ``ROSTER_HEADER``."""
    memberships = (
        community.memberships.filter(state__in=states)
        .select_related("member__user", "member__department", "decided_by")
        .order_by("member__display_name", "pk")
    )
    for membership in memberships.iterator(chunk_size=2000):
        yield _roster_row(membership)


def membership_rows(*, states=None) -> Iterator[list]:
    """Every membership (in ``states``, if given) in id order: ``MEMBERSHIPS_HEADER``."""
    memberships = Membership.objects.select_related(
        "community", "member__user", "member__department", "decided_by"
    ).order_by("pk")
    if states is not None:
        memberships = memberships.filter(state__in=states)
    for membership in memberships.iterator(chunk_size=5000):
        yield [membership.community.slug, *_roster_row(membership)]


def _roster_row(membership: Membership) -> list:
    member = membership.member
    return [
        member.display_name,
        member.user.email,
        member.user.username,
        member.department.name if member.department else "",
        membership.role,
        membership.state,
        membership.active_since.date().isoformat() if membership.active_since else "",
        membership.decided_by.display_name if membership.decided_by else "",
    ]


DIRECTORY_HEADER = [
    "name",
    "slug",
    "kind",
    "status",
    "stage",
    "join_policy",
    "purposes",
    "sponsor",
    "stewards",
    "member_count",
]


def directory_communities():
    """The communities the directory export lists, with what its rows show."""
    return Community.objects.listed().with_counts().with_leaders().order_by("name", "pk")


def directory_rows(communities) -> Iterator[list]:
    for community in communities.iterator(chunk_size=500):
        yield [
            community.name,
            community.slug,
            community.kind,
            community.status,
            community.stage,
            community.join_policy if community.is_kc else "",
            "; ".join(purpose.statement for purpose in community.purposes.all()),
            community.sponsor.display_name if community.sponsor else "",
            "; ".join(steward.display_name for steward in community.stewards),
            community.active_member_count or 0,
        ]


# -- the export files: bytes, streamed; COPY on PostgreSQL ------------------------------

Chunks = Generator[bytes, None, None]


def export_roster(
    community: Community,
    *,
    states=(Membership.State.ACTIVE,),
    use_copy: bool | None = None,
    on_rows=None,
) -> Chunks:
    """A community's roster (``ROSTER_HEADER``), by name: what Export CSV downloads."""
    if not _copying(use_copy):
        return _encoded(ROSTER_HEADER, roster_export_rows(community, states=states), on_rows)
    # The decider looked up row by row: cheaper, for one roster, than joining every member.
    decider = (
        f"(SELECT dp.display_name FROM {_tables()['member']} dp "  # noqa: S608 (_meta name)
        "WHERE dp.id = m.decided_by_id)"
    )
    query = (
        f"SELECT {', '.join(_roster_cells(decider))} {_membership_joins(join_decider=False)} "
        "WHERE m.community_id = %s AND m.state = ANY(%s) ORDER BY p.display_name, m.id"
    )
    return _copied(ROSTER_HEADER, query, [community.pk, list(states)], on_rows)


def export_memberships(*, states=None, use_copy: bool | None = None, on_rows=None) -> Chunks:
    """Every membership (in ``states``, if given) in id order (``MEMBERSHIPS_HEADER``):
    ``manage.py export_roster --all-communities`` and the benchmark."""
    if not _copying(use_copy):
        return _encoded(MEMBERSHIPS_HEADER, membership_rows(states=states), on_rows)
    tables = _tables()
    where, params = ("WHERE m.state = ANY(%s) ", [list(states)]) if states is not None else ("", [])
    query = (
        f"SELECT {_sql_cell('c.slug')}, {', '.join(_roster_cells())} {_membership_joins()} "
        f"JOIN {tables['community']} c ON c.id = m.community_id {where}ORDER BY m.id"
    )
    return _copied(MEMBERSHIPS_HEADER, query, params, on_rows)


def export_directory(*, use_copy: bool | None = None, on_rows=None) -> Chunks:
    """Every listed community (``DIRECTORY_HEADER``), by name: one aggregated query."""
    if not _copying(use_copy):
        return _encoded(DIRECTORY_HEADER, directory_rows(directory_communities()), on_rows)
    t = _tables()
    cells = ", ".join(
        _sql_cell(f"x.{name}")
        for name in ("name", "slug", "kind", "status", "stage", "join_policy")
        + ("purposes", "sponsor", "stewards", "member_count")
    )
    # Table names come from the models' _meta; every value is a parameter.
    query = f"""
        SELECT {cells} FROM (
            SELECT c.id, c.name, c.slug, c.kind, c.status, c.stage,
                CASE WHEN c.kind = %s THEN c.join_policy END AS join_policy,
                pu.statements AS purposes, l.sponsor, l.stewards,
                coalesce(n.active, 0)::text AS member_count
            FROM {t["community"]} c
            LEFT JOIN (
                SELECT cp.community_id,
                    string_agg(pp.statement, '; ' ORDER BY pp.statement) AS statements
                FROM {t["community_purposes"]} cp
                JOIN {t["purpose"]} pp ON pp.id = cp.purpose_id
                GROUP BY cp.community_id
            ) pu ON pu.community_id = c.id
            LEFT JOIN (
                SELECT community_id, count(*) AS active FROM {t["membership"]}
                WHERE state = %s GROUP BY community_id
            ) n ON n.community_id = c.id
            LEFT JOIN (
                SELECT m.community_id,
                    min(p.display_name) FILTER (WHERE m.role = %s) AS sponsor,
                    string_agg(p.display_name, '; ' ORDER BY p.display_name, m.id)
                        FILTER (WHERE m.role = %s) AS stewards
                FROM {t["membership"]} m JOIN {t["member"]} p ON p.id = m.member_id
                WHERE m.state = %s AND m.role IN (%s, %s)
                GROUP BY m.community_id
            ) l ON l.community_id = c.id
            WHERE c.status <> %s
        ) x
        ORDER BY x.name, x.id
    """  # noqa: S608
    Role, State = Membership.Role, Membership.State
    params = [
        Community.Kind.KC,
        State.ACTIVE,
        Role.SPONSOR,
        Role.STEWARD,
        State.ACTIVE,
        Role.SPONSOR,
        Role.STEWARD,
        Community.Status.PROPOSED,
    ]
    return _copied(DIRECTORY_HEADER, query, params, on_rows)


def _copying(use_copy: bool | None) -> bool:
    return pg_copy.available() if use_copy is None else use_copy


def _encoded(header: list[str], rows: Iterable[Iterable], on_rows) -> Chunks:
    """The Python way: ``csv_rows`` one line at a time, encoded."""
    lines = csv_rows(header, rows)
    for _preamble in range(2):  # the BOM, the header
        yield next(lines).encode()
    for line in lines:
        if on_rows is not None:
            on_rows(1)
        yield line.encode()


def _copied(header: list[str], query: str, params, on_rows) -> Chunks:
    """The PostgreSQL way: BOM and header as ``csv_rows`` writes them, then ``COPY``."""
    yield "".join(csv_rows(header, [])).encode()
    yield from pg_copy.copy_csv(query, params, on_rows=on_rows)


def _sql_cell(expression: str) -> str:
    """``safe_cell`` in SQL, for a text expression."""
    return pg_copy.guarded(expression, FORMULA_PREFIXES)


def _roster_cells(decider: str = "dp.display_name") -> list[str]:
    """``_roster_row`` in SQL, over ``_membership_joins``."""
    return [
        _sql_cell(expression)
        for expression in (
            "p.display_name",
            "u.email",
            "u.username",
            "d.name",
            "m.role",
            "m.state",
            pg_copy.utc_date("m.active_since"),
            decider,
        )
    ]


def _membership_joins(*, join_decider: bool = True) -> str:
    """Memberships ``m`` with their member ``p``, user ``u``, department ``d`` and (unless
    ``join_decider`` is false) the member who decided ``dp``: what ``_roster_row`` reads."""
    t = _tables()
    joins = (
        f"FROM {t['membership']} m "
        f"JOIN {t['member']} p ON p.id = m.member_id "
        f"JOIN {t['user']} u ON u.id = p.user_id "
        f"LEFT JOIN {t['department']} d ON d.id = p.department_id"
    )
    if join_decider:
        joins += f" LEFT JOIN {t['member']} dp ON dp.id = m.decided_by_id"
    return joins


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        name: quote(model._meta.db_table)
        for name, model in {
            "community": Community,
            "community_purposes": Community.purposes.through,
            "department": Member._meta.get_field("department").related_model,
            "member": Member,
            "membership": Membership,
            "purpose": Purpose,
            "user": Member._meta.get_field("user").related_model,
        }.items()
    }
