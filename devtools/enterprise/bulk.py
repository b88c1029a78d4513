"""Bulk loading for the enterprise data: PostgreSQL ``COPY ... FROM STDIN`` fed by a
streaming generator, with the table's keys, indexes and triggers off meanwhile;
SQLite batched ``executemany``."""

import io
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

from django.db import connection


class LineStream(io.RawIOBase):
    """A read-only file over an iterator of text lines, for ``COPY FROM STDIN``:
    the server loads one chunk while Python generates the next."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 1 << 16 if size is None or size < 0 else size
        parts, have = [self.buffer], len(self.buffer)
        while have < size:
            chunk = "".join(islice(self.lines, 512)).encode()
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self.buffer = data[size:]
        return data[:size]


class BulkLoader:
    """Loads rows into a table as fast as the database allows, and logs each step with
    the time elapsed since ``start``."""

    def __init__(self, *, log: Callable[[str], None] = print):
        self.log = log
        self.postgres = connection.vendor == "postgresql"
        self.started = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()

    def progress(self, message: str) -> None:
        self.log(f"{message} ({time.perf_counter() - self.started:.1f} s elapsed)")

    def next_id(self, table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            return (cursor.fetchone()[0] or 0) + 1

    def load(self, table: str, columns: list[str], rows: Iterable, as_lines=False) -> int:
        """Load ``rows`` (tuples of text, or tab-separated lines ``as_lines``)."""
        step = time.perf_counter()
        counter = CountingRows(rows)
        if self.postgres:
            self.copy(table, columns, counter if as_lines else join_rows(counter))
        else:
            self.insert(table, columns, split_lines(counter) if as_lines else counter)
        self.progress(f"  {table}: {counter.count:,} rows in {time.perf_counter() - step:.1f} s")
        return counter.count

    def copy(self, table: str, columns: list[str], lines: Iterator[str]) -> None:
        quote = connection.ops.quote_name
        sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        lines = iter(lines)
        with connection.cursor() as cursor, without_keys_and_indexes(cursor, table):
            raw = cursor.cursor
            if hasattr(raw, "copy_expert"):  # psycopg2
                raw.copy_expert(sql, LineStream(lines), size=1 << 16)
            else:  # psycopg 3
                with raw.copy(sql) as copy:
                    for batch in iter(lambda: "".join(islice(lines, 2000)), ""):
                        copy.write(batch)

    def insert(self, table: str, columns: list[str], rows: Iterable) -> None:
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        rows = iter(rows)
        with connection.cursor() as cursor:
            while batch := list(islice(rows, 10_000)):
                cursor.executemany(sql, batch)

    def reset_sequences(self, tables) -> None:
        if not self.postgres:
            return  # SQLite's AUTOINCREMENT follows the largest id inserted
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                    f"(SELECT MAX(id) FROM {connection.ops.quote_name(table)}))",
                    [table],
                )

    def analyze(self) -> None:
        if not self.postgres:
            return
        step = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.progress(f"  ANALYZE in {time.perf_counter() - step:.1f} s")


DIRECTORY_TRIGGER = "kcdir_directory_changed"


@contextmanager
def without_keys_and_indexes(cursor, table: str):
    """Drop ``table``'s foreign keys, unique constraints and secondary indexes, and put
    them back (same names, same definitions) afterwards.

    What pg_restore does, for the same reason: building an index once over a million
    sorted rows is several times faster than a million random insertions into it,
    and re-adding a foreign key checks every row in one join instead of queueing a
    trigger per row until commit. All inside the load's transaction: nobody sees
    the table without them, and a failure puts everything back. The primary key
    stays (new ids are appended at its end).
    """
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC",
        [table],
    )
    constraints = cursor.fetchall()  # unique ones first: a foreign key may need one
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass AND NOT indisprimary AND indexrelid NOT IN "
        "(SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    # kcdir's own triggers are off for the load: the directory version's deferred one
    # (migration 0006) would queue an event per row, and PostgreSQL refuses to build an
    # index on a table with events pending (the version is raised once afterwards); the
    # roster sort name's (0008) would look up each row's member, which the loader
    # writes itself.
    cursor.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE %s",
        [table, "kcdir\\_%"],
    )
    triggers = [name for (name,) in cursor.fetchall()]
    quote = connection.ops.quote_name
    for name in triggers:
        cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(name)}")
    for name, _definition in reversed(constraints):
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
    for name in triggers:
        cursor.execute(f"ALTER TABLE {quote(table)} ENABLE TRIGGER {quote(name)}")
    if DIRECTORY_TRIGGER in triggers:
        cursor.execute("SELECT kcdir_bump_directory_version()")


def join_rows(rows: Iterable[tuple[str, ...]]) -> Iterator[str]:
    """Rows as the lines of COPY's text format (no value holds a tab, newline or backslash)."""
    for row in rows:
        yield "\t".join(row) + "\n"


def split_lines(lines: Iterable[str]) -> Iterator[list[str | None]]:
    """COPY's text lines back into rows, for inserting them elsewhere."""
    for line in lines:
        yield [None if value == "\\N" else value for value in line[:-1].split("\t")]


class CountingRows:
    """The rows, counted as they go by."""

    def __init__(self, rows: Iterable):
        self.rows = iter(rows)
        self.count = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row
