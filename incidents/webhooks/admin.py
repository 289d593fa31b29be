"""Admin pages of outgoing webhooks (imported by incidents/admin.py); writes go through
webhooks.services."""

from django.contrib import admin
from django.utils.html import format_html

from incidents.intake.admin import ReadOnly
from incidents.models import WebhookDelivery, WebhookSubscription
from incidents.webhooks import services


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "url", "active"]
    list_filter = ["active", "service"]

    def save_model(self, request, obj, form, change):
        services.save_subscription(by=request.user, subscription=obj)

    def delete_model(self, request, obj):
        services.delete_subscription(by=request.user, subscription=obj)

    def delete_queryset(self, request, queryset):
        for subscription in queryset:
            services.delete_subscription(by=request.user, subscription=subscription)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly):
    list_display = ["event", "subscription", "incident", "status", "attempts", "response_code",
                    "created_at", "delivered_at"]
    list_filter = ["status", "event"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Payload")
    def payload_link(self, obj):
        return format_html("<code>{}</code>", obj.payload)
