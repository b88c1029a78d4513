"""The membership rule page: stewards and directory admins give a community a rule over
people's department, job title and location, preview what it would change, then save
and apply it."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from . import access, rules, services
from .forms import MembershipRuleForm
from .models import MembershipRule


def community_rules(request, slug):
    """GET shows the rule; POST "preview" shows what it would change, POST "apply"
    (confirmed) saves and applies it, POST "remove" takes it away (people stay)."""
    community = access.community_for_steward(request.user, slug)
    rule = MembershipRule.objects.filter(community=community).first()
    action = request.POST.get("action", "")
    if request.method == "POST" and action == "remove":
        services.remove_rule(community=community)
        messages.success(request, _("The rule is removed; its people stay members."))
        return redirect("communities:community_rules", community.slug)
    form = MembershipRuleForm(request.POST or None, rule=rule)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if action == "apply" and not data["confirm"]:
            form.add_error("confirm", _("Tick the box to confirm, then save and apply."))
        elif action == "apply":
            try:
                _rule, outcome = services.save_rule(
                    community=community,
                    name=data["name"],
                    mode=data["mode"],
                    groups=data["groups"],
                    member=request.member,
                )
            except services.ServiceError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    _("Rule saved: %(added)d added, %(removed)d removed, %(kept)d kept.")
                    % {
                        "added": len(outcome.added),
                        "removed": len(outcome.removed),
                        "kept": len(outcome.kept),
                    },
                )
                return redirect("communities:community_rules", community.slug)
        preview = rules.preview(community, groups=data["groups"], mode=data["mode"])
    return render(
        request,
        "communities/community_rules.html",
        {"community": community, "rule": rule, "form": form, "preview": preview},
    )
