"""Web views: plain posts and htmx fragments, form errors, the live poll, the dashboard."""

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import EntryKind, Incident, Severity, Status
from tests.conftest import declare, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, incident, query=""):
    return reverse(f"incidents:{name}", args=[incident.pk]) + query


@pytest.fixture
def as_responder(client, responder):
    client.force_login(responder)
    return client


def last_entry(incident):
    return incident.timeline.order_by("-seq").first()


# --- actions -------------------------------------------------------------------------------

@pytest.mark.parametrize("action,data,kind,new", [
    ("acknowledge", {}, EntryKind.STATUS, "acknowledged"),
    ("transition", {"status": "investigating", "note": "on it"}, EntryKind.STATUS,
     "investigating"),
    ("severity", {"severity": "P1"}, EntryKind.SEVERITY, "P1"),
    ("roles", {"commander": "responder"}, EntryKind.ROLE, "responder"),
    ("note", {"text": "Rolled back **v2.31**"}, EntryKind.NOTE, ""),
    ("details", {"title": "Checkout down"}, EntryKind.FIELD, "Checkout down"),
])
def test_plain_post_applies_and_redirects(as_responder, incident, action, data, kind, new):
    before = incident.timeline_seq
    response = as_responder.post(url(action, incident), data)
    assert response.status_code == 302
    assert response["Location"] == url("detail", incident)
    written = incident.timeline.filter(seq__gt=before)
    assert written.filter(kind=kind, new_value=new, actor__username="responder").exists()


