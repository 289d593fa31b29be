"""GET /api/v1/incidents/{number}/postmortem/: the post-mortem as JSON, a published revision as
frozen, nothing for those who may not see the incident, and never a 5xx."""

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from postmortems import services
from postmortems.models import ActionItem
from tests.conftest import make_user
from tests.incidents.test_api import bearer_client
from tests.postmortems.test_review import approve_all, resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(incident, commander):
    return resolve(incident, commander)


def path(postmortem, query=""):
    return f"/api/v1/incidents/{postmortem.incident_id}/postmortem/{query}"


def test_api_answers_the_document_as_json(postmortem, commander, auditor):
    services.edit(postmortem, by=commander, version=1, learnings="Alert on expiry.")
    ActionItem.objects.create(postmortem=postmortem, incident=postmortem.incident,
                              title="Expiry alert", owner=commander, due_on="2026-12-14")
    response = bearer_client(auditor).get(path(postmortem))
    assert response.status_code == 200
    body = response.json()
    assert body["incident"] == {"number": postmortem.incident_id,
                                "reference": f"INC-{postmortem.incident_id}",
                                "title": "Checkout returns 502", "severity": "P2"}
    assert (body["level"], body["state"], body["revision"], body["version"]) == (
        "full", "draft", 1, 2)
    assert body["sections"]["learnings"] == "Alert on expiry."
    assert set(body["sections"]) == {"summary", "contributing_factors", "went_well",
                                     "went_badly", "got_lucky", "learnings"}
    assert body["facts"]["incident"]["number"] == postmortem.incident_id
    assert body["facts"]["key_times"][0]["name"] == "started"
    assert body["action_items"][0]["title"] == "Expiry alert"
    assert body["action_items"][0]["owner"] == "commander"
    # Not published yet: the incident's follow-up is not complete.
    assert body["follow_up"] == {"total": 1, "open": 1, "overdue": 0, "complete": False}
    assert body["published_at"] is None


def test_api_revision_is_the_published_one(postmortem, commander):
    reviewer = make_user("reviewer", "Responders")
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    approve_all(postmortem, reviewer)
    services.publish(postmortem, by=commander)
    services.correct(postmortem, by=commander, reason="More detail.")
    client = bearer_client(commander)
    assert client.get(path(postmortem)).json()["revision"] == 2
    frozen = client.get(path(postmortem, "?revision=1")).json()
    assert (frozen["revision"], frozen["state"]) == (1, "published")
    assert frozen["published_at"] is not None
    for junk in ("2", "0", "-1", "x", "9" * 400, "1e400"):
        assert client.get(path(postmortem, f"?revision={junk}")).status_code == 404, junk


def test_api_hides_post_mortems_of_hidden_incidents(restricted_incident, incident, commander,
                                                    responder, outsider):
    hidden = resolve(restricted_incident, commander)
    assert bearer_client(responder).get(path(hidden)).status_code == 404
    assert bearer_client(outsider).get(path(hidden)).status_code == 404
    assert bearer_client(commander).get(path(hidden)).status_code == 200
    # An incident without a post-mortem, and anonymous callers.
    assert bearer_client(commander).get(
        f"/api/v1/incidents/{incident.pk}/postmortem/").status_code == 404
    assert APIClient().get(path(hidden)).status_code in (401, 403)


def test_api_is_read_only(postmortem, commander):
    client = bearer_client(commander)
    assert client.post(path(postmortem), {"state": "published"}, format="json"
                       ).status_code == 405
    assert client.delete(path(postmortem)).status_code == 405


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(number=st.one_of(st.integers(-(2 ** 70), 2 ** 70).map(str),
                        st.text(st.characters(codec="utf-8"), max_size=12)),
       revision=st.text(st.characters(codec="utf-8"), max_size=12))
def test_api_fuzzed_paths_never_500(postmortem, commander, number, revision):
    client = bearer_client(commander)
    for url in (f"/api/v1/incidents/{quote(number, safe='')}/postmortem/",
                path(postmortem, f"?revision={quote(revision, safe='')}")):
        response = client.get(url)
        assert response.status_code < 500, url
