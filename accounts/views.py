from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import timezones
from accounts.forms import SettingsForm
from accounts.models import Profile


@login_required
@require_http_methods(["GET", "POST"])
def settings_view(request):
    """A person's own settings: for now the time zone every page uses."""
    current = timezones.profile_zone_name(request.user)
    form = SettingsForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST":
        if form.is_valid():
            name = form.cleaned_data["time_zone"]
            with transaction.atomic():
                Profile.objects.update_or_create(user=request.user,
                                                 defaults={"time_zone": name})
            timezones.remember(request, name)
            messages.success(request, f"Times are now shown in {name or 'your browser’s zone'}.")
            return redirect("accounts:settings")
        return render(request, "accounts/settings.html", {"form": form}, status=400)
    return render(request, "accounts/settings.html", {"form": form})
