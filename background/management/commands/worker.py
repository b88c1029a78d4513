"""``manage.py worker``: the background worker (README "Deploying")."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from background.tasks import enqueue_send_due


class Command(BaseCommand):
    help = (
        "Run the background worker (django-q2's cluster): it sends the outbox's emails "
        "and runs long actions. Queues a sweep of due emails first, so that what was "
        "due while no worker ran goes out at once. Stops cleanly on SIGTERM or Ctrl-C."
    )

    def handle(self, *args, **options):
        enqueue_send_due()
        call_command("qcluster")
