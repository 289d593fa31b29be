"""Webhook subscriptions are written through webhooks.services from the portal and the admin,
and the outbound-address rule holds on every path."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from incidents.models import WebhookSubscription
from incidents.webhooks import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(monkeypatch):
    recorded = []

    def spy(name):
        real = getattr(services, name)

        def wrapper(**kwargs):
            recorded.append((name, kwargs["by"]))
            return real(**kwargs)
        monkeypatch.setattr(services, name, wrapper)

    spy("save_subscription")
    spy("delete_subscription")
    return recorded


@override_settings(RELAY_OUTBOUND_ALLOW=())
def test_local_url_is_refused_by_the_service():
    with pytest.raises(ValidationError) as error:
        services.save_subscription(by=None, subscription=WebhookSubscription(),
                                   name="scan", url="http://127.0.0.1:6379/", secret="x")
    assert list(error.value.message_dict) == ["url"]
    assert not WebhookSubscription.objects.exists()


def test_portal_subscribes_through_the_service(client, responder, calls):
    client.force_login(responder)
    response = client.post("/webhooks/", {"name": "chat", "url": "https://hooks.example.test/x",
                                          "secret": "s", "active": "on"})
    assert response.status_code == 302
    assert calls == [("save_subscription", responder)]
    assert WebhookSubscription.objects.get().url == "https://hooks.example.test/x"


def test_admin_saves_and_deletes_through_the_service(client, admin_user, calls):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    response = client.post(reverse("admin:incidents_webhooksubscription_add"), {
        "name": "chat", "url": "https://hooks.example.test/x", "secret": "s",
        "events": '["incident.declared"]', "active": "on"})
    assert response.status_code == 302
    subscription = WebhookSubscription.objects.get()
    url = reverse("admin:incidents_webhooksubscription_delete", args=[subscription.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert calls == [("save_subscription", admin_user), ("delete_subscription", admin_user)]
    assert not WebhookSubscription.objects.exists()
