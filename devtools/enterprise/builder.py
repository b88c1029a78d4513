"""The enterprise data set's generator: every row of every table, from a seeded random
generator, handed to the bulk loader table by table in one transaction."""

import math
import random
import tempfile
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from communities import overlaps
from communities.models import Community, Purpose
from members.models import Department

from ..demo.data import DEPARTMENTS, EXPERTISE, FIRST_NAMES, LAST_NAMES, LOCATIONS
from .bulk import BulkLoader
from .plans import (
    BENCH_COMMUNITY_NAME,
    BENCH_COMMUNITY_SLUG,
    COP,
    COP_MIX,
    EVENT_COLUMNS,
    HISTORY_DAYS,
    KC,
    KC_CLOSED_MIX,
    KC_OPEN_MIX,
    POLICY_MIX,
    STAGE_MIX,
    STATUS_MIX,
    CommunityPlan,
    R,
    Sizes,
    St,
    enterprise_present,
    event_for,
    weighted,
)
from .vocabulary import (
    CADENCES,
    COMMUNITY_NOUNS_COP,
    COMMUNITY_NOUNS_KC,
    MORE_FIRST_NAMES,
    MORE_LAST_NAMES,
    REGIONS,
    REQUEST_NOTES,
    SHAPE_VERBS,
    SHAPE_WHEN,
    SPREAD_VERBS,
    SPREAD_WHERE,
    title_case,
)


