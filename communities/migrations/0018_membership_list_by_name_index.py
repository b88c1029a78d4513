"""An index of each community's memberships by name (``Membership.sort_name``, kept by
migration 0008's triggers), then id: the manage page's list (``by_member_name``) reads a
page of it as a range of this community's rows, from a cursor, instead of walking every
person in the organisation in name order and looking up each one's membership here.
An index only: no table is rebuilt, so SQLite keeps its triggers."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0017_community_overlap"),
        ("members", "0003_inactive_users_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["community", "sort_name", "id"], name="membership_list_by_name"
            ),
        ),
    ]
