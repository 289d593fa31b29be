"""Admin registrations of this area (comms/admin.py imports them). Messages change state only
through comms.messages.services, so the admin shows them read-only; templates are saved through
the same function as the templates page (placeholders checked)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from comms.messages import drafts
from comms.models import CustomerMessage, MessageDelivery, MessageTemplate, UpdateCadence
from incidents.admin import ReadOnlyAdmin


@admin.register(CustomerMessage)
class CustomerMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "incident", "phase", "subject", "state", "author", "published_at"]
    list_filter = ["state", "phase"]
    search_fields = ["subject"]


@admin.register(MessageDelivery)
class MessageDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "message", "email", "status", "attempts", "last_error"]
    list_filter = ["status"]


@admin.register(UpdateCadence)
class UpdateCadenceAdmin(ReadOnlyAdmin):
    list_display = ["incident", "minutes", "due_at", "reminded_for", "set_by"]


class TemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["phase", "subject", "body"]

    def clean(self):
        data = super().clean()
        for name in ("subject", "body"):
            problems = drafts.check_placeholders(data.get(name) or "")
            if problems:
                self.add_error(name, ValidationError(problems))
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ["phase", "subject", "updated_at"]

    def save_model(self, request, obj, form, change):
        saved = drafts.save_template(by=request.user, phase=obj.phase, subject=obj.subject,
                                     body=obj.body)
        obj.pk = saved.pk
