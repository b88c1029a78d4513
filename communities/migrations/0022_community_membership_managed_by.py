"""``Community.membership_managed_by``: the identity provider that keeps a knowledge
community's list (a group in it linked by a directory admin; SCIM provisioning), empty
when people join and leave on kcdir's pages. On SQLite the table is rebuilt for the new
column, so its directory-version triggers are made again."""

from importlib import import_module

from django.db import migrations, models

directory_version = import_module("communities.migrations.0006_directory_version")


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
    dependencies = [("communities", "0021_membership_leaders_index")]

    operations = [
        migrations.AddField(
            model_name="community",
            name="membership_managed_by",
            field=models.CharField(
                blank=True, editable=False, max_length=100, verbose_name="membership managed by"
            ),
        ),
        migrations.RunPython(directory_triggers_again, migrations.RunPython.noop),
    ]