def test_htmx_post_returns_the_panel_fragment_and_triggers_a_timeline_refresh(
        as_responder, incident):
    response = as_responder.post(url("acknowledge", incident), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    # Its own region first (the button is gone), then the header out of band, now acknowledged.
    assert body.lstrip().startswith('<span id="action-acknowledge" hidden')
    header = body[body.index('<header id="incident-header"'):]
    assert 'hx-swap-oob="true"' in header[:200]
    assert 'id="incident-status">Acknowledged<' in header
    assert response["HX-Trigger"] == "relay:changed"
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


@pytest.mark.parametrize("action,data,message", [
    ("note", {"text": "   "}, "This field is required."),
    ("severity", {"severity": "P9"}, "Select a valid choice"),
    ("transition", {"status": "merged"}, "Select a valid choice"),
    ("merge", {"into": "INC-999999"}, "There is no incident INC-999999"),
    ("merge", {"into": "yesterday"}, "Enter an incident number"),
    ("grant", {}, "Choose either a person or a team."),
    ("details", {"title": "x" * 201}, "at most 200 characters"),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_input_is_a_400_with_the_message_and_writes_nothing(
        as_responder, incident, action, data, message, htmx):
    before = Incident.objects.get(pk=incident.pk).timeline_seq
    response = as_responder.post(url(action, incident), data, **(HTMX if htmx else {}))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).timeline_seq == before


def test_merge_into_itself_or_a_closed_incident_is_refused(as_responder, incident, responder):
    closed = declare(by=responder)
    services.transition(closed, to=Status.RESOLVED, by=responder)
    for target, message in ((incident, "cannot be merged into itself"),
                            (closed, "merge into an open incident")):
        response = as_responder.post(url("merge", incident), {"into": target.reference})
        assert response.status_code == 400
        assert message in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_merge_closes_the_duplicate_and_tells_the_survivor(as_responder, incident, responder):
    survivor = declare(by=responder)
    response = as_responder.post(url("merge", incident), {"into": survivor.reference})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.merged_into_id) == (Status.MERGED, survivor.pk)
    assert last_entry(survivor).kind == EntryKind.MERGE_RECEIVED


def test_milestone_order_error_names_the_field(client, commander, incident):
    services.assign_roles(incident, by=commander, commander=commander)
    client.force_login(commander)
    started = incident.started_at
    data = {"started_at": started.strftime("%Y-%m-%dT%H:%M:%S"),
            "detected_at": started.strftime("%Y-%m-%dT%H:%M:%S"),
            "acknowledged_at": (started - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")}
    response = client.post(url("milestones", incident), data)
    assert response.status_code == 400
    assert "Must not be before detected" in response.content.decode()
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_declare_form_errors_render_in_page_with_400(as_responder):
    response = as_responder.post(reverse("incidents:declare"), {"title": "", "severity": "P7"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in body and "Select a valid choice" in body
    assert not Incident.objects.exists()


def test_declare_redirects_to_the_new_incident(as_responder, service):
    response = as_responder.post(reverse("incidents:declare"), {
        "title": "Checkout 502", "severity": "P1", "services": [service.pk]})
    incident = Incident.objects.get()
    assert response["Location"] == url("detail", incident)
    assert list(incident.services.all()) == [service]
    assert incident.timeline.order_by("seq").first().kind == EntryKind.DECLARED


# --- the live timeline poll ----------------------------------------------------------------

def test_poll_with_nothing_new_is_204_while_open(as_responder, incident):
    response = as_responder.get(url("timeline", incident, f"?after={incident.timeline_seq}"))
    assert response.status_code == 204
    assert response.content == b""


def test_poll_stops_with_286_once_closed(as_responder, incident, responder):
    services.transition(incident, to=Status.RESOLVED, by=responder)
    response = as_responder.get(url("timeline", incident, f"?after={incident.timeline_seq}"))
    assert response.status_code == 286


def test_poll_returns_only_newer_entries_and_moves_the_cursor(as_responder, incident, responder):
    after = incident.timeline_seq
    services.add_note(incident, by=responder, text="first")
    services.add_note(incident, by=responder, text="second")
    body = as_responder.get(url("timeline", incident, f"?after={after}")).content.decode()
    assert f'id="entry-{after}"' not in body
    assert f'id="entry-{after + 1}"' in body and f'id="entry-{after + 2}"' in body
    assert 'hx-swap-oob="beforeend:#timeline-entries"' in body
    assert 'id="incident-header"' in body and 'hx-swap-oob="true"' in body
    assert f"?after={after + 2}" in body


def test_poll_rejects_a_bad_cursor(as_responder, incident):
    assert as_responder.get(url("timeline", incident, "?after=abc")).status_code == 400


def test_note_markdown_is_sanitised_on_the_page(as_responder, incident, responder):
    services.add_note(incident, by=responder,
                      text="<script>alert(1)</script> [x](javascript:alert(2)) **bold**")
    body = as_responder.get(url("detail", incident)).content.decode()
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body
    assert 'href="javascript:' not in body
    assert "<strong>bold</strong>" in body


def test_verify_page_reports_an_intact_chain(as_responder, incident):
    body = as_responder.get(url("verify", incident)).content.decode()
    assert "Intact: 1 entry, every link, hash and signature holds" in body


# --- dashboard -----------------------------------------------------------------------------

def titles(response):
    return [i.title for i in response.context["page"].object_list]


def test_dashboard_orders_open_first_then_severity_then_age(as_responder, responder):
    now = timezone.now()
    old_p2 = declare(by=responder, severity=Severity.P2, title="old P2",
                     started_at=now - timedelta(hours=3))
    declare(by=responder, severity=Severity.P2, title="new P2", started_at=now - timedelta(hours=1))
    declare(by=responder, severity=Severity.P1, title="P1")
    closed = declare(by=responder, severity=Severity.P1, title="closed P1")
    services.transition(closed, to=Status.RESOLVED, by=responder)
    assert titles(as_responder.get("/?status=all")) == ["P1", "old P2", "new P2", "closed P1"]
    assert titles(as_responder.get("/")) == ["P1", "old P2", "new P2"]
    assert old_p2.title in titles(as_responder.get(f"/?q={old_p2.reference}"))


def test_dashboard_filters(as_responder, responder, service, commander):
    a = declare(by=responder, severity=Severity.P1, title="database down", services=[service])
    b = declare(by=commander, severity=Severity.P3, title="slow search")
    services.transition(b, to=Status.INVESTIGATING, by=commander)
    assert titles(as_responder.get("/?severity=P1")) == [a.title]
    assert titles(as_responder.get("/?service=checkout-api")) == [a.title]
    assert titles(as_responder.get(f"/?team={service.team.slug}")) == [a.title]
    assert titles(as_responder.get("/?status=investigating")) == [b.title]
    assert titles(as_responder.get("/?mine=on")) == [a.title]
    assert titles(as_responder.get("/?q=search")) == [b.title]
    assert titles(as_responder.get(f"/?q={b.pk}")) == [b.title]


def test_dashboard_pages_and_counts(as_responder, responder):
    for i in range(30):
        declare(by=responder, severity=Severity.P4 if i % 2 else Severity.P2, title=f"inc {i}")
    first, second = as_responder.get("/"), as_responder.get("/?page=2")
    assert len(titles(first)) == 25 and len(titles(second)) == 5
    assert not set(titles(first)) & set(titles(second))
    counts = first.context["counts"]
    assert (counts["total"], counts["P2"], counts["P4"]) == (30, 15, 15)


def test_dashboard_htmx_refresh_returns_only_the_list(as_responder, incident):
    body = as_responder.get("/?severity=P2", **HTMX).content.decode()
    assert body.lstrip().startswith('<div id="incident-list"')
    assert "<html" not in body and incident.title in body


def test_login_and_logout(client, responder):
    assert "Log in to Relay" in client.get("/accounts/login/").content.decode()
    credentials = {"username": "responder", "password": "pw-responder"}
    response = client.post("/accounts/login/", credentials)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


# --- query counts stay constant as data grows ----------------------------------------------

def _grow(n, by, service, tier):
    people = [make_user(f"r{i}-{n}", "Responders") for i in range(3)]
    for i in range(n):
        incident = declare(by=by, services=[service], customer_tiers=[tier], title=f"grow {i}")
        services.assign_roles(incident, by=by, commander=by, responders=people)


@pytest.mark.parametrize("n", [3, 40])
def test_dashboard_queries_are_constant(as_responder, responder, service, tier, n,
                                        django_assert_max_num_queries):
    _grow(n, responder, service, tier)
    with django_assert_max_num_queries(13):  # 12 + comms' SLA column (the page's clocks)
        response = as_responder.get("/?status=all")
    assert len(titles(response)) == min(n, 25)


@pytest.mark.parametrize("entries", [5, 150])
def test_incident_page_queries_are_constant(as_responder, responder, service, tier, entries,
                                            django_assert_max_num_queries):
    _grow(1, responder, service, tier)
    incident = Incident.objects.get()
    for i in range(entries):
        services.add_note(incident, by=responder, text=f"note {i}")
    # 16 + the latest structured update + comms' header facts (customers, the nearest SLA clock)
    with django_assert_max_num_queries(19):
        response = as_responder.get(url("detail", incident))
    assert f"note {entries - 1}" in response.content.decode()


def test_idle_poll_is_cheap(as_responder, incident, django_assert_max_num_queries):
    """Session, user and one query for visibility and the incident's position together."""
    with django_assert_max_num_queries(3):
        response = as_responder.get(url("timeline", incident, f"?after={incident.timeline_seq}"))
    assert response.status_code == 204


def test_restricted_filter_adds_no_per_row_queries(client, commander,
                                                   django_assert_max_num_queries):
    for i in range(20):
        declare(by=commander, restricted=bool(i % 2), title=f"r{i}")
    outsider_responder = make_user("other", "Responders")
    client.force_login(outsider_responder)
    with django_assert_max_num_queries(13):  # 12 + comms' SLA column (the page's clocks)
        response = client.get("/?status=all")
    assert len(titles(response)) == 10


# --- rendering ---------------------------------------------------------------------------------

def test_timeline_entries_are_rendered_once_and_served_from_the_cache(as_responder, incident,
                                                                      responder):
    caches["timeline"].clear()
    services.add_note(incident, text="Rolled back *v2.31*", by=responder)
    first = as_responder.get(url("detail", incident)).content.decode()
    assert "<em>v2.31</em>" in first
    assert len(caches["timeline"]._cache) == incident.timeline.count()
    # A renamed actor is shown under the new name: the name is part of the cache key.
    responder.username = "r.renamed"
    responder.save()
    second = as_responder.get(url("detail", incident)).content.decode()
    assert 'class="who">r.renamed</span>' in second
    assert 'class="who">responder</span>' not in second


def test_people_selects_escape_names_and_mark_the_current_roles(as_responder, incident,
                                                                responder):
    make_user('eve"><script>x</script>', "Responders")
    services.assign_roles(incident, by=responder, commander=responder, responders=[responder])
    html = as_responder.get(url("detail", incident)).content.decode()
    assert "<script>x</script>" not in html
    assert 'value="eve&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in html
    commander_select = html.split('name="commander"')[1].split("</select>")[0]
    assert '<option value="responder" selected>responder</option>' in commander_select
    responders_select = html.split('name="responders"')[1].split("</select>")[0]
    assert 'multiple' in html.split('name="responders"')[1].split(">")[0]
    assert '<option value="responder" selected>' in responders_select


@pytest.mark.parametrize("new", [1, 60])
def test_a_poll_with_news_costs_the_same_for_one_entry_or_many(
        as_responder, incident, responder, new, django_assert_max_num_queries):
    """New entries plus the header and the action regions out of band, in constant queries."""
    after = incident.timeline_seq
    for i in range(new):
        services.add_note(incident, by=responder, text=f"news {i}")
    with django_assert_max_num_queries(18):
        response = as_responder.get(url("timeline", incident, f"?after={after}"))
    body = response.content.decode()
    assert body.count('class="entry kind-note"') == new
    assert 'id="action-transition"' in body
