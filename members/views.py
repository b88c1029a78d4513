from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .forms import ProfileForm


def profile_edit(request):
    form = ProfileForm(request.POST or None, instance=request.member)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect(request.member)
    return render(request, "members/profile_edit.html", {"form": form})
