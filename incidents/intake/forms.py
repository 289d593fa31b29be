"""Forms of the service, integration, rule, maintenance and webhook pages (portal and admin)."""

from django import forms
from django.core.exceptions import ValidationError

from config.forms import formfield
from incidents.intake import rules
from incidents.models import (
    AlertRule,
    EmailDedup,
    IntegrationFormat,
    MaintenanceWindow,
    Service,
)

RULE_FIELDS = ["name", "service", "position", "enabled", "match_field", "label", "operator",
               "value", "weekdays", "start_time", "end_time", "time_zone", "action", "severity",
               "escalation_policy"]


class _OwnIds:
    """Several forms share the service page: each gets its own element ids, so labels point at
    their own inputs."""

    id_prefix = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class ServiceForm(forms.ModelForm):
    runbook_url = forms.URLField(required=False, assume_scheme="https", max_length=200)
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = Service
        fields = ["name", "slug", "description", "team", "escalation_policy", "runbook_url",
                  "auto_resolve", "group_by", "group_window_minutes", "stale_alert_days",
                  "flap_threshold", "flap_window_minutes"]


class ServiceSettingsForm(_OwnIds, ServiceForm):
    id_prefix = "settings"


class IntegrationForm(_OwnIds, forms.Form):
    id_prefix = "integration"
    name = forms.CharField(max_length=100)
    format = forms.ChoiceField(choices=[c for c in IntegrationFormat.choices
                                        if c[0] != IntegrationFormat.HEARTBEAT])
    email_dedup = forms.ChoiceField(choices=EmailDedup.choices, initial=EmailDedup.MESSAGE_ID,
                                    required=False, label="Email dedup",
                                    help_text="Email integrations only.")

    signing_secret = forms.CharField(
        max_length=128, required=False, label="Signing secret",
        widget=forms.PasswordInput(render_value=False),
        help_text="Grafana only: the contact point's HMAC secret, to refuse unsigned requests.")

    def clean_email_dedup(self):
        return self.cleaned_data["email_dedup"] or EmailDedup.MESSAGE_ID


class HeartbeatForm(_OwnIds, forms.Form):
    id_prefix = "heartbeat"
    name = forms.CharField(max_length=100)
    interval_minutes = forms.IntegerField(min_value=1, max_value=60 * 24 * 31, initial=60)
    grace_minutes = forms.IntegerField(min_value=0, max_value=24 * 60, initial=5)


class AlertRuleForm(forms.ModelForm):
    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = AlertRule
        fields = RULE_FIELDS
        widgets = {"start_time": forms.TimeInput(attrs={"type": "time"}),
                   "end_time": forms.TimeInput(attrs={"type": "time"})}

    def clean(self):
        cleaned = super().clean()
        candidate = AlertRule(**{k: v for k, v in cleaned.items() if k in RULE_FIELDS})
        try:
            rules.validate(candidate)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, errors)
        return cleaned


class MaintenanceWindowForm(_OwnIds, forms.ModelForm):
    id_prefix = "window"

    class Meta:
        formfield_callback = formfield  # relations refuse keys the database cannot hold
        model = MaintenanceWindow
        fields = ["starts_at", "ends_at", "reason"]
        widgets = {"starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
                   "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"})}
