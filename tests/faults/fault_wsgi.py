"""kcdir's WSGI application with fault hooks, for tests/faults only (gunicorn
``tests.faults.fault_wsgi:application``; the product has nothing like it).

A request with the header ``X-Fault-Pause: <n> <SQL prefix>`` runs as usual until it has
executed its n-th statement starting with the prefix (for instance
``INSERT INTO "communities_membershipevent"``); then its worker writes
``$FAULT_DIR/paused`` (its pid, the statements run, the rows its transaction sees in
that table, whether a transaction is open) and sleeps, so that a test can SIGKILL it in
the middle of the work.
"""

import json
import os
import time
from pathlib import Path

from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from kcdir.wsgi import application as kcdir_application


class PauseAfter:
    def __init__(self, count: int, prefix: str):
        self.count, self.prefix = count, prefix
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith(self.prefix):
            self.statements += 1
            if self.statements == self.count:
                self.pause()
        return result

    def pause(self) -> None:
        table = self.prefix.split('"')[1]
        with connection.cursor() as cursor:  # as this transaction sees it
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (a test's own name)
            table_rows = cursor.fetchone()[0]
        marker = Path(os.environ["FAULT_DIR"]) / "paused"
        report = {
            "pid": os.getpid(),
            "statements": self.statements,
            "table": table,
            "table_rows": table_rows,
            "in_transaction": connection.in_atomic_block,
        }
        partial = marker.with_suffix(".partial")
        partial.write_text(json.dumps(report))
        partial.rename(marker)
        time.sleep(600)  # until the test kills this worker


def application(environ, start_response):
    spec = environ.get("HTTP_X_FAULT_PAUSE")
    if not spec:
        return kcdir_application(environ, start_response)
    count, prefix = spec.split(" ", 1)
    with connection.execute_wrapper(PauseAfter(int(count), prefix)):
        return kcdir_application(environ, start_response)


@receiver(connection_created)
def _disk_full(sender, connection, **kwargs):
    """While ``$FAULT_DIR/disk-full`` exists, a SQLite database cannot grow by a page:
    SQLite's own "database or disk is full" (where no small filesystem can be mounted)."""
    fault_dir = os.environ.get("FAULT_DIR")
    if connection.vendor != "sqlite" or not fault_dir:
        return
    if (Path(fault_dir) / "disk-full").exists():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {int(pages)}")
