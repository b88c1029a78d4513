"""The database triggers the directory's caches and roster order rely on survive every
migration: SQLite rebuilds a table to add a NOT NULL column, which drops its triggers, so
a migration that does that must make them again (as 0012 does)."""

from importlib import import_module

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

WATCHED = import_module("communities.migrations.0006_directory_version").WATCHED


def trigger_names() -> set[tuple[str, str]]:
    """(table, trigger name) of every trigger in the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
            )
        return set(cursor.fetchall())


def test_every_watched_table_still_bumps_the_directory_version():
    triggers = trigger_names()

    for table in WATCHED:
        if connection.vendor == "sqlite":
            expected = {
                (table, f"kcdir_directory_{table}_{op}") for op in ("insert", "update", "delete")
            }
        else:
            expected = {(table, "kcdir_directory_changed"), (table, "kcdir_directory_truncated")}
        assert expected <= triggers, f"{table} lost its directory-version triggers"


def test_memberships_still_copy_their_members_names():
    names = {name for _table, name in trigger_names()}

    if connection.vendor == "sqlite":
        assert {"kcdir_membership_sort_name_insert", "kcdir_membership_sort_name_update"} <= names
    else:
        assert "kcdir_membership_sort_name" in names
    assert "kcdir_member_renamed" in names


def test_memberships_still_copy_their_members_departments():
    names = {name for _table, name in trigger_names()}

    if connection.vendor == "sqlite":
        assert {
            "kcdir_membership_department_insert",
            "kcdir_membership_department_update",
        } <= names
    else:
        assert "kcdir_membership_department" in names
    assert "kcdir_member_moved" in names
