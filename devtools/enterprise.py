"""Enterprise-scale data: 100 departments, 100,000 people, 10,000 communities,
5,000 purposes and 1,000,000 memberships, each with the event that explains it.

Used by ``seed_demo --scale enterprise`` and by ``bench``. Rows are generated in
Python from a seeded random generator (the same data every run, dates relative to
today) and loaded in bulk: PostgreSQL ``COPY ... FROM STDIN`` fed by a streaming
generator (so Python generates while the server loads, on two cores), SQLite batched
``executemany``. Everything is written in one transaction; running it again once
the data is there does nothing.

The shape is meant to be realistic rather than uniform: community sizes are
heavy-tailed (most under 50 people, a few over 5,000), people mostly join
communities of their own department, every kind, status, stage, join policy, role
and membership state occurs, every knowledge community has a sponsor and stewards,
and one open knowledge community (``BENCH_COMMUNITY_SLUG``) has exactly 5,000 active
members for the benchmark.
"""

import io
import math
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from communities.models import Community, Membership, MembershipEvent, Purpose
from members.models import Department

from .demo.data import DEPARTMENTS, EXPERTISE, FIRST_NAMES, LAST_NAMES, LOCATIONS

# The marker: present only after a complete load (it is written in the same transaction).
BENCH_COMMUNITY_SLUG = "one-customer-promise"
BENCH_COMMUNITY_NAME = "One Customer Promise"

MORE_FIRST_NAMES = [
    "Abel",
    "Ada",
    "Adele",
    "Ahmed",
    "Akira",
    "Alba",
    "Alice",
    "Amara",
    "Amir",
    "Ana",
    "Anders",
    "Anika",
    "Anton",
    "Asha",
    "Aurora",
    "Axel",
    "Bianca",
    "Bilal",
    "Bruno",
    "Camila",
    "Cara",
    "Cyrus",
    "Dalia",
    "Daniel",
    "Dara",
    "Diego",
    "Ebony",
    "Edith",
    "Elif",
    "Eliza",
    "Emeka",
    "Emil",
    "Esme",
    "Ezra",
    "Fatima",
    "Felix",
    "Fiona",
    "Gabriel",
    "Gemma",
    "Hana",
    "Hamza",
    "Hector",
    "Ines",
    "Iris",
    "Isaac",
    "Ivan",
    "Jade",
    "Jamal",
    "Joao",
    "Julia",
    "Juno",
    "Karim",
    "Kasia",
    "Kofi",
    "Lars",
    "Leila",
    "Leo",
    "Lucia",
    "Luis",
    "Maya",
    "Milo",
    "Mira",
    "Nia",
    "Nico",
    "Nils",
    "Noor",
    "Oscar",
    "Paula",
    "Pedro",
    "Rafael",
    "Rania",
    "Ravi",
    "Reza",
    "Rhea",
    "Ruth",
    "Sami",
    "Sana",
    "Sara",
    "Sofia",
    "Tariq",
    "Teo",
    "Theo",
    "Uma",
    "Vik",
    "Wanda",
    "Yusuf",
    "Zara",
]
MORE_LAST_NAMES = [
    "Abara",
    "Ahmed",
    "Alvarez",
    "Andersen",
    "Bakker",
    "Banda",
    "Berg",
    "Brown",
    "Campbell",
    "Chen",
    "Chowdhury",
    "Clarke",
    "Cruz",
    "Silveira",
    "Dahl",
    "Diaz",
    "Dlamini",
    "Eriksen",
    "Farouk",
    "Ferreira",
    "Fontaine",
    "Gomez",
    "Gupta",
    "Hansen",
    "Hoang",
    "Hughes",
    "Ivanova",
    "Jansen",
    "Johnson",
    "Kaur",
    "Khan",
    "Kim",
    "Kruger",
    "Larsen",
    "Lee",
    "Lindqvist",
    "Martin",
    "Mendes",
    "Moreau",
    "Murphy",
    "Nakamura",
    "Nguyen",
    "Nielsen",
    "O'Brien",
    "Oliveira",
    "Osei",
    "Park",
    "Pereira",
    "Petrov",
    "Popescu",
    "Reyes",
    "Richter",
    "Romero",
    "Sato",
    "Schmidt",
    "Sharma",
    "Singh",
    "Smith",
    "Sorensen",
    "Suzuki",
    "Takahashi",
    "Taylor",
    "Torres",
    "Vargas",
    "Walsh",
    "Wang",
    "Weber",
    "Williams",
    "Wilson",
    "Yilmaz",
    "Young",
    "Zhang",
]
REGIONS = [
    "North",
    "South",
    "East",
    "West",
    "Central",
    "Ireland",
    "Iberia",
    "Nordics",
    "Benelux",
    "Global",
]

