"""What the enterprise data set is: its sizes, the plan of each community, the mixes
of kinds, statuses, stages and states, and the one event that explains each membership."""

import random
from dataclasses import dataclass, field

from communities.models import Community, Membership, MembershipEvent

# The marker: present only after a complete load (it is written in the same transaction).
BENCH_COMMUNITY_SLUG = "one-customer-promise"
BENCH_COMMUNITY_NAME = "One Customer Promise"

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


def weighted(rng: random.Random, mix, k: int = 1) -> list:
    values = [value for value, _weight in mix]
    return rng.choices(values, weights=[weight for _value, weight in mix], k=k)


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


def event_for(plan: CommunityPlan, role: str, state: str, is_decider: bool):
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
