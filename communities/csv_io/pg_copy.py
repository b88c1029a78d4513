"""CSV exports on PostgreSQL: ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)``, streamed;
and ``copy_in``, many rows stored with one ``COPY … FROM STDIN`` (a roster import's plan).

``exports`` writes each export two ways that give the same bytes: rows built in Python
and written by ``csv.writer`` (any database), and one SQL query copied out by PostgreSQL
(psycopg2), many times faster: no model instance or Python row is made.
What keeps the two identical:

- the formula guard: ``guarded()`` is ``cells.safe_cell`` in SQL (an apostrophe
  before a value starting with one of ``FORMULA_PREFIXES``), built from the same tuple;
- empty values: ``COPY`` writes NULL as nothing but quotes a non-NULL empty string
  (``""``), while ``csv.writer`` writes both as nothing, so ``guarded()`` turns '' into
  NULL;
- quoting: ``COPY`` quotes a value holding a comma, a double quote, CR or LF and doubles
  its quotes, exactly ``csv.QUOTE_MINIMAL`` with the default (excel) dialect (``COPY``'s
  one other case, a lone ``\\.`` in a one-column file, never arises: exports have several);
- line endings: ``COPY`` ends rows with LF, ``csv.writer`` with CRLF; ``copy_csv`` turns
  each row's final LF into CRLF and leaves line breaks inside quoted values alone;
- dates: ``utc_date()`` is ``active_since.date().isoformat()`` of the UTC datetime Django
  reads (NULL, like ``None``, an empty cell).
"""

import io
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import nullcontext

from django.db import connection

CHUNK_BYTES = 1 << 20  # rows are handed out about a megabyte at a time
QUEUED_CHUNKS = 4  # at most this many chunks wait in memory for the reader
_DONE = object()


def available() -> bool:
    """True when exports can use ``COPY``: PostgreSQL through psycopg2."""
    return connection.vendor == "postgresql" and connection.Database.__name__ == "psycopg2"


# COPY's text format: a backslash, tab, newline or carriage return inside a value is
# written as an escape, and \N (never produced by escaping a value) is NULL.
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_in(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert ``rows`` (values for ``columns``: str, int or None for NULL) into ``table``
    with one ``COPY … FROM STDIN``: for tens of thousands of rows several times faster
    than an ``INSERT`` of arrays, whose parameters psycopg2 quotes one by one. Runs on
    this thread's connection, inside its transaction; no ``save()``, no signals."""
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        write(
            "\t".join(
                "\\N" if value is None else str(value).translate(_TEXT_ESCAPES) for value in row
            )
        )
        write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        quote = connection.ops.quote_name
        sql = f"COPY {quote(table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
        logged = cursor.debug_sql(sql) if hasattr(cursor, "debug_sql") else nullcontext()
        with logged, connection.wrap_database_errors:
            cursor.cursor.copy_expert(sql, buffer)


def guarded(expression: str, prefixes: tuple[str, ...]) -> str:
    """SQL for ``cells.safe_cell(expression)`` as COPY must see it: NULL or '' give
    NULL (an empty cell), a value starting with one of ``prefixes`` (single characters)
    gets a leading apostrophe, anything else is itself. ``expression`` must be text."""
    codes = ", ".join(str(ord(prefix)) for prefix in prefixes)
    return (
        f"CASE WHEN ascii({expression}) IN ({codes}) THEN '''' || ({expression}) "
        f"ELSE NULLIF({expression}, '') END"
    )


def utc_date(expression: str) -> str:
    """SQL for a timestamp's date in UTC as ``YYYY-MM-DD`` (``date.isoformat()``)."""
    return f"to_char(({expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def copy_csv(
    query: str,
    params=(),
    *,
    on_rows: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Generator[bytes, None, None]:
    """The rows of ``query`` as CSV (no header), about ``chunk_bytes`` at a time, each
    row ending in CRLF; ``on_rows(n)`` is called with each chunk's row count.

    Nothing runs until the first chunk is asked for. A worker thread runs the one
    ``COPY`` on this thread's connection (psycopg2 releases the GIL while it waits for
    the server) and hands chunks over through a small bounded queue, so PostgreSQL
    produces rows while the caller writes the previous ones and memory stays flat
    whatever the row count. Do not run other queries on the connection while iterating.
    If the caller stops early, the rest of the ``COPY`` is read and dropped (it must
    finish before the connection can be used again) when the generator is closed.
    """
    with connection.cursor() as cursor:
        sql = cursor.mogrify(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", params).decode()
        chunks: queue.Queue = queue.Queue(maxsize=QUEUED_CHUNKS)
        stopped = threading.Event()
        worker = threading.Thread(
            target=_copy_out,
            args=(cursor.cursor, sql, chunks, stopped, chunk_bytes),
            name="csv-export-copy",
            daemon=True,
        )
        # Shown in connection.queries (DEBUG, CaptureQueriesContext) like any query.
        logged = cursor.debug_sql(sql) if hasattr(cursor, "debug_sql") else nullcontext()
        with logged:
            worker.start()
            try:
                while True:
                    item = chunks.get()
                    if item is _DONE:
                        break
                    if isinstance(item, BaseException):
                        with connection.wrap_database_errors:
                            raise item
                    data, rows = item
                    if on_rows is not None:
                        on_rows(rows)
                    yield data
            finally:
                stopped.set()
                worker.join()


def _copy_out(raw_cursor, sql: str, chunks: queue.Queue, stopped, chunk_bytes: int) -> None:
    """The worker: ``COPY`` into a sink that batches rows into CRLF chunks for the queue."""

    def offer(item) -> None:
        while not stopped.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    sink = _RowSink(offer, chunk_bytes, stopped)
    try:
        raw_cursor.copy_expert(sql, sink)
        sink.flush()
    except BaseException as error:  # handed to the reader, which raises it
        offer(error)
    else:
        offer(_DONE)


class _RowSink:
    """What psycopg2 writes the ``COPY`` into: one ``write`` per row (the protocol sends
    one CopyData message per row), gathered into chunks with CRLF line endings."""

    def __init__(self, offer, chunk_bytes: int, stopped):
        self.offer, self.chunk_bytes, self.stopped = offer, chunk_bytes, stopped
        self.rows: list[bytes] = []
        self.size = 0

    def write(self, row: bytes) -> None:
        if self.stopped.is_set():
            return  # the reader has gone: drain the COPY without keeping anything
        self.rows.append(row)
        self.size += len(row)
        if self.size >= self.chunk_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.rows or self.stopped.is_set():
            return
        rows, self.rows, self.size = self.rows, [], 0
        self.offer((crlf_rows(rows), len(rows)))


def crlf_rows(rows: list[bytes]) -> bytes:
    """Join COPY rows (each ending in LF) into one block whose rows end in CRLF."""
    data = b"".join(rows)
    if data.count(b"\n") == len(rows):  # no line break inside any value: the fast way
        return data.replace(b"\n", b"\r\n")
    return b"".join(row[:-1] + b"\r\n" if row.endswith(b"\n") else row for row in rows)
