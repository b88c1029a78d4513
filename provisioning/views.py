"""The directory admins' provisioning page: SCIM tokens (made, shown once, revoked) and
the groups identity providers push (each a department, or linked to a knowledge
community's list)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import access, selectors, services
from .forms import GroupLinkForm, TokenForm


def _overview(request, **extra):
    context = {**selectors.provisioning_overview(), "token_form": TokenForm(), **extra}
    context["groups"] = [
        (group, GroupLinkForm(initial={"community": group.community}, prefix=f"g{group.pk}"))
        for group in context["groups"]
    ]
    return render(request, "provisioning/provisioning.html", context)


def provisioning_overview(request):
    access.require_provisioning_admin(request.user)
    return _overview(request)


@require_POST
def token_create(request):
    access.require_provisioning_admin(request.user)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _overview(request, token_form=form)
    token, value = services.create_token(name=form.cleaned_data["name"], created_by=request.user)
    # Rendered, never redirected: the value is in this response only.
    return render(request, "provisioning/token_created.html", {"token": token, "value": value})


def token_revoke(request, pk):
    token = access.token_for_revoking(request.user, pk)
    if request.method == "POST":
        services.revoke_token(token=token)
        messages.success(request, _("The token “%s” no longer works.") % token.name)
        return redirect("provisioning:provisioning_overview")
    return render(request, "provisioning/token_revoke.html", {"token": token})


@require_POST
def group_link(request, pk):
    group = access.group_for_linking(request.user, pk)
    form = GroupLinkForm(request.POST, prefix=f"g{group.pk}")
    if form.is_valid():
        try:
            services.link_group(group=group, community=form.cleaned_data["community"])
        except services.ProvisioningError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Saved the link of the group “%s”.") % group.display_name)
    else:
        messages.error(request, _("Choose a knowledge community from the list."))
    return redirect("provisioning:provisioning_overview")
