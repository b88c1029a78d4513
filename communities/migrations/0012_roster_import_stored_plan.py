"""Roster imports are planned once, at upload: the plan's rows (``RosterImportRow``), its
totals and problems are stored, and the uploaded file no longer is."""

import django.db.models.deletion
from django.db import migrations, models


def drop_unplanned_imports(apps, schema_editor):
    """Imports waiting for confirmation kept their file, not a plan; with the file
    column gone they could never be shown or applied, so they go (stewards upload the
    file again). Applied ones stay: they only record that they were applied."""
    RosterImport = apps.get_model("communities", "RosterImport")
    RosterImport.objects.filter(applied_at__isnull=True).delete()


def drop_all_imports(apps, schema_editor):
    """Going back: a stored plan cannot become a file again, so every import goes."""
    apps.get_model("communities", "RosterImport").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0011_invitations_lapse_resend_withdraw"),
        ("members", "0003_inactive_users_index"),
    ]

    operations = [
        migrations.RunPython(drop_unplanned_imports, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name="rosterimport",
            name="content",
        ),
        migrations.RunPython(migrations.RunPython.noop, drop_all_imports, elidable=True),
        migrations.AddField(
            model_name="rosterimport",
            name="problems",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="rosterimport",
            name="row_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="rosterimport",
            name="totals",
            field=models.JSONField(default=dict),
        ),
        migrations.CreateModel(
            name="RosterImportRow",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                ("line", models.PositiveIntegerField()),
                ("key", models.TextField(blank=True)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("add", "Add"),
                            ("change", "Change role"),
                            ("unchanged", "Unchanged"),
                            ("remove", "Remove"),
                            ("skip", "Skipped"),
                            ("error", "Error"),
                        ],
                        max_length=10,
                    ),
                ),
                ("role", models.CharField(blank=True, max_length=12)),
                ("note", models.CharField(blank=True, max_length=1000)),
                ("message", models.TextField(blank=True)),
                (
                    "member",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="members.member",
                    ),
                ),
                (
                    "roster_import",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rows",
                        to="communities.rosterimport",
                    ),
                ),
            ],
            options={
                "verbose_name": "roster import row",
                "verbose_name_plural": "roster import rows",
                "ordering": ["roster_import", "position"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("roster_import", "position"), name="roster_import_row_position"
                    )
                ],
            },
        ),
    ]
