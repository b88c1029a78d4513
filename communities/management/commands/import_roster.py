from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from communities import services
from communities.csv_io import roster_upload
from communities.models import Community, RosterImport
from members.models import Member


class Command(BaseCommand):
    help = (
        "Import a roster CSV (columns separated by ',', ';' or tabs) into a community, as "
        "the Import CSV page does: shows the preview and changes nothing unless --apply is "
        "given; all or nothing unless --valid-rows is given too."
    )

    def add_arguments(self, parser):
        parser.add_argument("community", help="The community's slug.")
        parser.add_argument("file", help="CSV with email or username, role, optional note.")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Apply the file: all or nothing, so only if no row has an error.",
        )
        parser.add_argument(
            "--valid-rows",
            action="store_true",
            help="With --apply: apply the valid rows and skip the rows with errors.",
        )
        parser.add_argument(
            "--remove-absent",
            action="store_true",
            help="Also remove active members who are not in the file.",
        )
        parser.add_argument(
            "--as",
            dest="actor",
            default=None,
            help="Username recorded as the actor in the history (default: first superuser).",
        )

    def handle(
        self,
        *args,
        community,
        file,
        apply=False,
        valid_rows=False,
        remove_absent=False,
        actor=None,
        **o,
    ):
        found = Community.objects.filter(slug=community).first()
        if found is None:
            raise CommandError(f"No community with the slug {community!r}.")
        actor_member = self._actor(actor)
        path = Path(file)
        try:
            text = roster_upload.decode_upload(path.read_bytes(), name=path.name)
            plan = roster_upload.plan_import(found, text, remove_absent=remove_absent)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        except roster_upload.RosterFileError as error:
            raise CommandError(str(error)) from None
        for row in plan.rows:
            if row.action in ("error", "add", "change", "remove"):
                self.stdout.write(f"  line {row.line or '-'}: {row.action} {row.key} {row.message}")
        totals = ", ".join(f"{n} {action}" for action, n in plan.totals().items())
        self.stdout.write(f"Plan for {found.name}: {totals}.")
        for problem in plan.problems:
            self.stderr.write(self.style.ERROR(problem))
        if not apply:
            self.stdout.write("Dry run: nothing changed. Run again with --apply to apply.")
            return
        if plan.problems:
            raise CommandError("Nothing applied.")
        errors = plan.totals()["error"]
        if errors and not valid_rows:
            raise CommandError(
                f"Nothing applied: {errors} rows have errors. Correct the file, or add "
                "--valid-rows to apply the other rows and skip these."
            )
        mode = RosterImport.Mode.VALID_ROWS if valid_rows else RosterImport.Mode.ALL_OR_NOTHING
        pending = services.preview_roster_import(
            community=found,
            actor=actor_member,
            file_name=path.name,
            text=text,
            remove_absent=remove_absent,
            mode=mode,
        )
        try:
            totals = services.apply_roster_import(roster_import=pending, actor=actor_member)
        except services.ServiceError as error:
            raise CommandError(str(error)) from None
        skipped = f" {totals['skipped']} rows with errors skipped." if totals["skipped"] else ""
        self.stdout.write(self.style.SUCCESS(f"Applied.{skipped}"))

    def _actor(self, username):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        user = (
            User.objects.filter(username=username).first()
            if username
            else User.objects.filter(is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError("Name the actor with --as USERNAME (no superuser found).")
        return Member.objects.for_user(user)
