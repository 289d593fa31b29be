"""The communication log panel, its forms and the templates page."""

import pytest
from django.urls import reverse

from comms.messages import services
from comms.models import CustomerMessage, MessageState, MessageTemplate, UpdateCadence
from incidents.models import EntryKind

HTMX = {"HTTP_HX_REQUEST": "true"}


def _panel(incident):
    return reverse("messages:incident-panel", args=[incident.pk])


def _draft(incident, by, **kwargs):
    return services.draft(incident, by=by, **{"phase": "investigating", "subject": "Slow checkout",
                                              "body": "We are looking into it.", **kwargs})


def test_panel_shows_the_log_with_people_and_deliveries(
        client, incident, csm, responder, customer, django_capture_on_commit_callbacks,
        django_assert_max_num_queries, smtp_server):
    message = _draft(incident, responder)
    services.submit(message, by=responder)
    with django_capture_on_commit_callbacks(execute=True):
        services.publish(message, by=csm)
    _draft(incident, csm, subject="Next update <b>bold</b>")
    client.force_login(csm)
    with django_assert_max_num_queries(10):
        response = client.get(_panel(incident), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="messages-panel"' in html and "<html" not in html
    assert "Contact 1 &lt;ops@acme.test&gt;" in html
    assert html.count('class="tag delivery-status">delivered<') == 2
    assert "responder" in html and "Published</dt><dd>csm" in html
    assert "Next update &lt;b&gt;bold&lt;/b&gt;" in html
    assert 'data-countdown-to="' in html


def test_panel_query_count_does_not_grow_with_messages(
        client, incident, csm, csm2, customer, django_capture_on_commit_callbacks,
        django_assert_max_num_queries, smtp_server):
    for number in range(6):
        with django_capture_on_commit_callbacks(execute=True):
            services.publish(_draft(incident, csm, subject=f"Update {number}"), by=csm)
    _draft(incident, csm)
    _draft(incident, csm2, subject="Competing")
    client.force_login(csm)
    with django_assert_max_num_queries(10):
        html = client.get(_panel(incident), **HTMX).content.decode()
    assert html.count('class="message state-published') == 6
    assert html.count("Conflict: another draft is open") == 2
    assert 'id="draft-conflict"' in html


def test_full_page_without_htmx(client, incident, csm):
    client.force_login(csm)
    response = client.get(_panel(incident))
    assert b"<html" in response.content and b"Customer communication" in response.content


def test_restricted_incident_is_404_for_outsiders(client, restricted_incident, csm, commander):
    message = _draft(restricted_incident, commander)
    client.force_login(csm)
    assert client.get(_panel(restricted_incident)).status_code == 404
    assert client.post(reverse("messages:act", args=[message.pk, "discard"])).status_code == 404
    assert client.post(reverse("messages:edit", args=[message.pk]), {}).status_code == 404
    assert client.post(reverse("messages:new", args=[restricted_incident.pk]),
                       {}).status_code == 404
    assert client.post(reverse("messages:cadence", args=[restricted_incident.pk]),
                       {"minutes": 30}).status_code == 404
    client.force_login(commander)
    assert client.get(_panel(restricted_incident)).status_code == 200


def test_new_draft_through_the_panel(client, incident, responder):
    client.force_login(responder)
    response = client.post(reverse("messages:new", args=[incident.pk]), {
        "phase": "investigating", "subject": "Checkout slow", "body": "Looking into it.",
        "to_customers": "on"}, **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "relay:changed"
    message = CustomerMessage.objects.get()
    assert (message.author, message.subject) == (responder, "Checkout slow")
    assert "Checkout slow" in response.content.decode()


def test_new_draft_errors_beside_their_field(client, incident, csm):
    client.force_login(csm)
    response = client.post(reverse("messages:new", args=[incident.pk]), {
        "phase": "investigating", "subject": "Only the status page?", "body": "Text"}, **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose at least one audience" in html
    assert not CustomerMessage.objects.exists()


def test_auditor_gets_403_and_no_forms(client, incident, auditor, csm):
    message = _draft(incident, csm)
    client.force_login(auditor)
    html = client.get(_panel(incident), **HTMX).content.decode()
    assert "Slow checkout" in html
    assert "Save draft" not in html and "Publish" not in html and "Discard" not in html
    assert client.post(reverse("messages:new", args=[incident.pk]), {}).status_code == 403
    assert client.post(reverse("messages:act", args=[message.pk, "publish"])).status_code == 403
    assert client.get(reverse("messages:act", args=[message.pk, "publish"])).status_code == 405


def test_guard_error_is_shown_beside_the_message(client, incident, csm):
    message = _draft(incident, csm)
    client.force_login(csm)
    response = client.post(reverse("messages:act", args=[message.pk, "publish"]), **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "No affected customer has a contact who receives updates" in html
    assert f'id="message-{message.pk}"' in html
    message.refresh_from_db()
    assert message.state == MessageState.DRAFT


def test_stale_edit_shows_their_text_and_keeps_yours(client, incident, csm, csm2):
    message = _draft(incident, csm)
    services.edit(message, by=csm2, version=1, body="Their newer text.")
    client.force_login(csm)
    response = client.post(reverse("messages:edit", args=[message.pk]), {
        "phase": "investigating", "subject": "Slow checkout", "body": "My older text.",
        "to_customers": "on", "version": "1"}, **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Someone else changed this message" in html
    assert "Their newer text." in html and "My older text." in html
    assert 'name="version" value="2"' in html
    message.refresh_from_db()
    assert message.body == "Their newer text."


def test_publish_through_the_panel(client, incident, csm, customer, smtp_server):
    message = _draft(incident, csm)
    client.force_login(csm)
    response = client.post(reverse("messages:act", args=[message.pk, "publish"]))
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == MessageState.PUBLISHED
    assert incident.timeline.filter(kind=EntryKind.MESSAGE_PUBLISHED).count() == 1


def test_cadence_form(client, incident, csm, responder):
    client.force_login(responder)
    assert client.post(reverse("messages:cadence", args=[incident.pk]),
                       {"minutes": 30}).status_code == 403
    client.force_login(csm)
    response = client.post(reverse("messages:cadence", args=[incident.pk]), {"minutes": 2},
                           **HTMX)
    assert response.status_code == 400 and "greater than or equal to 5" in response.content.decode()
    response = client.post(reverse("messages:cadence", args=[incident.pk]), {"minutes": 45},
                           **HTMX)
    assert response.status_code == 200 and "every 45 min" in response.content.decode()
    assert UpdateCadence.objects.get(incident=incident).minutes == 45


def test_templates_page_refuses_unknown_placeholders(client, csm, responder):
    client.force_login(responder)
    assert client.get(reverse("messages:templates")).status_code == 403
    client.force_login(csm)
    page = client.get(reverse("messages:templates")).content.decode()
    assert "{next_update}" in page and "Investigating: {services} disruption" in page
    url = reverse("messages:template", args=["investigating"])
    response = client.post(url, {"subject": "Update on {servces}", "body": "{updates}"})
    assert response.status_code == 400
    assert "Unknown placeholder {servces}" in response.content.decode()
    assert client.post(url, {"subject": "{incident.__class__}", "body": "x"}).status_code == 400
    assert not MessageTemplate.objects.exists()
    response = client.post(url, {"subject": "Update on {services}", "body": "{updates}"})
    assert response.status_code == 302
    assert MessageTemplate.objects.get(phase="investigating").subject == "Update on {services}"


@pytest.mark.parametrize("action", ["submit", "approve", "publish", "discard"])
def test_unknown_message_is_404(client, csm, action):
    client.force_login(csm)
    assert client.post(reverse("messages:act", args=[999, action])).status_code == 404
