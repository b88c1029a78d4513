"""The directory version: one row, bumped by database triggers whenever anything the
directory's pages show changes, so those pages can cache what they draw.

Triggers (not Django signals) because every writer must bump it: services, the admin,
``QuerySet.update``, bulk loads and raw SQL alike.

- PostgreSQL: a deferred constraint trigger per watched table runs at commit, once per
  transaction (a transaction-local setting remembers it ran), so the version row is
  locked only for the instant of the commit and the new number becomes visible together
  with the changes it stands for. A statement trigger covers TRUNCATE.
- SQLite: a plain trigger per table and operation (SQLite has one writer at a time).
"""

from django.db import migrations, models

WATCHED = [
    "communities_community",
    "communities_community_purposes",
    "communities_purpose",
    "communities_membership",
    "members_member",
    "members_department",
]
VERSION_TABLE = "communities_directoryversion"

# Table names below are this module's constants, never input.
PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION kcdir_bump_directory_version() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {VERSION_TABLE} SET number = number + 1 WHERE id = 1;
    IF NOT FOUND THEN
        INSERT INTO {VERSION_TABLE} (id, number) VALUES (1, 1) ON CONFLICT (id)
            DO UPDATE SET number = {VERSION_TABLE}.number + 1;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION kcdir_directory_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('kcdir.directory_bumped', true) IS DISTINCT FROM
            txid_current()::text THEN
        PERFORM set_config('kcdir.directory_bumped', txid_current()::text, true);
        PERFORM kcdir_bump_directory_version();
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION kcdir_directory_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kcdir_bump_directory_version();
    RETURN NULL;
END $$;
"""  # noqa: S608


def pg_triggers(table: str) -> str:
    return f"""
CREATE CONSTRAINT TRIGGER kcdir_directory_changed
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION kcdir_directory_changed();
CREATE TRIGGER kcdir_directory_truncated AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION kcdir_directory_truncated();
"""


def sqlite_triggers(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER kcdir_directory_{table}_{operation.lower()}
            AFTER {operation} ON {table}
            BEGIN
                INSERT OR REPLACE INTO {VERSION_TABLE} (id, number) VALUES (1,
                    coalesce((SELECT number FROM {VERSION_TABLE} WHERE id = 1), 0) + 1);
            END"""  # noqa: S608
        for operation in ("INSERT", "UPDATE", "DELETE")
    ]


def create(apps, schema_editor):
    schema_editor.execute(f"INSERT INTO {VERSION_TABLE} (id, number) VALUES (1, 1)")  # noqa: S608
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS)
        for table in WATCHED:
            schema_editor.execute(pg_triggers(table))
    elif vendor == "sqlite":
        for table in WATCHED:
            for statement in sqlite_triggers(table):
                schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in WATCHED:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_directory_changed ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_directory_truncated ON {table}")
        for function in ("directory_changed", "directory_truncated", "bump_directory_version"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS kcdir_{function}()")
    elif vendor == "sqlite":
        for table in WATCHED:
            for operation in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_directory_{table}_{operation}")


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0005_trigram_search_indexes"),
        ("members", "0002_trigram_search_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DirectoryVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.BigIntegerField(default=0)),
            ],
            options={"verbose_name": "directory version"},
        ),
        migrations.RunPython(create, drop),
    ]
