"""The subscription pages (public, never cached: they carry a CSRF token) and the staff list of
subscribers.

Every change is a POST: link scanners fetch the GETs of links in emails, so a GET only shows a
button. The unsubscribe POST is CSRF-exempt because RFC 8058's one-click POST comes from the
mail provider without our cookie; its signed token is the authority. An invalid or expired link
gets a page saying so (404), and the subscribe form answers every address alike: whether one is
already subscribed shows only in the email its owner receives.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from comms.models import StatusPage, Subscriber, SubscriberKind, SubscriberNotice
from comms.status import notices
from comms.status.subscribe_forms import ManageForm, SubscribeForm
from config.errors import DomainError
from config.forms import keys
from config.login_throttle import client_address

SUBSCRIBE_LIMIT = 10  # accepted subscribe POSTs per client address per window
SUBSCRIBE_WINDOW = 3600  # seconds
TOO_MANY = "Too many subscriptions from your address; try again in an hour."
PER_PAGE = 50
LAST_NOTICES = 5
GET_POST = require_http_methods(["GET", "POST"])


def _render(request, template, context=None, status=200):
    return render(request, f"status/{template}.html",
                  {"page": StatusPage.load(), **(context or {})}, status=status)


def _invalid_link(request):
    return _render(request, "subscribe_invalid", {"max_days": notices.CONFIRM_MAX_AGE.days},
                   status=404)


def _over_limit(request) -> bool:
    key = f"status:subscribe:{client_address(request)}"
    cache.add(key, 0, SUBSCRIBE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, SUBSCRIBE_WINDOW)
        count = 1
    return count > SUBSCRIBE_LIMIT


# --- Public pages -------------------------------------------------------------------------------

@never_cache
@GET_POST
def subscribe(request):
    form = SubscribeForm(request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return _render(request, "subscribe", {"form": form})
    if not form.is_valid():
        return _render(request, "subscribe", {"form": form}, status=400)
    if _over_limit(request):
        form.add_error(None, TOO_MANY)
        return _render(request, "subscribe", {"form": form}, status=429)
    data = form.cleaned_data
    if data["email"]:
        notices.subscribe_email(data["email"], data["components"])
        return redirect("status:subscribe-sent")
    subscriber = notices.subscribe_webhook(data["url"], data["components"])
    # The secret is in this response only: it is never shown again.
    return _render(request, "subscribe_webhook", {"subscriber": subscriber})


@never_cache
def subscribe_sent(request):
    return _render(request, "subscribe_sent")


@never_cache
@GET_POST
def confirm(request, token):
    subscriber = notices.by_confirm_token(token)
    if subscriber is None or subscriber.kind != SubscriberKind.EMAIL:
        return _invalid_link(request)
    if request.method == "POST":
        subscriber = notices.confirm(subscriber)
    context = {"subscriber": subscriber, "token": token,
               "manage_token": notices.manage_token(subscriber)}
    return _render(request, "subscribe_confirm", context)


@never_cache
@GET_POST
def manage(request, token):
    subscriber = notices.by_manage_token(token)
    if subscriber is None:
        return _invalid_link(request)
    context = {"subscriber": subscriber, "token": token}
    if subscriber.unsubscribed_at is not None:
        return _render(request, "subscribe_manage", context)
    initial = {"components": list(subscriber.components.values_list("pk", flat=True))}
    form = ManageForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                notices.set_components(subscriber, form.cleaned_data["components"])
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                context["saved"] = True
        status = 200 if form.is_valid() else 400
    return _render(request, "subscribe_manage", {**context, "form": form}, status=status)


@never_cache
@csrf_exempt  # RFC 8058 one-click: the signed token is the authority, there is no cookie
@GET_POST
def unsubscribe(request, token):
    subscriber = notices.by_manage_token(token)
    if subscriber is None:
        return _invalid_link(request)
    if request.method == "POST":
        notices.unsubscribe(subscriber)
        subscriber.refresh_from_db()
    return _render(request, "subscribe_unsubscribe", {"subscriber": subscriber, "token": token})


# --- Staff --------------------------------------------------------------------------------------

def _counts() -> dict:
    active = Q(confirmed_at__isnull=False, unsubscribed_at=None)
    return Subscriber.objects.aggregate(
        email=Count("pk", filter=active & Q(kind=SubscriberKind.EMAIL)),
        webhook=Count("pk", filter=active & Q(kind=SubscriberKind.WEBHOOK)),
        unconfirmed=Count("pk", filter=Q(confirmed_at=None, unsubscribed_at=None)),
        unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)))


@login_required
@require_http_methods(["GET"])
def subscribers(request):
    if not request.user.has_perm("comms.view_subscriber"):
        raise PermissionDenied("Your role cannot see the status page's subscribers.")
    latest = SubscriberNotice.objects.order_by("-created_at", "-id")[:LAST_NOTICES]
    rows = Subscriber.objects.order_by("-created_at", "-id").prefetch_related(
        "components", Prefetch("notices", queryset=latest, to_attr="last_notices"))
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "status/subscribers.html", {
        "counts": _counts(), "subscribers": page,
        "can_delete": request.user.has_perm("comms.delete_subscriber")})


@login_required
@require_POST
def delete_subscriber(request, pk):
    if not request.user.has_perm("comms.delete_subscriber"):
        raise PermissionDenied("Your role cannot delete subscribers.")
    if not keys([pk]):
        raise Http404  # a key no database column can hold
    subscriber = get_object_or_404(Subscriber, pk=pk)
    notices.delete(subscriber, by=request.user)
    messages.success(request, f"Deleted the subscriber {subscriber}.")
    return redirect("status:subscribers")
