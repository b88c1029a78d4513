from django.core.management.base import BaseCommand, CommandError

from communities import services
from communities.models import MembershipRule


class Command(BaseCommand):
    help = (
        "Apply every community's membership rule to everyone (run nightly): add the "
        "people it matches, and take off those it no longer does. Safe to run at any "
        "time: a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--community", metavar="SLUG", help="only this community's rule")

    def handle(self, *args, community=None, **options):
        rules = MembershipRule.objects.select_related("community").order_by("community__slug")
        if community:
            rules = rules.filter(community__slug=community)
            if not rules.exists():
                raise CommandError(f"No membership rule for a community {community!r}.")
        rules = list(rules)
        for number, rule in enumerate(rules, start=1):
            outcome = services.evaluate_rule(rule=rule)
            line = (
                f"[{number}/{len(rules)}] {rule.community.slug} ({rule.name}): "
                f"{len(outcome.added)} added, {len(outcome.removed)} removed"
            )
            if outcome.kept:
                line += f", {len(outcome.kept)} kept (last steward or sponsor)"
            self.stdout.write(line)
        self.stdout.write(f"Membership rules: {len(rules)} applied.")
