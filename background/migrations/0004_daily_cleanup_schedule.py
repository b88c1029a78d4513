"""Every day: delete sent emails and finished jobs older than 30 days."""

from django.db import migrations

NAME = "Delete old sent emails and finished jobs"


def create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "background.tasks.delete_old_records",
            "schedule_type": "D",  # daily
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("background", "0003_job")]

    operations = [migrations.RunPython(create, remove)]
