"""``Membership.sort_name``: the member's display name on the membership row, kept there
by database triggers, so a roster (sponsor, stewards, then everyone by name) is read in
index order instead of sorting thousands of joined rows for every page.

- On every insert and update of a membership the name is taken from the member (what
  Django writes there is replaced), and renaming a member renames their memberships.
- PostgreSQL gets an index on (community, state, role rank, sort_name, id), the role
  rank being ``models.ROLE_RANK``'s very expression. SQLite sorts (it meets its target).
- PostgreSQL refuses DDL on a table with trigger events pending (the directory
  version's deferred trigger, migration 0006): the fill runs with constraints immediate.
"""

from django.db import migrations, models

PG_SQL = """
CREATE OR REPLACE FUNCTION kcdir_membership_sort_name() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.sort_name := (SELECT display_name FROM members_member WHERE id = NEW.member_id);
    RETURN NEW;
END $$;

CREATE TRIGGER kcdir_membership_sort_name
    BEFORE INSERT OR UPDATE ON communities_membership
    FOR EACH ROW EXECUTE FUNCTION kcdir_membership_sort_name();

CREATE OR REPLACE FUNCTION kcdir_member_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE communities_membership SET sort_name = NEW.display_name
        WHERE member_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER kcdir_member_renamed
    AFTER UPDATE OF display_name ON members_member
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION kcdir_member_renamed();
"""

PG_INDEX = """
CREATE INDEX membership_roster_order ON communities_membership (
    community_id, state,
    (CASE WHEN role = 'sponsor' THEN 0 WHEN role = 'steward' THEN 1 ELSE 2 END),
    sort_name, id)
"""

SQLITE_NAME = "(SELECT display_name FROM members_member WHERE id = NEW.member_id)"
SQLITE_SQL = [
    f"""CREATE TRIGGER kcdir_membership_sort_name_{operation.lower()}
        AFTER {operation} ON communities_membership
        WHEN NEW.sort_name IS NOT {SQLITE_NAME}
        BEGIN
            UPDATE communities_membership SET sort_name = {SQLITE_NAME} WHERE id = NEW.id;
        END"""  # noqa: S608
    for operation in ("INSERT", "UPDATE")
] + [
    """CREATE TRIGGER kcdir_member_renamed
        AFTER UPDATE OF display_name ON members_member
        WHEN OLD.display_name IS NOT NEW.display_name
        BEGIN
            UPDATE communities_membership SET sort_name = NEW.display_name
                WHERE member_id = NEW.id;
        END"""
]

FILL = """
UPDATE communities_membership SET sort_name = (
    SELECT display_name FROM members_member WHERE members_member.id = member_id)
"""


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL)
        # The directory version's trigger runs per statement here, so that no event is
        # pending when the index is built over the filled rows.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(FILL)
        schema_editor.execute(PG_INDEX)
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    if vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement)
    schema_editor.execute(FILL)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS membership_roster_order")
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS kcdir_membership_sort_name ON communities_membership"
        )
        schema_editor.execute("DROP TRIGGER IF EXISTS kcdir_member_renamed ON members_member")
        schema_editor.execute("DROP FUNCTION IF EXISTS kcdir_membership_sort_name()")
        schema_editor.execute("DROP FUNCTION IF EXISTS kcdir_member_renamed()")
    elif vendor == "sqlite":
        for name in ("sort_name_insert", "sort_name_update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_membership_{name}")
        schema_editor.execute("DROP TRIGGER IF EXISTS kcdir_member_renamed")


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0007_requested_memberships_index"),
        ("members", "0003_inactive_users_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="sort_name",
            field=models.CharField(blank=True, editable=False, max_length=150, null=True),
        ),
        migrations.RunPython(create, drop),
    ]
