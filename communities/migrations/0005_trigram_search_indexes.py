"""Trigram indexes for the directory's substring search, on PostgreSQL only
(see members/migrations/0002_trigram_search_indexes.py for why and how)."""

from django.db import migrations

INDEXES = [
    ("community_name_trgm", "communities_community", "name"),
    ("community_summary_trgm", "communities_community", "summary"),
    ("community_description_trgm", "communities_community", "description"),
    ("purpose_statement_trgm", "communities_purpose", "statement"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0004_botkin_model"),
        ("members", "0002_trigram_search_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
