import pytest
from django.contrib import admin
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
