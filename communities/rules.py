"""Rule-based membership, the reading half: who a community's rule matches
(``matching_members``, the one place a rule's conditions become a query) and what
applying it would change (``plan``, shown as a preview and written by
``services.evaluate_rule``).

A rule is a list of condition groups, OR-ed; inside a group the conditions are AND-ed:
the person's department is one of ``departments``, their job title contains
``job_title`` (any case), their location is ``location`` (any case). A group with no
condition matches nobody, so a blank form never puts everyone on a list.
"""

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from members.models import Member

from .models import Community, Membership, MembershipRule

PREVIEW_NAMES = 10  # names a preview lists of those added and of those removed


def clean_groups(groups: list[dict]) -> list[dict]:
    """``groups`` without blank conditions or empty groups, values trimmed."""
    cleaned = []
    for group in groups or []:
        departments = sorted({int(pk) for pk in group.get("departments") or []})
        job_title = (group.get("job_title") or "").strip()
        location = (group.get("location") or "").strip()
        condition = {}
        if departments:
            condition["departments"] = departments
        if job_title:
            condition["job_title"] = job_title
        if location:
            condition["location"] = location
        if condition:
            cleaned.append(condition)
    return cleaned


def _group_q(group: dict) -> Q:
    q = Q()
    if group.get("departments"):
        q &= Q(department_id__in=group["departments"])
    if group.get("job_title"):
        q &= Q(job_title__icontains=group["job_title"])
    if group.get("location"):
        q &= Q(location__iexact=group["location"])
    return q


def matching_members(groups: list[dict]) -> QuerySet[Member]:
    """The active people the rule's ``groups`` match (none for an empty rule)."""
    groups = clean_groups(groups)
    if not groups:
        return Member.objects.none()
    q = Q()
    for group in groups:
        q |= _group_q(group)
    return Member.objects.active().filter(q)


@dataclass
class RulePlan:
    """What applying a rule would change: querysets of memberships/people, unread."""

    to_add: QuerySet  # Members to put on the list
    to_remove: QuerySet  # active Memberships to take off it
    to_mark: QuerySet = field(default=None)  # active Memberships the rule now keeps


def plan(community: Community, *, groups: list[dict], mode: str, member_ids=None) -> RulePlan:
    """What a rule with ``groups`` and ``mode`` would change on ``community``'s list,
    for everyone or only the people ``member_ids``. Strict: adds whoever matches and
    is not active, removes every active member who does not match. Additive: adds the
    same, removes only people the rule put there who no longer match."""
    wanted = matching_members(groups)
    active = Membership.objects.filter(community=community, state=Membership.State.ACTIVE)
    if member_ids is not None:
        wanted = wanted.filter(pk__in=member_ids)
        active = active.filter(member_id__in=member_ids)
    to_add = wanted.exclude(pk__in=active.values("member_id"))
    leaving = active.exclude(member_id__in=wanted.values("pk"))
    if mode != MembershipRule.Mode.STRICT:
        leaving = leaving.filter(rule_mark__isnull=False)
    to_mark = None
    if mode == MembershipRule.Mode.STRICT:
        to_mark = active.filter(member_id__in=wanted.values("pk"), rule_mark__isnull=True)
    return RulePlan(to_add=to_add, to_remove=leaving, to_mark=to_mark)


@dataclass(frozen=True)
class RulePreview:
    adding: int
    removing: int
    added_names: list[str]
    removed_names: list[str]
    keeping: int = 0  # who would match no more but stays: the sponsor, the last steward


def preview(community: Community, *, groups: list[dict], mode: str) -> RulePreview:
    """Counts and the first names of those a rule would add and remove (and how many
    leaders it would keep): six queries, however many people match."""
    changes = plan(community, groups=groups, mode=mode)
    keeping = 0
    leaving = changes.to_remove
    if community.is_kc and community.status == Community.Status.ACTIVE:
        # As ``services.evaluate_rule`` does: the sponsor stays, and so does one steward
        # when every active steward would go.
        roles = dict(
            leaving.filter(role__in=[Membership.Role.SPONSOR, Membership.Role.STEWARD])
            .values_list("role")
            .annotate(n=Count("pk"))
        )
        stewards = community.memberships.filter(
            state=Membership.State.ACTIVE, role=Membership.Role.STEWARD
        ).count()
        keeping = roles.get(Membership.Role.SPONSOR, 0)
        if stewards and roles.get(Membership.Role.STEWARD, 0) == stewards:
            keeping += 1
        leaving = leaving.exclude(role=Membership.Role.SPONSOR)
    return RulePreview(
        adding=changes.to_add.count(),
        removing=changes.to_remove.count() - keeping,
        keeping=keeping,
        added_names=list(
            changes.to_add.order_by("display_name", "pk").values_list("display_name", flat=True)[
                :PREVIEW_NAMES
            ]
        ),
        removed_names=list(
            leaving.order_by("member__display_name", "pk").values_list(
                "member__display_name", flat=True
            )[:PREVIEW_NAMES]
        ),
    )
