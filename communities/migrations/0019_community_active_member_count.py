"""``Community.active_member_count``: a community's active memberships, stored (the
membership services keep it in the transaction that changes them) so the directory
shows and sorts by it without counting; filled here by one statement. The directory's
three orders (name, newest, most members) get indexes that hold its filters' columns
(status, kind), so a deep page skips rows in the index alone. On SQLite the table is rebuilt for the new column,
so its directory-version triggers are made again.
"""

from importlib import import_module

from django.db import migrations, models

directory_version = import_module("communities.migrations.0006_directory_version")

BACKFILL = """
UPDATE communities_community SET active_member_count = (
    SELECT COUNT(*) FROM communities_membership m
    WHERE m.community_id = communities_community.id AND m.state = 'active'
)
"""


def directory_triggers_again(apps, schema_editor):
    """SQLite adds a NOT NULL column by rebuilding the table, which drops its triggers:
    the directory version's (migration 0006) are made again. PostgreSQL keeps them."""
    if schema_editor.connection.vendor != "sqlite":
        return
    table = "communities_community"
    for operation in ("insert", "update", "delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_directory_{table}_{operation}")
    for statement in directory_version.sqlite_triggers(table):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("communities", "0018_membership_list_by_name_index")]

    operations = [
        migrations.AddField(
            model_name="community",
            name="active_member_count",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="active members"
            ),
        ),
        migrations.RunPython(directory_triggers_again, migrations.RunPython.noop),
        # The indexes before the counts: PostgreSQL creates no index on a table with
        # changes whose (deferred) directory-version triggers are still to run.
        migrations.RemoveIndex(model_name="community", name="community_name"),
        migrations.AddIndex(
            model_name="community",
            index=models.Index(
                fields=["name", "id"], include=["status", "kind"], name="community_by_name"
            ),
        ),
        migrations.AddIndex(
            model_name="community",
            index=models.Index(
                fields=["-created_at", "-id"],
                include=["status", "kind"],
                name="community_newest",
            ),
        ),
        migrations.AddIndex(
            model_name="community",
            index=models.Index(
                fields=["-active_member_count", "name", "id"],
                include=["status", "kind"],
                name="community_by_members",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
