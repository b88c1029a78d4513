"""The directory version also follows the users table, for what pages show of a user:
username (every profile link), email (the manage page), first and last name, and
whether the account is active.

Other changes to a user (signing in sets ``last_login``, a new password) leave the
version alone: they would empty every cached page for nothing. An update counts only
when one of those columns really changes, so saving a whole unchanged user (as the
admin and single sign-on do) costs nothing either. Inserts and deletes always count.

Built like migration 0006: on PostgreSQL, deferred constraint triggers calling its
functions (the bump runs once per transaction, at commit) and a statement trigger for
TRUNCATE; on SQLite, a plain trigger per operation.
"""

from django.db import migrations

USERS = "auth_user"
SHOWN = ["username", "email", "first_name", "last_name", "is_active"]
VERSION_TABLE = "communities_directoryversion"
PG_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in SHOWN)
SQLITE_CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in SHOWN)

# Table and column names below are this module's constants, never input.
PG_SQL = f"""
CREATE CONSTRAINT TRIGGER kcdir_directory_changed
    AFTER INSERT OR DELETE ON {USERS}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION kcdir_directory_changed();
CREATE CONSTRAINT TRIGGER kcdir_directory_user_changed
    AFTER UPDATE OF {", ".join(SHOWN)} ON {USERS}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ({PG_CHANGED})
    EXECUTE FUNCTION kcdir_directory_changed();
CREATE TRIGGER kcdir_directory_truncated AFTER TRUNCATE ON {USERS}
    FOR EACH STATEMENT EXECUTE FUNCTION kcdir_directory_truncated();
"""

BUMP = f"""
    BEGIN
        INSERT OR REPLACE INTO {VERSION_TABLE} (id, number) VALUES (1,
            coalesce((SELECT number FROM {VERSION_TABLE} WHERE id = 1), 0) + 1);
    END"""  # noqa: S608
SQLITE_SQL = [
    f"CREATE TRIGGER kcdir_directory_{USERS}_insert AFTER INSERT ON {USERS} {BUMP}",
    f"CREATE TRIGGER kcdir_directory_{USERS}_update AFTER UPDATE OF {', '.join(SHOWN)} "
    f"ON {USERS} WHEN {SQLITE_CHANGED} {BUMP}",
    f"CREATE TRIGGER kcdir_directory_{USERS}_delete AFTER DELETE ON {USERS} {BUMP}",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL)
    elif vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for trigger in (
            "kcdir_directory_changed",
            "kcdir_directory_user_changed",
            "kcdir_directory_truncated",
        ):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {USERS}")
    elif vendor == "sqlite":
        for operation in ("insert", "update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_directory_{USERS}_{operation}")


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0008_membership_sort_name"),
        # The users table as Django's own migrations leave it: on SQLite a later
        # rebuild of the table would drop these triggers.
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, drop)]
