from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from incidents import permissions


@login_required
@require_GET
def incident_panel(request, number):
    """The incident page's SLA panel (loaded by htmx beside the timeline)."""
    incident = permissions.get_visible_incident(request.user, number)
    return render(request, "comms/sla/incident_panel.html", {"incident": incident})
