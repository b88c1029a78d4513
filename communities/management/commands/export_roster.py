import sys
import time

from django.core.management.base import BaseCommand, CommandError

from communities.csv_io import exports
from communities.models import Community, Membership

PROGRESS_SECONDS = 2.0  # --all-communities reports its progress at most this often


class Command(BaseCommand):
    help = (
        "Write a community's roster as CSV (the same file as the Export CSV button), "
        "or with --all-communities every membership of every community."
    )

    def add_arguments(self, parser):
        parser.add_argument("community", nargs="?", help="The community's slug.")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        parser.add_argument(
            "--all", action="store_true", help="Include former, invited and pending members."
        )
        parser.add_argument(
            "--all-communities",
            action="store_true",
            help="Every membership of every community, in id order, with a first column "
            "'community' (the slug); progress on standard error.",
        )

    def handle(self, *args, community=None, output=None, all=False, **options):
        everyone = options["all_communities"]
        if everyone == bool(community):
            raise CommandError("Name one community's slug, or give --all-communities.")
        states = Membership.State.values if all else [Membership.State.ACTIVE]
        progress = _Progress(self.stderr if everyone else None)
        if everyone:
            chunks = exports.export_memberships(states=states, on_rows=progress.rows)
        else:
            found = Community.objects.filter(slug=community).first()
            if found is None:
                raise CommandError(f"No community with the slug {community!r}.")
            chunks = exports.export_roster(found, states=states, on_rows=progress.rows)
        if output:
            with open(output, "wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
        else:
            _to_stdout(chunks)
        if everyone:
            progress.done(output or "standard output")
        elif output:
            self.stderr.write(f"Wrote {progress.count} rows to {output}.")


def _to_stdout(chunks) -> None:
    """Bytes to standard output (through its text stream when it has no byte buffer)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    for chunk in chunks:
        if buffer is None:
            sys.stdout.write(chunk.decode())
        else:
            buffer.write(chunk)
    if buffer is not None:
        buffer.flush()


class _Progress:
    """Counts rows as they are exported; reports to ``stream`` (if any) now and then."""

    def __init__(self, stream):
        self.stream, self.count = stream, 0
        self.started = self.reported = time.monotonic()

    def rows(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if self.stream is not None and now - self.reported >= PROGRESS_SECONDS:
            self.reported = now
            self.stream.write(f"{self.count:,} rows ({self.count / (now - self.started):,.0f}/s)…")

    def done(self, where: str) -> None:
        seconds = time.monotonic() - self.started
        self.stream.write(f"Wrote {self.count:,} rows to {where} in {seconds:.1f} s.")