SHAPE_VERBS = [
    "Cut",
    "Halve",
    "Automate",
    "Redesign",
    "Simplify",
    "Retire the legacy tools for",
    "Rethink",
    "Measure",
    "Open up",
    "Modernise",
    "Make fair",
    "Make transparent",
    "Digitise",
    "Reinvent",
    "Future-proof",
]
SPREAD_VERBS = [
    "Share what works in",
    "Get new starters up to speed on",
    "Learn together about",
    "Coach each other on",
    "Swap tips on",
    "Keep good habits in",
    "Spread best practice in",
    "Teach",
    "Build skills in",
    "Compare notes on",
]
SHAPE_WHEN = [
    "by 2027",
    "by 2028",
    "by 2030",
    "in every region",
    "for every customer",
    "within a year",
]
SPREAD_WHERE = [
    "across teams",
    "for new starters",
    "in every office",
    "between departments",
    "week by week",
    "across regions",
]
COMMUNITY_NOUNS_KC = ["Programme", "Initiative", "Taskforce", "Council", "Lab", "Forum"]
COMMUNITY_NOUNS_COP = ["Circle", "Guild", "Network", "Club", "Clinic", "Roundtable", "Exchange"]
CADENCES = [
    "",
    "Weekly",
    "Every other Tuesday",
    "Monthly",
    "Fortnightly, Thursdays",
    "Drop-in, Fridays",
    "Quarterly",
]
REQUEST_NOTES = ["", "", "I would like to help.", "Keen to learn from this group."]

KC, COP = Community.Kind.KC, Community.Kind.COP
St, R, A = Membership.State, Membership.Role, MembershipEvent.Action
# (state, weight) mixes by kind and whether the community takes people now.
KC_OPEN_MIX = [
    (St.ACTIVE, 84),
    (St.REQUESTED, 4),
    (St.INVITED, 3),
    (St.LEFT, 5),
    (St.REMOVED, 2),
    (St.DENIED, 2),
]
KC_CLOSED_MIX = [(St.ACTIVE, 85), (St.LEFT, 10), (St.REMOVED, 3), (St.DENIED, 2)]
COP_MIX = [(St.ACTIVE, 90), (St.LEFT, 10)]
STATUS_MIX = [
    (Community.Status.ACTIVE, 80),
    (Community.Status.DORMANT, 10),
    (Community.Status.ARCHIVED, 7),
    (Community.Status.PROPOSED, 3),
]
STAGE_MIX = [
    (Community.Stage.SHARING, 35),
    (Community.Stage.COOPERATION, 30),
    (Community.Stage.COMMUNITY, 25),
    (Community.Stage.COMMON_GOOD, 10),
]
POLICY_MIX = [
    (Community.JoinPolicy.OPEN, 35),
    (Community.JoinPolicy.REQUEST, 45),
    (Community.JoinPolicy.INVITE, 20),
]
HISTORY_DAYS = 5 * 365
ACRONYMS = {
    "sql": "SQL",
    "gdpr": "GDPR",
    "ifrs": "IFRS",
    "seo": "SEO",
    "api": "API",
    "fp&a": "FP&A",
}


def _title(topic: str) -> str:
    return " ".join(ACRONYMS.get(word, word.capitalize()) for word in topic.split())


