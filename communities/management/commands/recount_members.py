from django.core.management.base import BaseCommand

from communities import services


class Command(BaseCommand):
    help = (
        "Count every community's active members afresh and store the counts the "
        "directory shows and sorts by (the membership services keep them as people join "
        "and leave; this repairs counts changed outside them, as when a superuser deletes "
        "a person in the Django admin). Safe to run at any time."
    )

    def handle(self, *args, **options):
        wrong = services.recount_members()
        self.stdout.write(
            f"Member counts: {wrong} corrected." if wrong else "Member counts: all correct."
        )
