"""Trigram indexes for case-insensitive substring search, on PostgreSQL only.

Django's ``icontains`` becomes ``UPPER(col::text) LIKE UPPER(%s)``; a GIN trigram
index on that same expression lets PostgreSQL answer it without reading every row
(people search over 100,000). SQLite has no such index and needs none at its sizes.
Needs the pg_trgm extension (CREATE EXTENSION may need a superuser once).
"""

from django.db import migrations

COLUMNS = ["display_name", "job_title", "expertise"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS member_{column}_trgm ON members_member "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS member_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
