"""``CommunityOverlap``: how many people are active in both of two communities, stored
both ways round, so profiles (connected communities) and the knowledge map read the people
communities share instead of counting them on every visit.

Filled from the memberships as they are: one ``INSERT … SELECT`` that joins the active
memberships to themselves on the person (about 3 million rows for 1,000,000 memberships;
see docs/PERFORMANCE.md for how long it takes), in community order, so that the pairs of
one community sit together. From then on the membership services keep
it (``communities.overlaps``).
"""

import django.db.models.deletion
from django.db import migrations, models

FILL = """
INSERT INTO communities_communityoverlap (community_id, other_id, shared)
SELECT a.community_id, b.community_id, COUNT(*)
FROM communities_membership a
JOIN communities_membership b ON b.member_id = a.member_id AND b.community_id <> a.community_id
WHERE a.state = 'active' AND b.state = 'active'
GROUP BY a.community_id, b.community_id
ORDER BY a.community_id, b.community_id
"""


class Migration(migrations.Migration):
    dependencies = [("communities", "0016_roster_import_mode")]

    operations = [
        migrations.CreateModel(
            name="CommunityOverlap",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("shared", models.IntegerField()),
                (
                    "community",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="communities.community",
                    ),
                ),
                (
                    "other",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="communities.community",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["community", "other", "shared"], name="overlap_of_community"
                    ),
                    models.Index(
                        condition=models.Q(("community__lt", models.F("other"))),
                        fields=["-shared", "community", "other"],
                        name="overlap_strongest",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("community", "other"), name="one_overlap_per_pair"
                    )
                ],
            },
        ),
        migrations.RunSQL(FILL, "DELETE FROM communities_communityoverlap"),
    ]
