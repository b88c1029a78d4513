"""``Community.proposal_note``: a proposal's "Why now", the proposer's note to the
directory admins who decide. It used to be stored as the proposal's ``summary``, which
becomes the knowledge community's public summary when the proposal is approved.

Proposals still waiting or declined (never public) that were proposed from scratch (not
to formalise a CoP, whose summary was the CoP's) have their summary moved to the note.
"""

from django.db import migrations, models


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


class Migration(migrations.Migration):
    dependencies = [("communities", "0011_people_sync_upload")]

    operations = [
        migrations.AddField(
            model_name="community",
            name="proposal_note",
            field=models.TextField(blank=True, verbose_name="why now"),
        ),
        migrations.RunPython(move_notes, restore_notes),
    ]