@dataclass(frozen=True)
class Sizes:
    departments: int = 100
    members: int = 100_000
    communities: int = 10_000
    purposes: int = 5_000
    memberships: int = 1_000_000
    bench_active: int = 5_000  # active members of the benchmark's community

    @classmethod
    def scaled(cls, factor: float) -> "Sizes":
        """The enterprise sizes times ``factor`` (tests use 0.001), with floors that
        keep every kind, state and the heavy tail present."""
        if factor == 1:
            return cls()
        members = max(300, round(100_000 * factor))
        communities = max(30, round(10_000 * factor))
        return cls(
            departments=max(5, round(100 * factor)),
            members=members,
            communities=communities,
            purposes=max(20, round(5_000 * factor)),
            memberships=min(max(1_500, round(1_000_000 * factor)), members * communities // 4),
            bench_active=max(40, round(5_000 * factor)),
        )


@dataclass
class CommunityPlan:
    id: int
    name: str
    slug: str
    kind: str
    status: str
    stage: str
    policy: str
    size: int
    home: int  # department index
    created_hour: int  # index into the timestamp table
    purposes: list[int] = field(default_factory=list)
    formed_from: int | None = None
    proposed_by: int | None = None


def enterprise_present() -> bool:
    return Community.objects.filter(slug=BENCH_COMMUNITY_SLUG).exists()


def _weighted(rng: random.Random, mix, k: int = 1) -> list:
    values = [value for value, _weight in mix]
    return rng.choices(values, weights=[weight for _value, weight in mix], k=k)


class _LineStream(io.RawIOBase):
    """A read-only file over an iterator of text lines, for ``COPY FROM STDIN``:
    the server loads one chunk while Python generates the next."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 1 << 16 if size is None or size < 0 else size
        parts, have = [self.buffer], len(self.buffer)
        while have < size:
            chunk = "".join(islice(self.lines, 512)).encode()
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self.buffer = data[size:]
        return data[:size]


class EnterpriseBuilder:
    """Generate and bulk-load the enterprise data set (see the module docstring)."""

    def __init__(
        self,
        *,
        sizes: Sizes | None = None,
        seed: int = 20_260_101,
        log: Callable[[str], None] = print,
    ):
        self.sizes = sizes or Sizes()
        self.rng = random.Random(seed)  # noqa: S311 (sample data, not secrets)
        self.log = log
        self.postgres = connection.vendor == "postgresql"
        self.null = "\\N" if self.postgres else None
        self.true, self.false = ("t", "f") if self.postgres else ("1", "0")
        self.started = 0.0
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        suffix = "+00" if self.postgres else ""
        # Every hour of the last five years as text, oldest first: timestamps are
        # picked by index, never formatted one row at a time.
        start = now - timedelta(hours=HISTORY_DAYS * 24)
        self.hours = [
            (start + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S") + suffix
            for h in range(HISTORY_DAYS * 24 + 1)
        ]

    # -- orchestration -----------------------------------------------------------------

    def build(self) -> dict[str, int] | None:
        """Load everything; None when the data is there already."""
        if enterprise_present():
            self.log("Enterprise data is already loaded; nothing to do.")
            return None
        self.started = time.perf_counter()
        sizes = self.sizes
        self.log(
            f"Loading enterprise data ({'COPY' if self.postgres else 'batched inserts'}): "
            f"{sizes.departments:,} departments, {sizes.members:,} people, "
            f"{sizes.communities:,} communities, {sizes.purposes:,} purposes, "
            f"~{sizes.memberships:,} memberships with events."
        )
        counts: dict[str, int] = {}
        with transaction.atomic():
            if self.postgres:
                with connection.cursor() as cursor:
                    # For rebuilding the indexes after each COPY (see _without_keys_and_indexes).
                    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            self.first_id = {
                table: self._next_id(table)
                for table in (
                    "auth_user",
                    "members_department",
                    "members_member",
                    "communities_purpose",
                    "communities_community",
                    "communities_community_purposes",
                    "communities_membership",
                    "communities_membershipevent",
                )
            }
            counts["departments"] = self._step("members_department", *self.departments())
            self.plan_people()
            counts["users"] = self._step("auth_user", *self.users())
            counts["members"] = self._step("members_member", *self.members())
            counts["purposes"] = self._step("communities_purpose", *self.purposes())
            self.plan_communities()
            counts["communities"] = self._step("communities_community", *self.communities())
            counts["community purposes"] = self._step(
                "communities_community_purposes", *self.community_purposes()
            )
            with tempfile.TemporaryFile("w+", encoding="utf-8") as events:
                counts["memberships"] = self._step(
                    "communities_membership", *self.memberships(events), as_lines=True
                )
                events.seek(0)
                counts["events"] = self._step(
                    "communities_membershipevent", EVENT_COLUMNS, events, as_lines=True
                )
            self._reset_sequences()
        if self.postgres:
            step = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            self._progress(f"  ANALYZE in {time.perf_counter() - step:.1f} s")
        self._progress("Enterprise data loaded")
        return counts

    def _progress(self, message: str) -> None:
        self.log(f"{message} ({time.perf_counter() - self.started:.1f} s elapsed)")

    def _next_id(self, table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            return (cursor.fetchone()[0] or 0) + 1

    def _step(self, table: str, columns: list[str], rows: Iterable, as_lines=False) -> int:
        """Load ``rows`` (tuples of text, or tab-separated lines ``as_lines``)."""
        step = time.perf_counter()
        counter = _Counter(rows)
        if self.postgres:
            self._copy(table, columns, counter if as_lines else _join_rows(counter))
        else:
            self._insert(table, columns, _split_lines(counter) if as_lines else counter)
        self._progress(f"  {table}: {counter.count:,} rows in {time.perf_counter() - step:.1f} s")
        return counter.count

    def _copy(self, table: str, columns: list[str], lines: Iterator[str]) -> None:
        quote = connection.ops.quote_name
        sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        lines = iter(lines)
        with connection.cursor() as cursor, _without_keys_and_indexes(cursor, table):
            raw = cursor.cursor
            if hasattr(raw, "copy_expert"):  # psycopg2
                raw.copy_expert(sql, _LineStream(lines), size=1 << 16)
            else:  # psycopg 3
                with raw.copy(sql) as copy:
                    for batch in iter(lambda: "".join(islice(lines, 2000)), ""):
                        copy.write(batch)

    def _insert(self, table: str, columns: list[str], rows: Iterable) -> None:
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        rows = iter(rows)
        with connection.cursor() as cursor:
            while batch := list(islice(rows, 10_000)):
                cursor.executemany(sql, batch)

    def _reset_sequences(self) -> None:
        if not self.postgres:
            return  # SQLite's AUTOINCREMENT follows the largest id inserted
        with connection.cursor() as cursor:
            for table in self.first_id:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                    f"(SELECT MAX(id) FROM {connection.ops.quote_name(table)}))",
                    [table],
                )

    # -- departments and people ----------------------------------------------------------

    def departments(self):
        bases = list(DEPARTMENTS)
        # Region-major, so the first hundred cover every kind of department.
        self.department_bases = []
        names = []
        taken = set(Department.objects.values_list("slug", flat=True))
        for region in REGIONS + [f"Region {n}" for n in range(11, 100)]:
            for base in bases:
                if slugify(f"{base} ({region})") in taken:
                    continue
                names.append(f"{base} ({region})")
                self.department_bases.append(base)
                if len(names) == self.sizes.departments:
                    break
            if len(names) == self.sizes.departments:
                break
        first = self.first_id["members_department"]
        self.department_ids = [first + n for n in range(len(names))]
        rows = (
            (str(pk), name, slugify(name))
            for pk, name in zip(self.department_ids, names, strict=True)
        )
        return ["id", "name", "slug"], rows

    def plan_people(self) -> None:
        """Names and departments: people come in department blocks (person ``i`` is in
        department ``i * departments // members``), so "mostly from the home
        department" is a slice of a block."""
        rng, n = self.rng, self.sizes.members
        firsts = FIRST_NAMES + MORE_FIRST_NAMES
        lasts = LAST_NAMES + MORE_LAST_NAMES
        self.first_names = [rng.choice(firsts) for _ in range(n)]
        self.last_names = [rng.choice(lasts) for _ in range(n)]
        self.display_names = [
            f"{f} {ln}" for f, ln in zip(self.first_names, self.last_names, strict=True)
        ]
        self.user_first = self.first_id["auth_user"]
        self.member_first = self.first_id["members_member"]
        self.usernames = [
            f"{slugify(f)}.{slugify(ln)}.{i + 1}".replace("-", "")
            for i, (f, ln) in enumerate(zip(self.first_names, self.last_names, strict=True))
        ]

    def department_of(self, person: int) -> int:
        return person * self.sizes.departments // self.sizes.members

    def block(self, department: int) -> range:
        n, d = self.sizes.members, self.sizes.departments
        return range(-(-department * n // d), -(-(department + 1) * n // d))

    def users(self):
        password = UNUSABLE_PASSWORD_PREFIX + f"{self.rng.getrandbits(160):040x}"
        hours, span = self.hours, len(self.hours)
        rng, null, false, true = self.rng, self.null, self.false, self.true

        def rows():
            for i, username in enumerate(self.usernames):
                yield (
                    str(self.user_first + i),
                    password,
                    null,
                    false,
                    username,
                    self.first_names[i],
                    self.last_names[i],
                    f"{username}@example.org",
                    false,
                    true,
                    hours[int(rng.random() * span)],
                )

        columns = [
            "id",
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
        ]
        return columns, rows()

    def members(self):
        rng, hours = self.rng, self.hours
        now = hours[-1]

        def rows():
            for i in range(self.sizes.members):
                department = self.department_of(i)
                base = self.department_bases[department]
                topics = EXPERTISE[base]
                yield (
                    str(self.member_first + i),
                    self.display_names[i],
                    rng.choice(DEPARTMENTS[base]),
                    rng.choice(LOCATIONS),
                    ", ".join(rng.sample(topics, k=1 + int(rng.random() * 3))),
                    "",
                    now,
                    now,
                    str(self.department_ids[department]),
                    str(self.user_first + i),
                )

        columns = [
            "id",
            "display_name",
            "job_title",
            "location",
            "expertise",
            "bio",
            "created_at",
            "updated_at",
            "department_id",
            "user_id",
        ]
        return columns, rows()

    # -- purposes and communities ----------------------------------------------------------

    def purposes(self):
        rng, n = self.rng, self.sizes.purposes
        topics = sorted({topic for topics in EXPERTISE.values() for topic in topics})
        shape = [
            (f"{verb} {topic} {when}", Purpose.Orientation.SHAPE_FUTURE)
            for verb in SHAPE_VERBS
            for topic in topics
            for when in SHAPE_WHEN
        ]
        spread = [
            (f"{verb} {topic} {where}", Purpose.Orientation.SPREAD_PRACTICE)
            for verb in SPREAD_VERBS
            for topic in topics
            for where in SPREAD_WHERE
        ]
        taken = set(Purpose.objects.values_list("slug", flat=True))
        shape = [pair for pair in shape if slugify(pair[0])[:200] not in taken]
        spread = [pair for pair in spread if slugify(pair[0])[:200] not in taken]
        chosen = rng.sample(shape, (n + 1) // 2) + rng.sample(spread, n // 2)
        rng.shuffle(chosen)
        first = self.first_id["communities_purpose"]
        self.purpose_ids = [first + i for i in range(n)]
        self.shape_purposes = [
            i for i, (_s, orientation) in enumerate(chosen) if orientation == "shape_future"
        ]
        self.spread_purposes = [
            i for i, (_s, orientation) in enumerate(chosen) if orientation != "shape_future"
        ]
        hours = self.hours
        rows = (
            (
                str(self.purpose_ids[i]),
                statement[0].upper() + statement[1:],
                slugify(statement)[:200],
                orientation,
                "",
                hours[int(rng.random() * len(hours))],
            )
            for i, (statement, orientation) in enumerate(chosen)
        )
        return ["id", "statement", "slug", "orientation", "description", "created_at"], rows

    def community_sizes(self, count: int, total: int, cap: int) -> list[int]:
        """``count`` heavy-tailed sizes (log-normal, median in the twenties) summing to
        about ``total``, none above ``cap``."""
        rng = self.rng
        raw = [rng.lognormvariate(math.log(20), 1.6) for _ in range(count)]
        low, high = 0.0, 1.0
        while sum(min(cap, r * high) for r in raw) < total and high < 1e6:
            high *= 2
        for _ in range(40):  # the scale at which the capped sizes add up to ``total``
            middle = (low + high) / 2
            if sum(min(cap, r * middle) for r in raw) < total:
                low = middle
            else:
                high = middle
        sizes = [max(3, min(cap, round(r * high))) for r in raw]
        # Settle the rounding, one person at a time, on communities chosen at random.
        gap = total - sum(sizes)
        for _ in range(10 * abs(gap)):
            if not gap:
                break
            i = rng.randrange(count)
            if (gap > 0 and sizes[i] < cap) or (gap < 0 and sizes[i] > 3):
                sizes[i] += 1 if gap > 0 else -1
                gap += -1 if gap > 0 else 1
        return sizes

    def plan_communities(self) -> None:
        rng, sizes = self.rng, self.sizes
        n, people = sizes.communities, sizes.members
        first = self.first_id["communities_community"]
        factor = sizes.memberships / 1_000_000
        # The benchmark's community (exactly ``bench_active`` active members) and a few
        # other very large ones: organisation-wide communities of practice and KCs.
        bench_total = min(people, round(sizes.bench_active / 0.88))
        giants = [
            (BENCH_COMMUNITY_NAME, KC, Community.JoinPolicy.OPEN, bench_total),
            ("Everyone Who Writes for Customers", COP, "request", round(12_000 * factor)),
            ("Python Everywhere", COP, "request", round(8_000 * factor)),
            ("Data Literacy for All", KC, Community.JoinPolicy.OPEN, round(6_500 * factor)),
            ("New Starters Network", COP, "request", round(5_500 * factor)),
        ]
        giants = [(name, kind, policy, min(people, size)) for name, kind, policy, size in giants]
        used_slugs = set(Community.objects.values_list("slug", flat=True))
        statuses = _weighted(rng, STATUS_MIX, n)
        kinds = [KC if rng.random() < 0.45 else COP for _ in range(n)]
        for i in range(len(giants)):
            statuses[i] = Community.Status.ACTIVE
        statuses[-len(Community.Status.values) :] = Community.Status.values  # each at least once
        proposed = sum(1 for s in statuses[len(giants) :] if s == Community.Status.PROPOSED)
        ordinary = n - len(giants) - proposed
        rest_total = sizes.memberships - sum(size for *_r, size in giants)
        cap = min(people // 2, 4_999)  # only the giants above reach 5,000
        ordinary_sizes = iter(self.community_sizes(ordinary, max(rest_total, 3 * ordinary), cap))
        topics = sorted({topic for topics in EXPERTISE.values() for topic in topics})
        plans: list[CommunityPlan] = []
        span = len(self.hours)
        for i in range(n):
            status = statuses[i]
            if i < len(giants):
                name, kind, policy, size = giants[i]
            else:
                kind = KC if status == Community.Status.PROPOSED else kinds[i]
                nouns = COMMUNITY_NOUNS_KC if kind == KC else COMMUNITY_NOUNS_COP
                name = f"{_title(rng.choice(topics))} {rng.choice(nouns)}"
                if rng.random() < 0.6:
                    name += f" ({rng.choice(REGIONS)})"
                policy = _weighted(rng, POLICY_MIX)[0] if kind == KC else "request"
                size = 0 if status == Community.Status.PROPOSED else next(ordinary_sizes)
            slug = base = slugify(name)[:150]
            suffix = 2
            while slug in used_slugs:
                slug, suffix = f"{base}-{suffix}", suffix + 1
            used_slugs.add(slug)
            plan = CommunityPlan(
                id=first + i,
                name=name,
                slug=slug,
                kind=kind,
                status=status,
                stage=Community.Stage.COMMUNITY if i == 0 else _weighted(rng, STAGE_MIX)[0],
                policy=policy,
                size=size,
                home=rng.randrange(sizes.departments),
                created_hour=int(rng.random() * (span - 24 * 60)),
            )
            plan.purposes = self.pick_purposes(plan)
            if status == Community.Status.PROPOSED:
                plan.proposed_by = rng.randrange(people)
            plans.append(plan)
        # Every stage and join policy at least once, whatever the scale.
        ordinary_plans = [p for p in plans[len(giants) :] if p.size]
        for plan, stage in zip(ordinary_plans, Community.Stage.values, strict=False):
            plan.stage = stage
        kcs = [p for p in ordinary_plans if p.kind == KC]
        for plan, policy in zip(kcs, Community.JoinPolicy.values, strict=False):
            plan.policy = policy
        # Some knowledge communities grew out of an (older) community of practice.
        cops = [p for p in plans if p.kind == COP]
        for plan in plans:
            if plan.kind == KC and cops and rng.random() < 0.1:
                plan.formed_from = rng.choice(cops).id
        self.plans = plans

    def pick_purposes(self, plan: CommunityPlan) -> list[int]:
        """One to three purposes, popular ones more often; a KC pursues at least one
        future-shaping purpose, a CoP mostly spreads practice."""
        rng = self.rng
        shape, spread = self.shape_purposes, self.spread_purposes
        main = shape if plan.kind == KC else spread
        picked = {main[int(len(main) * rng.random() ** 2)]}
        for _ in range(int(rng.random() * 3)):
            pool = shape if rng.random() < 0.5 else spread
            picked.add(pool[int(len(pool) * rng.random() ** 2)])
        return sorted(picked)

    def communities(self):
        hours, null = self.hours, self.null
        now = hours[-1]

        def description(plan):
            if plan.kind == KC:
                return (
                    "A knowledge community: purposely formed, with a formal membership "
                    f"list and a sponsor, working on {plan.name.lower()}."
                )
            return f"A community of practice: people who practise {plan.name.lower()} together."

        def member_id(person):
            return null if person is None else str(self.member_first + person)

        rows = (
            (
                str(plan.id),
                plan.name,
                plan.slug,
                plan.kind,
                f"{plan.name}: {'shaping what comes next' if plan.kind == KC else 'sharing what works'}.",  # noqa: E501
                description(plan),
                plan.status,
                plan.policy,
                plan.stage,
                CADENCES[plan.id % len(CADENCES)],
                f"Team site | https://intranet.example.org/{plan.slug}",
                hours[plan.created_hour],
                now,
                null if plan.formed_from is None else str(plan.formed_from),
                "",
                null,
                null,
                member_id(plan.proposed_by),
                member_id(plan.proposed_by),
            )
            for plan in self.plans
        )
        columns = [
            "id",
            "name",
            "slug",
            "kind",
            "summary",
            "description",
            "status",
            "join_policy",
            "stage",
            "cadence",
            "links",
            "created_at",
            "updated_at",
            "formed_from_id",
            "decision_note",
            "declined_at",
            "merged_into_id",
            "proposed_by_id",
            "suggested_sponsor_id",
        ]
        return columns, rows

    def community_purposes(self):
        first = self.first_id["communities_community_purposes"]

        def rows():
            pk = first
            for plan in self.plans:
                for purpose in plan.purposes:
                    yield (str(pk), str(plan.id), str(self.purpose_ids[purpose]))
                    pk += 1

        return ["id", "community_id", "purpose_id"], rows()

    # -- memberships and their events ----------------------------------------------------

    def pick_people(self, plan: CommunityPlan) -> list[int]:
        """``plan.size`` distinct people: two thirds from the home department's block
        (as far as it goes), the rest from anywhere."""
        rng, n = self.rng, self.sizes.members
        block = self.block(plan.home)
        home = rng.sample(block, min(len(block), (2 * plan.size) // 3))
        chosen = set(home)
        wanted = plan.size - len(home)
        others: list[int] = []
        while len(others) < wanted:
            for person in rng.sample(range(n), min(n, wanted - len(others) + 16)):
                if person not in chosen:
                    chosen.add(person)
                    others.append(person)
                    if len(others) == wanted:
                        break
        people = home + others
        rng.shuffle(people)
        return people

    def memberships(self, events_file):
        """Membership rows as COPY lines; each one's event goes to ``events_file`` as a
        line too (loaded right after), so nothing big is held in memory."""
        rng, hours = self.rng, self.hours
        last_hour = len(self.hours) - 1
        ids = [str(self.member_first + i) for i in range(self.sizes.members)]
        names = self.display_names
        first_event = self.first_id["communities_membershipevent"]
        first_pk = self.first_id["communities_membership"]
        progress_every = max(50_000, self.sizes.memberships // 5)
        closed = (St.LEFT, St.REMOVED, St.DENIED)

        def lines():
            pk = first_pk
            write = events_file.write
            for plan in self.plans:
                if plan.size == 0:
                    continue
                people = self.pick_people(plan)
                roles, states = self.plan_roster(plan, len(people))
                decider = people[0]
                decider_id, decider_name = ids[decider], names[decider]
                community = str(plan.id)
                begin = plan.created_hour
                window = max(1, last_hour - begin)
                for person, role, state in zip(people, roles, states, strict=True):
                    joined = begin + int(window * rng.random())
                    person_id = ids[person]
                    if state in closed:
                        changed = min(last_hour, joined + 24 + int(1440 * rng.random()))
                    else:
                        changed = joined
                    when = hours[changed]
                    if state == St.REQUESTED:
                        note, decided_at, decided_by = REQUEST_NOTES[pk % 4], "\\N", "\\N"
                    else:
                        note, decided_at = "", when
                        decided_by = "\\N" if person == decider else decider_id
                    yield (
                        f"{pk}\t{role}\t{state}\t{note}\t{decided_at}\t{hours[joined]}\t"
                        f"{when}\t{community}\t{decided_by}\t{person_id}\t{names[person]}\n"
                    )
                    action, before, by_self = _event_for(plan, role, state, person == decider)
                    if by_self:
                        actor_id, actor_name = person_id, names[person]
                    else:
                        actor_id, actor_name = decider_id, decider_name
                    write(
                        f"{first_event + pk - first_pk}\t{actor_name}\t{names[person]}\t"
                        f"{action}\t{before}\t{state}\t{role if before else ''}\t{role}\t"
                        f"{note}\t{when}\t{actor_id}\t{community}\t{person_id}\n"
                    )
                    pk += 1
                    if (pk - first_pk) % progress_every == 0:
                        self._progress(f"    {pk - first_pk:,} memberships generated")

        columns = [
            "id",
            "role",
            "state",
            "note",
            "decided_at",
            "created_at",
            "updated_at",
            "community_id",
            "decided_by_id",
            "member_id",
            "sort_name",  # what migration 0008's trigger would write (off for the load)
        ]
        return columns, lines()

    def plan_roster(self, plan: CommunityPlan, size: int) -> tuple[list[str], list[str]]:
        """Roles and states, position by position: leaders first, then the others."""
        rng = self.rng
        if plan.kind == KC:
            stewards = min(size - 1, 1 + size // 1500 + int(rng.random() * 2))
            roles = [R.SPONSOR] + [R.STEWARD] * stewards
            mix = KC_OPEN_MIX if plan.status == Community.Status.ACTIVE else KC_CLOSED_MIX
        else:
            stewards = min(size, 1 + int(rng.random() * 2) + size // 3000)
            roles = [R.STEWARD] * stewards
            mix = COP_MIX
        leaders = len(roles)
        others = size - leaders
        states = [St.ACTIVE] * leaders + _weighted(rng, mix, others)
        if plan.slug == BENCH_COMMUNITY_SLUG:
            # Exactly ``bench_active`` active people, and every other state at least once.
            active_others = min(others, self.sizes.bench_active - leaders)
            every = [state for state, _weight in KC_OPEN_MIX[1:]]
            tail = (
                [St.ACTIVE] * active_others
                + every
                + _weighted(rng, KC_OPEN_MIX[1:], others - active_others - len(every))
            )
            rng.shuffle(tail)
            states = [St.ACTIVE] * leaders + tail
        roles += [R.MEMBER if plan.kind == KC else R.PARTICIPANT] * others
        return roles, states


EVENT_COLUMNS = [
    "id",
    "actor_name",
    "target_name",
    "action",
    "state_before",
    "state_after",
    "role_before",
    "role_after",
    "note",
    "created_at",
    "actor_id",
    "community_id",
    "target_id",
]


def _event_for(plan: CommunityPlan, role: str, state: str, is_decider: bool):
    """(action, state before, by the person themselves?) of the one event that
    explains a membership's current state (the decider acts otherwise)."""
    if state == St.REQUESTED:
        return A.REQUESTED, "", True
    if state == St.INVITED:
        return A.INVITED, "", False
    if state == St.DENIED:
        return A.DENIED, St.REQUESTED, False
    if state == St.LEFT:
        return A.LEFT, St.ACTIVE, True
    if state == St.REMOVED:
        return A.REMOVED, St.ACTIVE, False
    if role in (R.SPONSOR, R.STEWARD):
        return A.ADDED, "", is_decider
    if plan.kind == COP:
        return A.PRACTISING, "", True
    if plan.policy == Community.JoinPolicy.REQUEST:
        return A.APPROVED, St.REQUESTED, False
    if plan.policy == Community.JoinPolicy.INVITE:
        return A.ACCEPTED, St.INVITED, True
    return A.JOINED, "", True


DIRECTORY_TRIGGER = "kcdir_directory_changed"


@contextmanager
def _without_keys_and_indexes(cursor, table: str):
    """Drop ``table``'s foreign keys, unique constraints and secondary indexes, and put
    them back (same names, same definitions) afterwards.

    What pg_restore does, for the same reason: building an index once over a million
    sorted rows is several times faster than a million random insertions into it,
    and re-adding a foreign key checks every row in one join instead of queueing a
    trigger per row until commit. All inside the load's transaction: nobody sees
    the table without them, and a failure puts everything back. The primary key
    stays (new ids are appended at its end).
    """
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC",
        [table],
    )
    constraints = cursor.fetchall()  # unique ones first: a foreign key may need one
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass AND NOT indisprimary AND indexrelid NOT IN "
        "(SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    # kcdir's own triggers are off for the load: the directory version's deferred one
    # (migration 0006) would queue an event per row, and PostgreSQL refuses to build an
    # index on a table with events pending (the version is raised once afterwards); the
    # roster sort name's (0008) would look up each row's member, which the loader
    # writes itself.
    cursor.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE %s",
        [table, "kcdir\\_%"],
    )
    triggers = [name for (name,) in cursor.fetchall()]
    quote = connection.ops.quote_name
    for name in triggers:
        cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(name)}")
    for name, _definition in reversed(constraints):
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
    for name in triggers:
        cursor.execute(f"ALTER TABLE {quote(table)} ENABLE TRIGGER {quote(name)}")
    if DIRECTORY_TRIGGER in triggers:
        cursor.execute("SELECT kcdir_bump_directory_version()")


def _join_rows(rows: Iterable[tuple[str, ...]]) -> Iterator[str]:
    """Rows as the lines of COPY's text format (no value holds a tab, newline or backslash)."""
    for row in rows:
        yield "\t".join(row) + "\n"


def _split_lines(lines: Iterable[str]) -> Iterator[list[str | None]]:
    """COPY's text lines back into rows, for inserting them elsewhere."""
    for line in lines:
        yield [None if value == "\\N" else value for value in line[:-1].split("\t")]


class _Counter:
    def __init__(self, rows: Iterable):
        self.rows = iter(rows)
        self.count = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row