class EnterpriseBuilder:
    """Generate and bulk-load the enterprise data set (see ``devtools.enterprise``)."""

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
        self.loader = BulkLoader(log=log)
        self.postgres = self.loader.postgres
        self.null = "\\N" if self.postgres else None
        self.true, self.false = ("t", "f") if self.postgres else ("1", "0")
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
        self.loader.start()
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
                    # For rebuilding the indexes after each COPY (see without_keys_and_indexes).
                    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            self.first_id = {
                table: self.loader.next_id(table)
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
            counts["departments"] = self.loader.load("members_department", *self.departments())
            self.plan_people()
            counts["users"] = self.loader.load("auth_user", *self.users())
            counts["members"] = self.loader.load("members_member", *self.members())
            counts["purposes"] = self.loader.load("communities_purpose", *self.purposes())
            self.plan_communities()
            counts["communities"] = self.loader.load("communities_community", *self.communities())
            counts["community purposes"] = self.loader.load(
                "communities_community_purposes", *self.community_purposes()
            )
            with tempfile.TemporaryFile("w+", encoding="utf-8") as events:
                counts["memberships"] = self.loader.load(
                    "communities_membership", *self.memberships(events), as_lines=True
                )
                events.seek(0)
                counts["events"] = self.loader.load(
                    "communities_membershipevent", EVENT_COLUMNS, events, as_lines=True
                )
            self.loader.reset_sequences(self.first_id)
            self.loader.progress("Counting the people communities share")
            overlaps.rebuild()  # memberships were loaded without the services
            # What the membership services keep as people join and leave: counted once.
            Community.objects.filter(
                pk__gte=self.first_id["communities_community"]
            ).recount_members()
        self.loader.analyze()
        self.loader.progress("Enterprise data loaded")
        return counts

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
        giants = self.giants()
        statuses = weighted(rng, STATUS_MIX, n)
        kinds = [KC if rng.random() < 0.45 else COP for _ in range(n)]
        for i in range(len(giants)):
            statuses[i] = Community.Status.ACTIVE
        statuses[-len(Community.Status.values) :] = Community.Status.values  # each at least once
        proposed = sum(1 for s in statuses[len(giants) :] if s == Community.Status.PROPOSED)
        ordinary = n - len(giants) - proposed
        rest_total = sizes.memberships - sum(size for *_r, size in giants)
        cap = min(people // 2, 4_999)  # only the giants above reach 5,000
        ordinary_sizes = iter(self.community_sizes(ordinary, max(rest_total, 3 * ordinary), cap))
        self.used_slugs = set(Community.objects.values_list("slug", flat=True))
        self.topics = sorted({topic for topics in EXPERTISE.values() for topic in topics})
        plans = []
        for i in range(n):
            if i < len(giants):
                plans.append(self.plan_community(i, statuses[i], *giants[i]))
                continue
            kind = KC if statuses[i] == Community.Status.PROPOSED else kinds[i]
            nouns = COMMUNITY_NOUNS_KC if kind == KC else COMMUNITY_NOUNS_COP
            name = f"{title_case(rng.choice(self.topics))} {rng.choice(nouns)}"
            if rng.random() < 0.6:
                name += f" ({rng.choice(REGIONS)})"
            policy = weighted(rng, POLICY_MIX)[0] if kind == KC else "request"
            size = 0 if statuses[i] == Community.Status.PROPOSED else next(ordinary_sizes)
            plans.append(self.plan_community(i, statuses[i], name, kind, policy, size))
        self.vary(plans, ordinary=plans[len(giants) :])
        self.plans = plans

    def giants(self) -> list[tuple[str, str, str, int]]:
        """The benchmark's community (exactly ``bench_active`` active members) and a few
        other very large ones: organisation-wide communities of practice and KCs."""
        sizes = self.sizes
        people = sizes.members
        factor = sizes.memberships / 1_000_000
        bench_total = min(people, round(sizes.bench_active / 0.88))
        giants = [
            (BENCH_COMMUNITY_NAME, KC, Community.JoinPolicy.OPEN, bench_total),
            ("Everyone Who Writes for Customers", COP, "request", round(12_000 * factor)),
            ("Python Everywhere", COP, "request", round(8_000 * factor)),
            ("Data Literacy for All", KC, Community.JoinPolicy.OPEN, round(6_500 * factor)),
            ("New Starters Network", COP, "request", round(5_500 * factor)),
        ]
        return [(name, kind, policy, min(people, size)) for name, kind, policy, size in giants]

    def plan_community(
        self, i: int, status: str, name: str, kind: str, policy: str, size: int
    ) -> CommunityPlan:
        rng = self.rng
        slug = base = slugify(name)[:150]
        suffix = 2
        while slug in self.used_slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        self.used_slugs.add(slug)
        plan = CommunityPlan(
            id=self.first_id["communities_community"] + i,
            name=name,
            slug=slug,
            kind=kind,
            status=status,
            stage=Community.Stage.COMMUNITY if i == 0 else weighted(rng, STAGE_MIX)[0],
            policy=policy,
            size=size,
            home=rng.randrange(self.sizes.departments),
            created_hour=int(rng.random() * (len(self.hours) - 24 * 60)),
        )
        plan.purposes = self.pick_purposes(plan)
        if status == Community.Status.PROPOSED:
            plan.proposed_by = rng.randrange(self.sizes.members)
        return plan

    def vary(self, plans: list[CommunityPlan], *, ordinary: list[CommunityPlan]) -> None:
        """Every stage and join policy at least once, whatever the scale; some knowledge
        communities grew out of an (older) community of practice."""
        ordinary_plans = [p for p in ordinary if p.size]
        for plan, stage in zip(ordinary_plans, Community.Stage.values, strict=False):
            plan.stage = stage
        kcs = [p for p in ordinary_plans if p.kind == KC]
        for plan, policy in zip(kcs, Community.JoinPolicy.values, strict=False):
            plan.policy = policy
        cops = [p for p in plans if p.kind == COP]
        for plan in plans:
            if plan.kind == KC and cops and self.rng.random() < 0.1:
                plan.formed_from = self.rng.choice(cops).id

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
                "",
                "0",  # counted once the memberships are loaded
                "",  # membership_managed_by: kcdir's own lists
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
            "proposal_note",
            "active_member_count",
            "membership_managed_by",
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
        ever_active = (St.ACTIVE, St.LEFT, St.REMOVED)  # joined at ``joined``

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
                    since = hours[joined] if state in ever_active else "\\N"
                    yield (
                        f"{pk}\t{role}\t{state}\t{note}\t{decided_at}\t{hours[joined]}\t"
                        f"{when}\t{community}\t{decided_by}\t{person_id}\t{names[person]}\t"
                        f"{since}\n"
                    )
                    action, before, by_self = event_for(plan, role, state, person == decider)
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
                        self.loader.progress(f"    {pk - first_pk:,} memberships generated")

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
            "active_since",
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
        states = [St.ACTIVE] * leaders + weighted(rng, mix, others)
        if plan.slug == BENCH_COMMUNITY_SLUG:
            # Exactly ``bench_active`` active people, and every other state at least once.
            active_others = min(others, self.sizes.bench_active - leaders)
            every = [state for state, _weight in KC_OPEN_MIX[1:]]
            tail = (
                [St.ACTIVE] * active_others
                + every
                + weighted(rng, KC_OPEN_MIX[1:], others - active_others - len(every))
            )
            rng.shuffle(tail)
            states = [St.ACTIVE] * leaders + tail
        roles += [R.MEMBER if plan.kind == KC else R.PARTICIPANT] * others
        return roles, states
