"""A roster import records what rows with errors do (``mode``): all or nothing (the
default), or apply the valid rows and skip those. Plans now list their error rows first."""

from django.db import migrations, models


def drop_waiting_imports_with_errors(apps, schema_editor):
    """Imports waiting for confirmation with rows in error were planned when the valid
    rows applied regardless, with their rows in the old order; they go (stewards upload
    the file again and choose). Imports without errors, and applied ones, stay."""
    RosterImport = apps.get_model("communities", "RosterImport")
    RosterImport.objects.filter(applied_at__isnull=True, totals__error__gt=0).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0015_community_proposal_note"),
    ]

    operations = [
        migrations.AddField(
            model_name="rosterimport",
            name="mode",
            field=models.CharField(
                choices=[
                    ("all_or_nothing", "All or nothing"),
                    ("valid_rows", "Apply the valid rows"),
                ],
                default="all_or_nothing",
                max_length=16,
            ),
        ),
        migrations.RunPython(
            drop_waiting_imports_with_errors, migrations.RunPython.noop, elidable=True
        ),
    ]
