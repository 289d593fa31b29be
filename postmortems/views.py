from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from incidents import permissions


@login_required
@require_GET
def incident_panel(request, number):
    permissions.get_visible_incident(request.user, number)
    return HttpResponse("")
