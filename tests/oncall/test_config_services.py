"""On-call configuration is written through oncall.services from the admin, inline rows
included, and the rules of the models hold whichever path writes."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from oncall import services
from oncall.models import ContactMethod, EscalationStep, Layer, Override
from tests.oncall.conftest import make_policy, make_schedule

pytestmark = pytest.mark.django_db

SPIED = ("save_schedule", "save_layer", "save_layer_member", "save_override", "save_policy",
         "save_step", "save_contact_method", "save_notification_rule", "delete_configuration")


@pytest.fixture
def calls(monkeypatch):
    recorded = []

    def spy(name):
        real = getattr(services, name)

        def wrapper(**kwargs):
            recorded.append(name)
            return real(**kwargs)
        monkeypatch.setattr(services, name, wrapper)

    for name in SPIED:
        spy(name)
    return recorded


@pytest.fixture
def superuser(admin_user, client):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return admin_user


def _post(client, url, data):
    """POST an admin add/change page with its inline management forms filled in."""
    page = client.get(url)
    full = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        full.update({management.add_prefix(name): management[name].value()
                     for name in management.fields})
    full.update(data)
    return client.post(url, full)


# --- layers: both ends of a daily window or none ------------------------------------------------


def test_layer_rule_holds_in_the_service():
    layer = Layer(schedule=make_schedule(), name="Day", start_date=datetime(2026, 1, 5).date(),
                  handoff_time=time(9))
    with pytest.raises(ValidationError) as error:
        services.save_layer(by=None, layer=layer, restrict_start=time(8))
    assert list(error.value.message_dict) == ["restrict_end"]
    assert not Layer.objects.exists()


def test_layer_rule_holds_in_the_admin_and_a_good_layer_goes_through_the_service(
        client, superuser, calls):
    schedule = make_schedule()
    data = {"schedule": schedule.pk, "name": "Day", "rank": 0, "start_date": "2026-01-05",
            "handoff_time": "09:00", "turn_unit": "weeks", "turn_length": 1,
            "restrict_start": "08:00", "restrict_weekdays": "[]"}
    response = _post(client, reverse("admin:oncall_layer_add"), data)
    assert response.status_code == 200
    assert "Give both ends of the daily window, or none." in response.content.decode()
    assert not Layer.objects.exists()
    response = _post(client, reverse("admin:oncall_layer_add"), {**data, "restrict_start": ""})
    assert response.status_code == 302
    assert calls == ["save_layer"]


# --- policies and their steps -------------------------------------------------------------------


def test_admin_saves_a_policy_and_its_steps_through_the_services(client, superuser, calls,
                                                                 responder):
    url = reverse("admin:oncall_escalationpolicy_add")
    page = client.get(url)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    response = _post(client, url, {
        "name": "Checkout", "repeat": 0,
        f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-0-position": 0,
        f"{prefix}-0-delay_minutes": 5, f"{prefix}-0-users": [responder.pk]})
    assert response.status_code == 302
    assert calls == ["save_policy", "save_step"]
    step = EscalationStep.objects.get()
    assert list(step.users.all()) == [responder]  # targets saved after the step


def test_admin_deletes_a_policy_through_the_service(client, superuser, calls):
    policy = make_policy({"delay": 5})
    url = reverse("admin:oncall_escalationpolicy_delete", args=[policy.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert calls == ["delete_configuration"]


def test_step_delay_rule_holds_in_the_service():
    policy = services.save_policy(by=None, policy=make_policy(name="Empty"))
    with pytest.raises(ValidationError) as error:
        services.save_step(by=None, step=EscalationStep(policy=policy, position=0),
                           delay_minutes=0)
    assert "delay_minutes" in error.value.message_dict


# --- contact methods: an address its kind can reach ---------------------------------------------


def test_contact_method_rule_holds_in_the_service(responder, settings):
    settings.RELAY_OUTBOUND_ALLOW = ()
    with pytest.raises(ValidationError) as error:
        services.save_contact_method(by=None, method=ContactMethod(user=responder),
                                     kind="slack", address="http://127.0.0.1:5432/")
    assert list(error.value.message_dict) == ["address"]
    assert not ContactMethod.objects.exists()


def test_admin_saves_contact_methods_through_the_service(client, superuser, calls, responder):
    response = _post(client, reverse("admin:oncall_contactmethod_add"), {
        "user": responder.pk, "kind": "email", "address": "r@example.test", "enabled": "on"})
    assert response.status_code == 302
    assert calls == ["save_contact_method"]


# --- overrides: at most 90 days -----------------------------------------------------------------


def test_override_rule_holds_in_the_portal_service_and_the_admin(client, superuser, calls,
                                                                 responder):
    schedule = make_schedule()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError):
        services.create_override(schedule, user=responder, start=start,
                                 end=start + timedelta(days=91))
    with pytest.raises(ValidationError):
        services.save_override(by=None, override=Override(
            schedule=schedule, user=responder, start=start, end=start + timedelta(days=91)))
    data = {"schedule": schedule.pk, "user": responder.pk,
            "start_0": "2030-01-01", "start_1": "00:00",
            "end_0": "2030-04-05", "end_1": "00:00"}
    response = _post(client, reverse("admin:oncall_override_add"), data)
    assert response.status_code == 200
    assert "A period can cover at most 90 days." in response.content.decode()
    assert not Override.objects.exists()
    response = _post(client, reverse("admin:oncall_override_add"), {**data, "end_0": "2030-01-02"})
    assert response.status_code == 302
    assert Override.objects.get().created_by == superuser
    assert calls == ["save_override", "save_override"]  # the direct call, then the admin's
