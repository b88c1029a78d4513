import contextlib
import sys

from django.core.management.base import BaseCommand, CommandError

from communities import roster_csv
from communities.models import Community, Membership


class Command(BaseCommand):
    help = "Write a community's roster as CSV (the same file as the Export CSV button)."

    def add_arguments(self, parser):
        parser.add_argument("community", help="The community's slug.")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument(
            "--all", action="store_true", help="Include former, invited and pending members."
        )

    def handle(self, *args, community, output=None, all=False, **options):
        found = Community.objects.filter(slug=community).first()
        if found is None:
            raise CommandError(f"No community with the slug {community!r}.")
        states = Membership.State.values if all else [Membership.State.ACTIVE]
        lines = roster_csv.csv_rows(
            roster_csv.ROSTER_HEADER, roster_csv.roster_rows(found, states=states)
        )
        target = (
            open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed by with)
            if output
            else contextlib.nullcontext(sys.stdout)
        )
        count = -1  # the header
        with target as stream:
            for line in lines:
                stream.write(line)
                count += line.endswith("\n")
        if output:
            self.stderr.write(f"Wrote {count} rows to {output}.")
