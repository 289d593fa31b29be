"""`next` after a form post: only a path of this site, never another host or a bare word."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from config.navigation import safe_next
from tests.conftest import declare


@pytest.mark.parametrize(("target", "expected"), [
    ("/incidents/1/", "/incidents/1/"),
    ("/action-items/?scope=all", "/action-items/?scope=all"),
    ("https://evil.example/", None), ("//evil.example/", None), ("/\\evil.example", None),
    ("NaN", None), ("incidents:dashboard", None), ("javascript:alert(1)", None), ("", None),
])
def test_safe_next(target, expected):
    request = RequestFactory().post("/", {"next": target})
    assert safe_next(request) == expected


def test_a_bare_word_next_falls_back_instead_of_failing(client, commander):
    incident = declare(by=commander, title="Login slow")
    client.force_login(commander)
    for target in ("NaN", "incidents:dashboard", "日本"):
        response = client.post(reverse("incidents:acknowledge", args=[incident.pk]),
                               {"next": target})
        assert response.status_code == 302
        assert response["Location"] == reverse("incidents:detail", args=[incident.pk])
        incident.refresh_from_db()
        incident.status = "triggered"
        incident.save(update_fields=["status"])


def test_favicon_ico_leads_to_the_sites_icon(client):
    # The admin's pages name no icon, so browsers ask for /favicon.ico: a redirect, not a 404.
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
