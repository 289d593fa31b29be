"""Pages of paging: a page's signed link (GET asks, POST acts), "My on-call" with the pages I
received, and the endpoint the mail system posts replies to page emails to."""

import secrets

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.errors import DomainError, NotAllowed
from incidents import permissions, queries, services
from incidents.models import Page
from incidents.paging import links, replies
from oncall import permissions as oncall_permissions
from oncall import schedules as oncall_schedules


@require_http_methods(["GET", "POST"])
def page_action(request, token, action):
    if action not in links.ACTIONS:
        raise Http404("No such action.")
    try:
        page = links.page_for_token(token, action)
    except signing.SignatureExpired:
        return _page_link_error(request, "This link has expired. Open the incident instead.")
    except (signing.BadSignature, ValueError, KeyError, TypeError, Page.DoesNotExist):
        return _page_link_error(request, "This link is not valid.")
    context = {"page": page, "incident": page.incident, "action": action, "done": False}
    if request.method == "POST":
        try:
            services.act_on_page(page, action, actor_label="page link")
        except NotAllowed as error:
            context["error"] = error.message
            return render(request, "incidents/page_action.html", context, status=403)
        except (DomainError, ValidationError) as error:
            context["error"] = getattr(error, "message", None) or "; ".join(error.messages)
            return render(request, "incidents/page_action.html", context, status=409)
        context["done"] = True
    return render(request, "incidents/page_action.html", context)


def _page_link_error(request, message):
    return render(request, "incidents/page_action.html", {"error": message}, status=400)


MY_PAGES = 50


@login_required
@require_GET
def my_oncall(request):
    """My upcoming shifts and the pages I received (of incidents I can see), with acknowledge."""
    if not oncall_permissions.can_view(request.user):
        raise PermissionDenied("Your account has no role yet; ask an admin to add you to one.")
    now = timezone.now()
    visible = permissions.visible_incidents(request.user)
    pages = list(Page.objects.filter(user=request.user, purpose="page", incident__in=visible)
                 .select_related("incident").order_by("-created_at")[:MY_PAGES])
    mine = queries.annotate_rows(
        queries.filter_incidents(request.user, status="open", mine=True)[:MY_PAGES])
    feed = oncall_schedules.calendar_feed(request.user)
    return render(request, "incidents/my_oncall.html", {
        "shifts": oncall_schedules.shifts_of(request.user, now, now + oncall_schedules.HORIZON),
        "pages": pages,
        "my_incidents": mine,
        "row_extras": queries.ROW_EXTRAS,
        "can_edit": permissions.can_edit(request.user),
        "calendar_url": request.build_absolute_uri(
            reverse("oncall:user-calendar", args=[request.user.pk]) + f"?token={feed.token}"),
    })


@csrf_exempt  # called by the mail system, authenticated by the shared secret instead
@require_POST
def email_reply(request):
    """Inbound replies to page emails: the raw RFC 822 message as the request body."""
    secret = settings.RELAY_INBOUND_EMAIL_SECRET
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not secret or not secrets.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "Missing or wrong Authorization: Bearer <secret>."},
                            status=403)
    try:
        result = replies.handle_reply(request.body)
    except replies.ReplyError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"status": result.action, "incident": result.page.incident.reference,
                         "message": result.summary})
