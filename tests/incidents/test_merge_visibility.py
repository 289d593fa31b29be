"""Merging never shows a reader an incident hidden from them: not its number (page header,
timeline, API `merged_into` and timeline entries) and not its title. Each test failed before the
fix: "Merged into INC-9" and the merged incident's title were shown to everyone."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from incidents import permissions, services
from incidents.models import EntryKind, Severity
from tests.conftest import declare, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def insider(commander):
    return commander  # declared the restricted incidents below: granted


@pytest.fixture
def reader(db):
    return make_user("reader", "Responders")


def _names(html: str, incident) -> bool:
    return bool(re.search(rf"{incident.reference}(?!\d)", html)) or \
        f"/incidents/{incident.pk}/" in html


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_public_incident_merged_into_a_restricted_one_hides_the_target(client, insider, reader):
    public = declare(by=insider, title="Login errors")
    secret = declare(by=insider, title="Credential stuffing on login", restricted=True)
    services.merge(public, into=secret, by=insider)

    client.force_login(reader)
    html = client.get(reverse("incidents:detail", args=[public.pk])).content.decode()
    assert not _names(html, secret) and "Credential stuffing" not in html
    assert "Merged into a restricted incident" in html
    assert "merged this incident into a restricted incident" in html

    body = _api(reader).get(f"/api/v1/incidents/{public.pk}/").json()
    assert body["status"] == "merged" and body["merged_into"] is None
    listed = _api(reader).get("/api/v1/incidents/?status=all").json()["results"]
    assert [i["merged_into"] for i in listed if i["number"] == public.pk] == [None]
    entries = _api(reader).get(f"/api/v1/incidents/{public.pk}/timeline/").json()["results"]
    merged = [e for e in entries if e["kind"] == EntryKind.MERGED_INTO]
    assert merged[0]["new_value"] == "" and merged[0]["data"] == {"restricted": True}

    insider_body = _api(insider).get(f"/api/v1/incidents/{public.pk}/").json()
    assert insider_body["merged_into"] == secret.pk
    client.force_login(insider)
    html = client.get(reverse("incidents:detail", args=[public.pk])).content.decode()
    assert f"Merged into <a href=\"/incidents/{secret.pk}/\">{secret.reference}</a>" in html


def test_restricted_incident_merged_into_a_visible_one_leaves_no_title(client, insider, reader):
    secret = declare(by=insider, title="Payroll export leaked", restricted=True)
    survivor = declare(by=insider, title="Data handling review", restricted=True)
    services.merge(secret, into=survivor, by=insider, note="same leak")
    services.set_restricted(survivor, restricted=False, by=insider)  # now others can see it

    received = survivor.timeline.get(kind=EntryKind.MERGE_RECEIVED)
    assert "title" not in received.data and received.data["restricted"] is True
    client.force_login(reader)
    html = client.get(reverse("incidents:detail", args=[survivor.pk])).content.decode()
    assert "Payroll" not in html and not _names(html, secret)
    assert "merged a restricted incident into this incident" in html
    assert "same leak" not in html
    entries = _api(reader).get(f"/api/v1/incidents/{survivor.pk}/timeline/").json()["results"]
    received = [e for e in entries if e["kind"] == EntryKind.MERGE_RECEIVED][0]
    assert received["new_value"] == "" and received["note"] == ""


def test_the_live_poll_hides_the_target_too(client, insider, reader):
    public = declare(by=insider, title="Login errors")
    secret = declare(by=insider, title="Credential stuffing", restricted=True)
    seq = public.timeline_seq
    services.merge(public, into=secret, by=insider)
    client.force_login(reader)
    response = client.get(reverse("incidents:timeline", args=[public.pk]), {"after": seq})
    html = response.content.decode()
    assert response.status_code == 200 and "a restricted incident" in html
    assert not _names(html, secret)


def test_public_merges_still_name_both_incidents(client, insider, reader):
    duplicate = declare(by=insider, title="Slow search", severity=Severity.P3)
    survivor = declare(by=insider, title="Search cluster degraded")
    services.merge(duplicate, into=survivor, by=insider)
    client.force_login(reader)
    html = client.get(reverse("incidents:detail", args=[survivor.pk])).content.decode()
    assert _names(html, duplicate) and "(Slow search)" in html
    assert permissions.hidden_ids(reader, [duplicate.pk, survivor.pk]) == set()


def test_an_entry_rendered_for_an_insider_is_not_served_to_a_reader_from_the_cache(
        client, insider, reader):
    """Timeline entries are cached by content: the insider's rendering (with the link) must not
    be what the reader gets. Failed before the cache key held whether the link is hidden."""
    public = declare(by=insider, title="Login errors")
    secret = declare(by=insider, title="Credential stuffing on login", restricted=True)
    services.merge(public, into=secret, by=insider)

    client.force_login(insider)
    html = client.get(reverse("incidents:detail", args=[public.pk])).content.decode()
    assert f'merged this incident into <a href="/incidents/{secret.pk}/">' in html
    client.force_login(reader)
    html = client.get(reverse("incidents:detail", args=[public.pk])).content.decode()
    assert not _names(html, secret)
    assert "merged this incident into a restricted incident" in html
