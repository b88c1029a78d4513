"""``manage.py runserver_with_worker``: the development server and the background worker
together, as ``make run`` starts them; Ctrl-C stops both."""

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

STOP_SECONDS = 15


class Command(BaseCommand):
    help = "Serve kcdir (runserver) with the background worker beside it; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        worker = subprocess.Popen([*manage, "worker"])  # noqa: S603 (our own manage.py)
        try:
            subprocess.run([*manage, "runserver", addrport], check=False)  # noqa: S603
        except KeyboardInterrupt:
            pass  # Ctrl-C reached the server and the worker too (one process group)
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
