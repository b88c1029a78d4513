"""Create the "Directory admins" group holding the manage_directory permission.

Permissions are normally created after migrations run; create this one here so
the group is complete on a fresh database.
"""

from django.db import migrations

GROUP = "Directory admins"


def create_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="communities", model="community")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="manage_directory",
        defaults={"name": "Can curate every community (directory admin)"},
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
