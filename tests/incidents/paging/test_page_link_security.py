"""Signed page links are not reusable credentials: one link per action, each acting once, only
while the paged person is active and may still act on the incident; notices carry no token;
restricted incidents' text never travels in a page. Each test failed before the fix."""

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import signing
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import remove_perm

from incidents.models import EntryKind, Page, PageAction, PagePurpose, Status
from incidents.paging import escalation, links, replies
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact, make_policy

pytestmark = pytest.mark.django_db
SITE = "http://127.0.0.1:8000"


@pytest.fixture
def ann(db):
    user = make_user("ann", "Responders")
    add_contact(user, "email", "ann@example.test")
    return user


def _paged(ann, smtp_server, **incident):
    incident = declare(escalation_policy=make_policy({"users": [ann]}), **incident)
    escalation.tick()
    [mail] = [m for m in smtp_server if "needs you" in m.get_content()]
    return incident, mail


def _link(mail, action):
    return re.search(rf"{action.capitalize()}: (http\S+)", mail.get_content()).group(1) \
        .removeprefix(SITE)


def test_each_action_has_its_own_link_and_a_link_cannot_do_the_other(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    ack, resolve = _link(mail, "acknowledge"), _link(mail, "resolve")
    ack_token, resolve_token = ack.split("/")[-3], resolve.split("/")[-3]
    assert ack_token != resolve_token
    swapped = reverse("paging:page-action", args=[ack_token, "resolve"])
    response = client.post(swapped)
    assert response.status_code == 400 and b"not valid" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_a_used_link_cannot_act_again_even_after_the_state_allows_it(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    resolve = _link(mail, "resolve")
    assert client.post(resolve).status_code == 200
    client.force_login(ann)
    client.post(reverse("incidents:transition", args=[incident.pk]),
                {"status": "investigating", "confirm": "on"})
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING  # reopened: resolving is possible again
    client.logout()
    again = client.post(resolve)
    assert again.status_code == 403 and b"already been used" in again.content
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert PageAction.objects.filter(action="resolve").count() == 1


def test_a_deactivated_user_can_no_longer_act_through_an_old_link(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    ann.is_active = False
    ann.save()
    response = client.post(_link(mail, "resolve"))
    assert response.status_code == 403 and b"no longer act" in response.content
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert not PageAction.objects.exists()


def test_a_user_removed_from_every_group_can_no_longer_act(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    ann.groups.clear()
    response = client.post(_link(mail, "acknowledge"))
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_a_revoked_grant_on_a_restricted_incident_stops_the_link(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server, restricted=True)
    remove_perm("view_incident", ann, incident)
    response = client.post(_link(mail, "resolve"))
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_an_email_reply_also_rechecks_the_person(ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    ann.groups.remove(Group.objects.get(name="Responders"))
    raw = (f"From: Ann <ann@example.test>\nTo: {mail['Reply-To']}\nSubject: Re: page\n\nack\n"
           .encode())
    with pytest.raises(replies.ReplyError, match="no longer act"):
        replies.handle_reply(raw)
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_notices_carry_no_token_that_can_act(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    client.post(_link(mail, "acknowledge"))
    escalation.tick(timezone.now() + timedelta(minutes=2))  # past the method's throttle
    [notice] = [m for m in smtp_server if "acknowledged" in m["Subject"]]
    body = notice.get_content()
    assert "/pages/" not in body and "Acknowledge:" not in body and "Resolve:" not in body
    assert notice["Reply-To"] is None
    assert "+" not in notice["Message-ID"] and "relay.page-link" not in body
    with pytest.raises(signing.BadSignature):
        links.page_for_message_id(notice["Message-ID"])
    notice_page = Page.objects.get(purpose=PagePurpose.ACKNOWLEDGED)
    forged = links.token_for(notice_page, "resolve")  # even a valid signature on a notice
    response = client.post(reverse("paging:page-action", args=[forged, "resolve"]))
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


def test_the_reply_token_is_not_a_link(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server)
    reply_token = links.reply_token(Page.objects.get(incident=incident)).replace("=", ":")
    response = client.post(reverse("paging:page-action", args=[reply_token, "acknowledge"]))
    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_expiry_stays_configurable(client, ann, smtp_server, settings):
    incident, mail = _paged(ann, smtp_server)
    settings.RELAY_PAGE_LINK_HOURS = 0
    response = client.post(_link(mail, "acknowledge"))
    assert response.status_code == 400 and b"expired" in response.content


def test_restricted_text_never_travels_in_a_page_or_its_confirmation(client, ann, smtp_server):
    incident, mail = _paged(ann, smtp_server, title="Breach of payroll database",
                            description="Attacker has payroll", restricted=True)
    assert "payroll" not in mail["Subject"].lower()
    assert "payroll" not in mail.get_content().lower()
    assert incident.reference in mail["Subject"]
    confirmation = client.get(_link(mail, "acknowledge")).content.decode()
    assert "payroll" not in confirmation.lower() and "restricted incident" in confirmation
    grant = incident.timeline.get(kind=EntryKind.RESTRICTION)
    assert grant.data["reason"] == "paged" and grant.new_value == "ann"
    assert client.post(_link(mail, "acknowledge")).status_code == 200  # granted by the page
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


@pytest.mark.django_db(transaction=True)
def test_two_racing_clicks_act_once(ann, smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("parallel writers: PostgreSQL only (CI runs the suite on both)")
    incident, mail = _paged(ann, smtp_server)
    url = _link(mail, "resolve")
    codes = []

    def click():
        codes.append(Client().post(url).status_code)
        connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 403, 403, 403]
    assert incident.timeline.filter(kind=EntryKind.STATUS, new_value="resolved").count() == 1
