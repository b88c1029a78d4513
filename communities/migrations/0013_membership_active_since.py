"""``Membership.active_since``: when the person last became active in the community (the
join, approval, accepted invitation, addition or import that made them a member), which
rosters show as "Since" and exports as "joined" instead of the row's ``created_at`` (for
a request that was approved, the date of the request).

Existing rows are filled from their history: the latest event that made the membership
active (its state after ``active``, before anything else). Active rows without such an
event (loaded without history) keep their ``created_at``; others stay empty.
"""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def fill(apps, schema_editor):
    Membership = apps.get_model("communities", "Membership")
    MembershipEvent = apps.get_model("communities", "MembershipEvent")
    activation = (
        MembershipEvent.objects.filter(
            community_id=OuterRef("community_id"),
            target_id=OuterRef("member_id"),
            state_after="active",
        )
        .exclude(state_before="active")
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    Membership.objects.update(active_since=Subquery(activation))
    Membership.objects.filter(state="active", active_since=None).update(
        active_since=F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [("communities", "0012_roster_import_stored_plan")]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="active_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="member since"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
