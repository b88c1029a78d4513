"""A partial index of the accounts that are switched off, on PostgreSQL only.

The people directory lists only active accounts. Asked as "no switched-off account
behind this person" (``NOT EXISTS``), PostgreSQL answers each row from this index,
which holds only the few inactive accounts, instead of joining every user: a people
search counts its matches without reading 100,000 users. SQLite needs no such index.
"""

from django.conf import settings
from django.db import migrations

INDEX = "user_inactive_partial"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {table} (id) WHERE NOT is_active")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("members", "0002_trigram_search_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
