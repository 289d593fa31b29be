"""Portal pages of outgoing webhooks: subscriptions, their delivery log and a test button."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.forms import add_errors
from incidents import permissions
from incidents.models import WebhookSubscription
from incidents.webhooks import outbox, services
from incidents.webhooks.forms import WebhookForm


def _require_view(user) -> None:
    if not permissions.can_view_intake(user):
        raise PermissionDenied("Your role cannot see outgoing webhooks.")


def _require_manage(user) -> None:
    if not permissions.can_manage_intake(user):
        raise PermissionDenied("Your role cannot change outgoing webhooks.")


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request):
    _require_view(request.user)
    form = WebhookForm(request.POST or None)
    if request.method == "POST":
        _require_manage(request.user)
        if form.is_valid() and _save(form, request.user):
            return redirect("webhooks:webhook", pk=form.instance.pk)
    return render(request, "incidents/webhooks.html", {
        "subscriptions": WebhookSubscription.objects.select_related("service"),
        "form": form, "can_manage": permissions.can_manage_intake(request.user),
    }, status=400 if form.errors else 200)


def _save(form, user) -> bool:
    try:
        services.save_subscription(by=user, subscription=form.instance, **form.cleaned_data)
    except ValidationError as error:
        add_errors(form, error)
        return False
    return True


@login_required
@require_GET
def webhook_detail(request, pk):
    _require_view(request.user)
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    return render(request, "incidents/webhook.html", {
        "subscription": subscription,
        "deliveries": permissions.visible_alerts(
            request.user, subscription.deliveries.all())[:100],
        "can_manage": permissions.can_manage_intake(request.user),
    })


@login_required
@require_POST
def webhook_test(request, pk):
    _require_manage(request.user)
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    outbox.send_test(subscription)
    return redirect("webhooks:webhook", pk=subscription.pk)
