"""What the stored counts and overlaps need when a person's memberships go without a
service: a superuser deleting the person in the Django admin (a repair; people who leave
are deactivated, never deleted). A deleted community's pairs go by cascade. Django's
deletion sends these signals for every row it collects, cascades included, inside its own
transaction."""

from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from members.models import Member

from . import overlaps
from .models import Membership
from .services._counts import _lock_communities, _recount_members

_ACTIVE_COMMUNITIES = "_kcdir_active_communities"


@receiver(pre_delete, sender=Member)
def _person_going(sender, instance: Member, **kwargs) -> None:
    """Before their memberships go: the pairs of their communities lose them."""
    communities = list(
        Membership.objects.filter(member=instance, state=Membership.State.ACTIVE).values_list(
            "community_id", flat=True
        )
    )
    if communities:
        _lock_communities(communities)
        overlaps.people_leaving(member_ids={instance.pk})
        setattr(instance, _ACTIVE_COMMUNITIES, communities)


@receiver(post_delete, sender=Member)
def _person_gone(sender, instance: Member, **kwargs) -> None:
    """After: their communities are counted again."""
    _recount_members(getattr(instance, _ACTIVE_COMMUNITIES, ()))
