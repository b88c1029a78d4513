"""The worker runs the daily commands: lapse unanswered invitations, delete stale roster
imports, end memberships whose end date passed (with their reminders), start and
escalate reviews, and apply every membership rule again (django-q schedules; the Django admin lists them under Task queue)."""

from datetime import timedelta

from django.db import migrations
from django.utils import timezone

SCHEDULES = {
    "Lapse unanswered invitations": ("lapse_invitations", 15),
    "Delete roster imports older than a day": ("clear_stale_imports", 30),
    "End memberships whose end date passed, and remind": ("expire_memberships", 45),
    "Start scheduled reviews and escalate overdue ones": ("run_reviews", 50),
    "Apply every membership rule again": ("evaluate_rules", 55),
}


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    tomorrow = timezone.now() + timedelta(days=1)
    for name, (command, minute) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": "django.core.management.call_command",
                "args": repr(command),
                "schedule_type": "D",  # daily, from the first run below
                "repeats": -1,
                "next_run": tomorrow.replace(hour=3, minute=minute, second=0, microsecond=0),
            },
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0024_reviews"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
