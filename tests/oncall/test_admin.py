import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from incidents.models import EscalationRun, Page
from oncall.models import (
    CalendarFeed,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    HandoffNotice,
    Layer,
    LayerMember,
    NotificationRule,
    Override,
    Schedule,
    Swap,
)

MODELS = [CalendarFeed, ContactMethod, EscalationPolicy, EscalationStep, HandoffNotice, Layer,
          LayerMember, NotificationRule, Override, Schedule, Swap, EscalationRun, Page]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_admin_lists_every_on_call_model(client, admin_user, model):
    if model is EscalationStep:  # edited inline on its policy
        assert any(i.model is EscalationStep
                   for i in admin.site._registry[EscalationPolicy].inlines)
        return
    client.force_login(admin_user)
    meta = model._meta
    response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert response.status_code == 200


def test_escalation_state_is_read_only_in_admin(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("admin:incidents_page_add")).status_code == 403
    assert client.get(reverse("admin:incidents_escalationrun_add")).status_code == 403


@override_settings(RELAY_OUTBOUND_ALLOW=())
@pytest.mark.parametrize("kind", ["webhook", "slack"])
@pytest.mark.parametrize("address", ["http://localhost:8080/", "http://10.0.0.5/hook",
                                     "http://[fe80::1]/", "file:///etc/passwd"])
def test_contact_method_refuses_local_and_non_http_urls(admin_user, kind, address):
    method = ContactMethod(user=admin_user, kind=kind, address=address)
    with pytest.raises(ValidationError) as caught:
        method.full_clean()
    assert list(caught.value.message_dict) == ["address"]


def test_contact_method_admin_shows_the_refusal(client, admin_user, settings):
    settings.RELAY_OUTBOUND_ALLOW = ()
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(reverse("admin:oncall_contactmethod_add"), {
        "user": admin_user.pk, "kind": "slack", "address": "http://127.0.0.1:5432/",
        "enabled": "on"})
    assert "Relay does not send to private or local addresses." in response.content.decode()
    assert not ContactMethod.objects.exists()
