"""Rule-based membership, the writing half: saving a community's rule and applying it
(``evaluate_rule``), for everyone (on saving, nightly: ``manage.py evaluate_rules``) or
for the people who just changed (HR sync, SCIM, a profile edit:
``evaluate_rules_for_members``). Who matches is ``communities.rules``.

Each change is one ``MembershipEvent`` by the rule (its name is the actor and the note
says "Added by rule …" / "Removed by rule …"); the memberships a rule makes are marked
(``RuleMembership``). Unlike an identity provider, a rule is kcdir's own: it never
removes the last steward or the sponsor of an active knowledge community (they are
skipped and reported). Applying a rule twice changes nothing the second time.
"""

from collections.abc import Collection
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member

from .. import access
from ..models import Community, Membership, MembershipRule, RuleMembership
from ..rules import clean_groups, plan
from ._common import (
    Action,
    MembershipError,
    State,
    _default_role,
    _lock,
    _new_or_existing,
    _transition,
)
from ._counts import _recount_members


@dataclass
class RuleOutcome:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # not removed: last steward or sponsor


def rule_actor_name(rule: MembershipRule) -> str:
    return (_("Rule “%(name)s”") % {"name": rule.name})[:150]


@transaction.atomic
def save_rule(
    *, community: Community, name: str, mode: str, groups: list[dict], member: Member | None
) -> tuple[MembershipRule, RuleOutcome]:
    """Give ``community`` this rule (replacing its rule) and apply it at once."""
    groups = clean_groups(groups)
    if not groups:
        raise MembershipError(_("A rule needs at least one condition."))
    community = _lock(community)
    if community.membership_managed_by:
        raise MembershipError(
            _("Membership of %(community)s is managed by %(provider)s; it cannot have a rule.")
            % {"community": community.name, "provider": community.membership_managed_by}
        )
    rule, _created = MembershipRule.objects.update_or_create(
        community=community,
        defaults={"name": name.strip()[:100], "mode": mode, "groups": groups, "updated_by": member},
    )
    return rule, evaluate_rule(rule=rule)


@transaction.atomic
def remove_rule(*, community: Community) -> None:
    """Take ``community``'s rule away; its people stay, as ordinary members."""
    community = _lock(community)
    # Touched so that pages drawn under the directory version drop the "By rule" mark.
    Membership.objects.filter(community=community, rule_mark__isnull=False).update(
        updated_at=timezone.now()
    )
    MembershipRule.objects.filter(community=community).delete()


@transaction.atomic
def evaluate_rule(
    *, rule: MembershipRule, member_ids: Collection[int] | None = None
) -> RuleOutcome:
    """Bring the list of ``rule``'s community in line with the rule, for everyone or
    only the people ``member_ids``. Communities that take no members (archived,
    proposed) are left alone."""
    community = _lock(rule.community)
    outcome = RuleOutcome()
    if community.status in (Community.Status.ARCHIVED, Community.Status.PROPOSED):
        return outcome
    actor_name = rule_actor_name(rule)
    changes = plan(community, groups=rule.groups, mode=rule.mode, member_ids=member_ids)
    now = timezone.now()
    for member in changes.to_add.order_by("pk"):
        membership = _new_or_existing(community, member)
        if membership.state == State.ACTIVE:
            continue
        _transition(
            membership,
            actor=None,
            actor_name=actor_name,
            action=Action.ADDED,
            state=State.ACTIVE,
            role=_default_role(community),
            note=_("Added by rule “%(name)s”.") % {"name": rule.name},
            decided=True,
            counted=False,
        )
        RuleMembership.objects.update_or_create(
            membership=membership, defaults={"rule": rule, "created_at": now}
        )
        outcome.added.append(member.display_name)
    if changes.to_mark is not None:
        marking = list(changes.to_mark.values_list("pk", flat=True))
        RuleMembership.objects.bulk_create(
            [RuleMembership(membership_id=pk, rule=rule, created_at=now) for pk in marking]
        )
        # Touched so that pages drawn under the directory version show the mark.
        Membership.objects.filter(pk__in=marking).update(updated_at=now)
    leaving = changes.to_remove.select_for_update().select_related("member").order_by("pk")
    for membership in leaving:
        if access.is_last_steward(community, membership) or access.is_needed_sponsor(
            community, membership
        ):
            outcome.kept.append(membership.member.display_name)
            continue
        _transition(
            membership,
            actor=None,
            actor_name=actor_name,
            action=Action.REMOVED,
            state=State.REMOVED,
            note=_("Removed by rule “%(name)s”.") % {"name": rule.name},
            decided=True,
            counted=False,
        )
        RuleMembership.objects.filter(membership=membership).delete()
        outcome.removed.append(membership.member.display_name)
    _recount_members([community.pk])
    return outcome


# Beyond this many changed people, every rule is applied to everyone: one set-based
# pass is cheaper than a long list of ids (and SQLite limits a statement's parameters).
FEW_PEOPLE = 500


def evaluate_rules_for_usernames(usernames: Collection[str]) -> int:
    """``evaluate_rules_for_members`` for the people with these usernames (HR sync)."""
    if not MembershipRule.objects.exists():
        return 0
    usernames = list(usernames)
    if len(usernames) > FEW_PEOPLE:
        return evaluate_rules_for_members(member_ids=None)
    member_ids = Member.objects.filter(user__username__in=usernames).values_list("pk", flat=True)
    return evaluate_rules_for_members(member_ids=list(member_ids))


def evaluate_rules_for_members(*, member_ids: Collection[int] | None) -> int:
    """Apply every rule to the people ``member_ids`` only (they just changed: HR sync,
    SCIM, their profile), or to everyone (None). Returns how many memberships changed."""
    if member_ids is not None:
        member_ids = list(member_ids)
        if not member_ids:
            return 0
        if len(member_ids) > FEW_PEOPLE:
            member_ids = None
    changed = 0
    for rule in MembershipRule.objects.select_related("community").order_by("community_id"):
        outcome = evaluate_rule(rule=rule, member_ids=member_ids)
        changed += len(outcome.added) + len(outcome.removed)
    return changed


@transaction.atomic
def save_profile(*, member: Member) -> Member:
    """Save a person's edited profile and apply the rules to them (their department,
    job title or location may now match, or no longer)."""
    member.save()
    evaluate_rules_for_members(member_ids=[member.pk])
    return member
