"""A partial index of the requests waiting for a decision, on PostgreSQL only.

A steward's manage page lists a community's waiting requests oldest first
(``state = 'requested' ORDER BY updated_at, id``), and the navbar counts the requests
a directory admin can decide. Among a million memberships only a few percent wait:
this index holds just those, in the order the page shows them, so the page reads its
fifty rows straight from it and the count never scans the memberships table.
SQLite needs no such index at its sizes.
"""

from django.db import migrations

INDEX = "membership_requested"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON communities_membership "
        "(community_id, updated_at, id) WHERE state = 'requested'"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("communities", "0006_directory_version")]

    operations = [migrations.RunPython(create, drop)]
