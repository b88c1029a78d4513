from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from .models import Member

# What ``communities.access.is_directory_admin`` asks: the permission, held directly or
# through a group. Answered here, in the query that loads the user.
DIRECTORY_PERMISSION = ("communities", "manage_directory")


class MemberBackend(ModelBackend):
    """Django's model backend, loading with the user (every request does this) their
    Member and whether they may manage the directory: one query serves all three
    (``request.member`` reads ``user.member``; ``is_directory_admin`` reads the flag).

    The query is written once, from the models' own columns, and reused: building it
    with the ORM on every request cost more than running it.
    """

    def get_user(self, user_id):
        User = get_user_model()
        database = router.db_for_read(User)
        user_fields, member_fields, sql = _user_query(database)
        try:
            user_id = User._meta.pk.to_python(user_id)
        except Exception:
            return None
        with connections[database].cursor() as cursor:
            cursor.execute(sql, [*DIRECTORY_PERMISSION, user_id, user_id, user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        row = _converted(database, [*user_fields, *member_fields], row)
        size = len(user_fields)
        user = User.from_db(database, [f.attname for f in user_fields], row[:size])
        member_row = row[size : size + len(member_fields)]
        if member_row[0] is not None:
            member = Member.from_db(database, [f.attname for f in member_fields], member_row)
            _set_related(user, member)
        user._kcdir_directory_admin = bool(row[-1])
        return user if self.user_can_authenticate(user) else None


def _converted(database: str, fields, row) -> list:
    """The row's values as the ORM would give them (e.g. aware datetimes on SQLite)."""
    values = list(row)
    for index, column, converters in _converters(database, tuple(fields)):
        for convert in converters:
            values[index] = convert(values[index], column, connections[database])
    return values


@cache
def _converters(database: str, fields: tuple) -> list:
    connection = connections[database]
    found = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((index, column, converters))
    return found


def _set_related(user, member) -> None:
    """``user.member`` and ``member.user`` without another query."""
    Member.user.field.set_cached_value(member, user)
    Member.user.field.remote_field.set_cached_value(user, member)


@cache
def _user_query(database: str):
    """The user's and member's columns (in model order) and the SQL that loads them."""
    User = get_user_model()
    quote = connections[database].ops.quote_name
    user_fields = User._meta.concrete_fields
    member_fields = Member._meta.concrete_fields
    user_table, member_table = quote(User._meta.db_table), quote(Member._meta.db_table)
    user_pk = quote(User._meta.pk.column)
    columns = [f"{user_table}.{quote(f.column)}" for f in user_fields]
    columns += [f"{member_table}.{quote(f.column)}" for f in member_fields]
    member_user = quote(Member._meta.get_field("user").column)
    groups = User._meta.get_field("groups").remote_field.through._meta.db_table
    direct = User._meta.get_field("user_permissions").remote_field.through._meta.db_table
    # Identifiers come from the models; the only values are parameters.
    sql = f"""
        SELECT {", ".join(columns)},
            EXISTS (
                SELECT 1 FROM auth_permission p
                JOIN django_content_type ct ON ct.id = p.content_type_id
                WHERE ct.app_label = %s AND p.codename = %s AND (
                    p.id IN (
                        SELECT gp.permission_id FROM auth_group_permissions gp
                        JOIN {quote(groups)} ug ON ug.group_id = gp.group_id
                        WHERE ug.user_id = %s)
                    OR p.id IN (
                        SELECT up.permission_id FROM {quote(direct)} up WHERE up.user_id = %s)
                )
            )
        FROM {user_table}
        LEFT OUTER JOIN {member_table} ON {member_table}.{member_user} = {user_table}.{user_pk}
        WHERE {user_table}.{user_pk} = %s
    """  # noqa: S608
    return user_fields, member_fields, sql
