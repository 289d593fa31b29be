"""The answer for a URL that matches no route."""

from django.http import JsonResponse
from django.views.defaults import page_not_found

# Intake's answer for an unknown key or route, in PagerDuty's shape (no hint whether a key exists).
NOT_FOUND = {"status": "not found", "message": "Not found."}


def not_found(request, exception):
    """API and intake clients read every answer as JSON, also when a malformed incident number,
    slug or key matches no route; people get the site's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    if request.path.startswith("/integrations/"):
        return JsonResponse(NOT_FOUND, status=404)
    return page_not_found(request, exception)
