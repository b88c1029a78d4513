"""An index of each community's active sponsor and stewards holding what a directory card
shows of them (role and member), so a page of cards reads its leaders from the index
alone (PostgreSQL; SQLite makes it without the included columns)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("communities", "0020_membership_department")]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                condition=models.Q(("role__in", ["sponsor", "steward"]), ("state", "active")),
                fields=["community"],
                include=("id", "role", "member"),
                name="membership_leaders",
            ),
        ),
    ]
