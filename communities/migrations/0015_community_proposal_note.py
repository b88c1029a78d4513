"""``Community.proposal_note``: a proposal's "Why now", the proposer's note to the
directory admins who decide. It used to be stored as the proposal's ``summary``, which
becomes the knowledge community's public summary when the proposal is approved.

Proposals still waiting or declined (never public) that were proposed from scratch (not
to formalise a CoP, whose summary was the CoP's) have their summary moved to the note.
On SQLite the table is rebuilt for the new column, so its directory-version triggers are
made again.
"""

from importlib import import_module

from django.db import migrations, models

directory_version = import_module("communities.migrations.0006_directory_version")


def move_notes(apps, schema_editor):
    Community = apps.get_model("communities", "Community")
    proposals = Community.objects.filter(
        status="proposed", formed_from__isnull=True, proposed_by__isnull=False
    ).exclude(summary="")
    for proposal in proposals.only("pk", "summary"):
        Community.objects.filter(pk=proposal.pk).update(proposal_note=proposal.summary, summary="")


def restore_notes(apps, schema_editor):
    Community = apps.get_model("communities", "Community")
    proposals = Community.objects.filter(status="proposed", summary="").exclude(proposal_note="")
    for proposal in proposals.only("pk", "proposal_note"):
        Community.objects.filter(pk=proposal.pk).update(summary=proposal.proposal_note[:300])


def directory_triggers_again(apps, schema_editor):
    """SQLite adds a NOT NULL column by rebuilding the table, which drops its triggers:
    the directory version's (migration 0006) are made again. PostgreSQL keeps them."""
    if schema_editor.connection.vendor != "sqlite":
        return
    table = "communities_community"
    for operation in ("insert", "update", "delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS kcdir_directory_{table}_{operation}")
    for statement in directory_version.sqlite_triggers(table):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("communities", "0014_people_sync_upload")]

    operations = [
        migrations.AddField(
            model_name="community",
            name="proposal_note",
            field=models.TextField(blank=True, verbose_name="why now"),
        ),
        migrations.RunPython(directory_triggers_again, migrations.RunPython.noop),
        migrations.RunPython(move_notes, restore_notes),
    ]
