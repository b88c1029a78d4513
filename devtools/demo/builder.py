"""Demo data: a believable insurance-and-services organisation.

Deterministic (a seeded random generator), and idempotent: every object is
found by its natural key (username, slug) before it is created, and a
community's memberships are only written when the community itself is new.
"""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from communities import overlaps
from communities.access import DIRECTORY_ADMINS_GROUP
from communities.models import Community, Membership, MembershipEvent, Purpose, StageChange
from members.models import Department, Member

from .data import (
    COMMUNITIES,
    COP,
    DEMO_ACCOUNTS,
    DEPARTMENTS,
    EXPERTISE,
    FIRST_NAMES,
    KC,
    LAST_NAMES,
    LOCATIONS,
    PROPOSALS,
    PURPOSES,
    STAFF_ACTIVE_IN,
    STAFF_INVITED_TO,
    STAFF_REQUESTED_IN,
    STAGE_NOTES,
    STEWARD_OF,
    CommunitySpec,
    home_department,
)


class DemoBuilder:
    def __init__(self, *, password: str, log=print, seed: int = 2026):
        self.password = password
        self.log = log
        self.random = random.Random(seed)
        self.now = timezone.now()

    @transaction.atomic
    def build(self) -> dict[str, int]:
        departments = self.build_departments()
        members = self.build_people(departments)
        accounts = self.build_demo_accounts(departments)
        purposes = self.build_purposes()
        created = self.build_communities(purposes, members, accounts)
        self.build_proposals(accounts, purposes)
        overlaps.rebuild()  # memberships were written without the services
        return {
            "departments": len(departments),
            "members": len(members) + len(accounts),
            "purposes": len(purposes),
            "communities created": created,
        }

    def build_departments(self) -> dict[str, Department]:
        departments = {}
        for name in DEPARTMENTS:
            departments[name], _ = Department.objects.get_or_create(
                slug=slugify(name), defaults={"name": name}
            )
        self.log(f"  {len(departments)} departments")
        return departments

    def build_people(self, departments) -> list[Member]:
        User = get_user_model()
        names = [(first, last) for last in LAST_NAMES for first in FIRST_NAMES]
        self.random.shuffle(names)
        names = names[:300]
        existing = set(
            User.objects.filter(username__in=[self.username(f, ln) for f, ln in names]).values_list(
                "username", flat=True
            )
        )
        new_users = []
        for first, last in names:
            username = self.username(first, last)
            if username in existing:
                continue
            user = User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.org",
            )
            user.set_unusable_password()
            new_users.append(user)
        User.objects.bulk_create(new_users)
        users = User.objects.filter(username__in=[self.username(f, ln) for f, ln in names])
        have_member = set(Member.objects.filter(user__in=users).values_list("user_id", flat=True))
        department_names = list(DEPARTMENTS)
        new_members = []
        for user in users.order_by("username"):
            if user.pk in have_member:
                continue
            department = self.random.choice(department_names)
            new_members.append(
                Member(
                    user=user,
                    display_name=f"{user.first_name} {user.last_name}",
                    job_title=self.random.choice(DEPARTMENTS[department]),
                    department=departments[department],
                    location=self.random.choice(LOCATIONS),
                    expertise=", ".join(
                        self.random.sample(EXPERTISE[department], k=self.random.randint(1, 3))
                    ),
                )
            )
        Member.objects.bulk_create(new_members)
        members = list(Member.objects.filter(user__in=users).order_by("pk"))
        self.log(f"  {len(members)} people ({len(new_members)} new)")
        return members

    @staticmethod
    def username(first: str, last: str) -> str:
        return f"{first}.{last}".lower()

    def build_demo_accounts(self, departments) -> dict[str, Member]:
        User = get_user_model()
        admins = Group.objects.get(name=DIRECTORY_ADMINS_GROUP)
        accounts = {}
        for username, (display_name, title, department) in DEMO_ACCOUNTS.items():
            first, last = display_name.split()
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.org",
                },
            )
            if created:
                user.set_password(self.password)
                if username == "admin":
                    user.is_staff = user.is_superuser = True
                user.save()
            if username == "admin":
                user.groups.add(admins)
            member = Member.objects.for_user(user)
            if created or not member.job_title:
                member.display_name = display_name
                member.job_title = title
                member.department = departments[department]
                member.location = "London"
                member.expertise = ", ".join(EXPERTISE[department][:2])
                member.save()
            accounts[username] = member
        self.log(f"  demo accounts: {', '.join(accounts)}")
        return accounts

    def build_purposes(self) -> list[Purpose]:
        purposes = []
        for statement, orientation in PURPOSES:
            purpose, _ = Purpose.objects.get_or_create(
                slug=slugify(statement)[:200],
                defaults={"statement": statement, "orientation": orientation},
            )
            purposes.append(purpose)
        self.log(f"  {len(purposes)} purposes")
        return purposes

    def build_communities(self, purposes, members, accounts) -> int:
        created_count = 0
        by_name = {}
        # CoPs first, so a KC can name the CoP it was formed from.
        for spec in sorted(COMMUNITIES, key=lambda spec: spec.kind != COP):
            community, created = Community.objects.get_or_create(
                slug=slugify(spec.name),
                defaults={
                    "name": spec.name,
                    "kind": spec.kind,
                    "summary": spec.summary,
                    "description": self.describe(spec),
                    "status": spec.status,
                    "join_policy": spec.policy,
                    "stage": spec.stage,
                    "cadence": spec.cadence,
                    "links": f"Team site | https://intranet.example.org/{slugify(spec.name)}",
                    "formed_from": by_name.get(spec.formed_from),
                    "created_at": self.now - timedelta(days=self.random.randint(400, 1400)),
                },
            )
            by_name[spec.name] = community
            if created:
                community.purposes.set([purposes[i] for i in spec.purposes])
                self.build_roster(community, spec, members, accounts)
                self.build_stage_history(community)
                created_count += 1
        self.log(f"  {len(by_name)} communities ({created_count} new)")
        return created_count

    def pick_people(self, spec: CommunitySpec, members: list[Member]) -> list[Member]:
        """Mostly people from the community's home department, so the knowledge map
        shows clusters, with a third from elsewhere to connect them."""
        home = home_department(spec)
        local = [m for m in members if m.department and m.department.name == home]
        others = [m for m in members if m not in local]
        self.random.shuffle(local)
        self.random.shuffle(others)
        from_home = min(len(local), (spec.size * 2) // 3)
        return local[:from_home] + others[: spec.size - from_home]

    def build_stage_history(self, community) -> None:
        """Dated steps up the ladder to the community's current stage."""
        stages = list(Community.Stage.values)
        reached = stages.index(community.stage)
        span = max(1, (self.now - community.created_at).days)
        when = community.created_at
        changes = []
        for step in range(1, reached + 1):
            when = when + timedelta(days=self.random.randint(1, max(1, span // (reached + 1))))
            changes.append(
                StageChange(
                    community=community,
                    stage_before=stages[step - 1],
                    stage_after=stages[step],
                    note=STAGE_NOTES[stages[step]],
                    changed_by_name="Demo data",
                    created_at=min(when, self.now),
                )
            )
        StageChange.objects.bulk_create(changes)

    def build_proposals(self, accounts, purposes) -> None:
        for name, summary, purpose_index in PROPOSALS:
            if Community.objects.filter(slug=slugify(name)).exists():
                continue
            community = Community.objects.create(
                name=name,
                slug=slugify(name),
                kind=KC,
                status=Community.Status.PROPOSED,
                summary=summary,
                proposed_by=accounts["staff"],
                suggested_sponsor=accounts["steward"],
            )
            community.purposes.set([purposes[purpose_index]])
        self.log(f"  {len(PROPOSALS)} proposals waiting for a directory admin")

    @staticmethod
    def describe(spec: CommunitySpec) -> str:
        if spec.kind == KC:
            return (
                "We are a knowledge community: purposely formed, with a "
                "formal membership list and a sponsor, working to shape what comes next."
            )
        return (
            "This is a community of practice: come along, share what "
            "works, and help newcomers get up to speed."
        )

    def build_roster(self, community, spec, members, accounts) -> None:
        """Memberships in every role and state, each with the events that led to it."""
        R, St = Membership.Role, Membership.State
        people = self.pick_people(spec, members)
        plan: list[tuple[Member, str, str]] = []
        if spec.kind == KC:
            sponsor, *rest = people
            plan.append((sponsor, R.SPONSOR, St.ACTIVE))
            stewards = rest[: self.random.randint(1, 2)]
            if spec.name in STEWARD_OF:
                stewards = [accounts["steward"], *stewards[:1]]
            plan += [(m, R.STEWARD, St.ACTIVE) for m in stewards]
            others = [m for m in rest if m not in stewards]
            for index, member in enumerate(others):
                if spec.status == Community.Status.ACTIVE and index % 9 == 1:
                    state = St.REQUESTED
                elif spec.status == Community.Status.ACTIVE and index % 11 == 2:
                    state = St.INVITED
                elif index % 13 == 3:
                    state = St.LEFT
                elif index % 17 == 4:
                    state = St.REMOVED
                elif index % 19 == 5:
                    state = St.DENIED
                else:
                    state = St.ACTIVE
                plan.append((member, R.MEMBER, state))
        else:
            coordinator, *rest = people
            plan.append((coordinator, R.STEWARD, St.ACTIVE))
            for index, member in enumerate(rest):
                plan.append((member, R.PARTICIPANT, St.LEFT if index % 10 == 3 else St.ACTIVE))
        role_in_cop = R.PARTICIPANT if spec.kind == COP else R.MEMBER
        staff = accounts["staff"]
        if spec.name in STAFF_ACTIVE_IN:
            plan.append((staff, role_in_cop, St.ACTIVE))
        elif spec.name in STAFF_REQUESTED_IN:
            plan.append((staff, R.MEMBER, St.REQUESTED))
        elif spec.name in STAFF_INVITED_TO:
            plan.append((staff, R.MEMBER, St.INVITED))
        self.write_roster(community, plan, decider=plan[0][0])

    def write_roster(self, community, plan, *, decider) -> None:
        memberships, events = [], []
        seen = set()
        for member, role, state in plan:
            if member.pk in seen:
                continue
            seen.add(member.pk)
            joined = community.created_at + timedelta(
                days=self.random.randint(0, max(1, (self.now - community.created_at).days - 1))
            )
            decided = state not in (Membership.State.REQUESTED,)
            was_active = state in (
                Membership.State.ACTIVE,
                Membership.State.LEFT,
                Membership.State.REMOVED,
            )
            memberships.append(
                Membership(
                    member=member,
                    community=community,
                    role=role,
                    state=state,
                    decided_by=decider if decided and member != decider else None,
                    decided_at=joined if decided else None,
                    active_since=joined if was_active else None,
                    created_at=joined,
                    updated_at=joined,
                )
            )
            events += self.history(community, member, role, state, joined, decider)
        Membership.objects.bulk_create(memberships)
        # auto_now stamped "now"; the demo wants each row's own date (request ages).
        community.memberships.update(updated_at=F("created_at"))
        MembershipEvent.objects.bulk_create(events)
        Community.objects.filter(pk=community.pk).recount_members()

    def history(self, community, member, role, state, when, decider) -> list[MembershipEvent]:
        """The events that explain a membership's current state, oldest first."""
        A, St = MembershipEvent.Action, Membership.State

        def event(action, before, after, at, actor):
            return MembershipEvent(
                community=community,
                actor=actor,
                actor_name=actor.display_name if actor else "",
                target=member,
                target_name=member.display_name,
                action=action,
                state_before=before,
                state_after=after,
                role_before=role if before else "",
                role_after=role,
                created_at=at,
            )

        later = min(when + timedelta(days=self.random.randint(1, 60)), self.now)
        if state == St.REQUESTED:
            return [event(A.REQUESTED, "", St.REQUESTED, when, member)]
        if state == St.INVITED:
            return [event(A.INVITED, "", St.INVITED, when, decider)]
        if state == St.DENIED:
            return [
                event(A.REQUESTED, "", St.REQUESTED, when, member),
                event(A.DENIED, St.REQUESTED, St.DENIED, later, decider),
            ]
        joined = (
            event(A.ADDED, "", St.ACTIVE, when, decider)
            if member != decider and role in (Membership.Role.SPONSOR, Membership.Role.STEWARD)
            else event(
                A.PRACTISING if role == Membership.Role.PARTICIPANT else A.JOINED,
                "",
                St.ACTIVE,
                when,
                member,
            )
        )
        if state == St.LEFT:
            return [joined, event(A.LEFT, St.ACTIVE, St.LEFT, later, member)]
        if state == St.REMOVED:
            return [joined, event(A.REMOVED, St.ACTIVE, St.REMOVED, later, decider)]
        return [joined]
