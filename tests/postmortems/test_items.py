"""Action items: created with defaults from the incident's severity, changed under optimistic
locking, finished or accepted with a reason, counted for the incident's follow-up; the section of
the post-mortem page and "My action items"."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from config.errors import Conflict, NotAllowed
from incidents import services as incident_services
from incidents.models import EntryKind, Severity
from postmortems.items import services
from postmortems.models import ActionItem, ItemStatus, Level, Postmortem, State
from tests.conftest import declare, make_team, make_user


def _postmortem(incident, **fields):
    return Postmortem.objects.create(incident=incident, **fields)


def _entries(incident, action):
    return incident.timeline.filter(kind=EntryKind.POSTMORTEM, data__action=action)


@pytest.fixture
def postmortem(incident):
    return _postmortem(incident)


@pytest.fixture
def item(postmortem, commander, responder):
    return services.create(postmortem, by=commander, title="Alert on 502 rate", owner=responder)


def _today():
    return timezone.localdate()


# --- Services -----------------------------------------------------------------------------------

def test_create_defaults_the_due_date_by_severity(commander, responder):
    p1 = _postmortem(declare(by=commander, severity=Severity.P1))
    p3 = _postmortem(declare(by=commander, severity=Severity.P3))
    first = services.create(p1, by=commander, title="Add a canary", owner=responder)
    third = services.create(p3, by=commander, title="Document the failover")
    assert first.due_on == _today() + timedelta(days=14)
    assert third.due_on == _today() + timedelta(days=60)
    assert (first.status, first.priority, first.kind) == ("open", "medium", "prevent")
    assert (first.created_by, first.incident_id) == (commander, p1.incident_id)


def test_create_writes_one_timeline_entry(postmortem, commander, responder):
    item = services.create(postmortem, by=commander, title="Alert on 502 rate", owner=responder,
                           due_on=_today() + timedelta(days=20))
    entry = _entries(postmortem.incident, "item_added").get()
    assert entry.data["item"] == item.pk and entry.actor == commander
    assert "Alert on 502 rate (responder, due " in entry.note


def test_create_schedules_the_first_reminder(postmortem, commander, responder, settings):
    settings.RELAY_WORKING_HOURS_TZ = "UTC"
    due = _today() + timedelta(days=20)
    item = services.create(postmortem, by=commander, title="Canary", owner=responder, due_on=due)
    assert item.next_reminder_at == datetime.combine(due - timedelta(days=3), time(9), UTC)
    unowned = services.create(postmortem, by=commander, title="Nobody's yet", due_on=due)
    assert unowned.next_reminder_at is None


def test_create_refuses_an_owner_who_cannot_see_the_incident(restricted_incident, commander,
                                                             responder):
    postmortem = _postmortem(restricted_incident)
    with pytest.raises(ValidationError) as refused:
        services.create(postmortem, by=commander, title="Rotate keys", owner=responder)
    assert "cannot see INC-" in refused.value.message_dict["owner"][0]
    incident_services.grant_access(restricted_incident, by=commander, user=responder)
    assert services.create(postmortem, by=commander, title="Rotate keys", owner=responder).pk


def test_create_refuses_an_inactive_owner(postmortem, commander):
    gone = make_user("gone", "Responders", is_active=False)
    with pytest.raises(ValidationError) as refused:
        services.create(postmortem, by=commander, title="Canary", owner=gone)
    assert refused.value.message_dict["owner"] == ["gone is no longer active."]


@pytest.mark.parametrize("fields, field, message", [
    ({"title": "  "}, "title", "This field cannot be blank."),
    ({"title": "One\nTwo"}, "title", "The title is one line."),
    ({"title": "Nul\x00"}, "title", "Must not contain NUL"),
    ({"ticket_url": "javascript:alert(1)"}, "ticket_url", "Enter a valid URL."),
    ({"due_on": timezone.localdate() - timedelta(days=1)}, "due_on", "cannot be in the past"),
    ({"priority": "urgent"}, "priority", "is not a valid choice"),
])
def test_create_refuses_bad_fields_beside_the_field(postmortem, commander, fields, field,
                                                    message):
    with pytest.raises(ValidationError) as refused:
        services.create(postmortem, by=commander, **{"title": "Canary", **fields})
    assert message in " ".join(refused.value.message_dict[field])
    assert not ActionItem.objects.exists()


def test_read_only_roles_cannot_add_items(postmortem, auditor, csm):
    for user in (auditor, csm):
        with pytest.raises(NotAllowed):
            services.create(postmortem, by=user, title="Canary")


def test_a_published_postmortem_still_takes_items_and_reopens_the_follow_up(postmortem,
                                                                            commander):
    Postmortem.objects.filter(pk=postmortem.pk).update(state=State.PUBLISHED)
    postmortem.refresh_from_db()
    assert services.follow_up(postmortem)["complete"] is True
    item = services.create(postmortem, by=commander, title="Found in the audit")
    assert services.follow_up(postmortem) == {"total": 1, "open": 1, "overdue": 0,
                                              "complete": False}
    services.set_status(item, by=commander, status=ItemStatus.DONE)
    assert services.follow_up(postmortem)["complete"] is True


def test_update_refuses_a_stale_version(item, commander):
    services.update(item, by=commander, version=1, title="Alert on the 502 rate")
    with pytest.raises(services.StaleItem) as refused:
        services.update(item, by=commander, version=1, title="Mine")
    assert refused.value.current.title == "Alert on the 502 rate"
    assert "now version 2" in refused.value.message
    item.refresh_from_db()
    assert (item.title, item.version) == ("Alert on the 502 rate", 2)


def test_update_of_the_due_date_starts_the_reminders_over(item, commander, settings):
    settings.RELAY_WORKING_HOURS_TZ = "Europe/Paris"
    ActionItem.objects.filter(pk=item.pk).update(reminders_sent=1, next_reminder_at=None)
    item.refresh_from_db()
    due = _today() + timedelta(days=40)
    services.update(item, by=commander, version=1, due_on=due, priority="high")
    item.refresh_from_db()
    assert item.reminders_sent == 0
    before = (due - timedelta(days=3))
    local = item.next_reminder_at.astimezone(services.ZoneInfo("Europe/Paris"))
    assert (local.date(), local.hour, local.minute) == (before, 9, 0)
    entry = _entries(item.incident, "item_changed").get()
    assert entry.data["changed"] == ["due_on", "priority"]
    assert f"→ {due}" in entry.note and "priority medium → high" in entry.note


def test_owners_update_their_own_items_whatever_their_role(postmortem, commander, auditor):
    mine = services.create(postmortem, by=commander, title="Audit the logs", owner=auditor)
    theirs = services.create(postmortem, by=commander, title="Someone else's")
    services.update(mine, by=auditor, version=1, description="Started with the web tier.")
    services.set_status(mine, by=auditor, status=ItemStatus.DONE)
    with pytest.raises(NotAllowed):
        services.set_status(theirs, by=auditor, status=ItemStatus.DONE)
    with pytest.raises(NotAllowed):
        services.update(theirs, by=auditor, version=1, title="Mine now")


def test_finished_items_are_reopened_before_they_change(item, commander):
    services.set_status(item, by=commander, status=ItemStatus.DONE)
    with pytest.raises(Conflict):
        services.update(item, by=commander, version=2, title="Late edit")


def test_done_records_who_and_clears_the_reminder(item, commander, responder):
    assert item.next_reminder_at is not None
    services.set_status(item, by=responder, status=ItemStatus.DONE)
    item.refresh_from_db()
    assert (item.status, item.finished_by, item.next_reminder_at) == ("done", responder, None)
    assert item.finished_at is not None
    assert _entries(item.incident, "item_done").get().data["item"] == item.pk


def test_accepting_needs_a_reason(item, commander):
    with pytest.raises(ValidationError) as refused:
        services.set_status(item, by=commander, status=ItemStatus.ACCEPTED, reason="  ")
    assert "reason" in refused.value.message_dict
    services.set_status(item, by=commander, status=ItemStatus.ACCEPTED,
                        reason="The service is retired next month.")
    item.refresh_from_db()
    assert (item.status, item.accepted_reason) == ("accepted",
                                                   "The service is retired next month.")
    assert "retired next month" in _entries(item.incident, "item_accepted").get().note


def test_reopening_restores_the_reminders(item, commander):
    scheduled = item.next_reminder_at
    services.set_status(item, by=commander, status=ItemStatus.ACCEPTED, reason="Not worth it")
    services.set_status(item, by=commander, status=ItemStatus.OPEN)
    item.refresh_from_db()
    assert (item.status, item.finished_at, item.accepted_reason) == ("open", None, "")
    assert item.next_reminder_at == scheduled
    assert _entries(item.incident, "item_reopened").count() == 1


def test_setting_the_same_status_twice_is_a_conflict(item, commander):
    services.set_status(item, by=commander, status=ItemStatus.DONE)
    with pytest.raises(Conflict):
        services.set_status(item, by=commander, status=ItemStatus.DONE)


def test_follow_up_counts_and_completion(postmortem, commander, django_assert_num_queries):
    done = services.create(postmortem, by=commander, title="Done one")
    late = services.create(postmortem, by=commander, title="Late one")
    ActionItem.objects.filter(pk=late.pk).update(due_on=_today() - timedelta(days=1))
    services.set_status(done, by=commander, status=ItemStatus.DONE)
    with django_assert_num_queries(1):
        counts = services.follow_up(postmortem)
    assert counts == {"total": 2, "open": 1, "overdue": 1, "complete": False}
    services.set_status(late, by=commander, status=ItemStatus.ACCEPTED, reason="Superseded")
    assert services.follow_up(postmortem)["complete"] is False  # not published yet


def test_a_postmortem_of_level_none_without_items_is_complete(commander):
    postmortem = _postmortem(declare(by=commander, severity=Severity.P4), level=Level.NONE)
    assert services.follow_up(postmortem) == {"total": 0, "open": 0, "overdue": 0,
                                              "complete": True}


def test_counts_by_postmortem_in_one_query(postmortem, commander, django_assert_num_queries):
    other = _postmortem(declare(by=commander))
    services.create(postmortem, by=commander, title="One")
    services.create(postmortem, by=commander, title="Two")
    with django_assert_num_queries(1):
        counts = services.counts_by_postmortem([postmortem.pk, other.pk])
    assert counts == {postmortem.pk: {"total": 2, "open": 2, "overdue": 0},
                      other.pk: {"total": 0, "open": 0, "overdue": 0}}


# --- The section of the post-mortem page --------------------------------------------------------

def _section_url(incident):
    return reverse("items:incident-items", args=[incident.pk])


def _new_url(incident):
    return reverse("items:new", args=[incident.pk])


def _form(**fields):
    return {"title": "Alert on 502 rate", "owner": "responder", "due_on": "",
            "priority": "high", "kind": "detect", "description": "", "ticket_url": "", **fields}


def test_section_lists_items_with_overdue_marked_in_words(client, postmortem, commander,
                                                          responder):
    late = services.create(postmortem, by=commander, title="Late canary", owner=responder)
    ActionItem.objects.filter(pk=late.pk).update(due_on=_today() - timedelta(days=2))
    services.create(postmortem, by=commander, title="Fine <b>later</b>",
                    ticket_url="https://tracker.example.test/OPS-1")
    client.force_login(commander)
    body = client.get(_section_url(postmortem.incident)).content.decode()
    late_row = body.split(f'id="action-item-{late.pk}"')[1].split("</li>")[0]
    assert "Overdue" in late_row and "responder" in late_row
    assert "Fine &lt;b&gt;later&lt;/b&gt;" in body and "<b>later</b>" not in body
    assert 'href="https://tracker.example.test/OPS-1"' in body
    assert body.count(">Overdue<") == 1
    assert "2 items, 2 open, <b class=\"warning\">1 overdue</b>" in body


def test_new_item_with_htmx_answers_with_the_section(client, postmortem, commander, responder):
    client.force_login(commander)
    response = client.post(_new_url(postmortem.incident), _form(), headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.startswith("<section id=\"action-items\"") and "Alert on 502 rate" in body
    item = ActionItem.objects.get()
    assert (item.owner, item.priority, item.kind) == (responder, "high", "detect")
    assert item.due_on == _today() + timedelta(days=30)  # the fixture incident is a P2


def test_new_item_without_htmx_redirects_back(client, postmortem, commander, responder):
    client.force_login(commander)
    section = _section_url(postmortem.incident)
    response = client.post(_new_url(postmortem.incident), _form(next=section))
    assert response.status_code == 302 and response.url == section
    evil = client.post(_new_url(postmortem.incident), _form(next="https://evil.example/"))
    assert evil.status_code == 302 and "evil" not in evil.url


def test_new_item_errors_are_shown_beside_their_field(client, postmortem, commander,
                                                     responder):
    client.force_login(commander)
    response = client.post(_new_url(postmortem.incident),
                           _form(title="", ticket_url="not a url", due_on="2001-01-01"),
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body and "Enter a valid URL." in body
    assert not ActionItem.objects.exists()
    past = client.post(_new_url(postmortem.incident), _form(due_on="2001-01-01"))
    assert past.status_code == 400
    assert "The due date cannot be in the past." in past.content.decode()


def test_new_item_refuses_a_hidden_owner_with_400(client, restricted_incident, commander,
                                                  responder):
    _postmortem(restricted_incident)
    client.force_login(commander)
    response = client.post(_new_url(restricted_incident), _form())
    assert response.status_code == 400
    assert f"responder cannot see {restricted_incident.reference}" in response.content.decode()


def test_new_item_access(client, postmortem, auditor, outsider, restricted_incident, responder):
    client.force_login(auditor)
    assert client.get(_new_url(postmortem.incident)).status_code == 405
    assert client.post(_new_url(postmortem.incident), _form()).status_code == 403
    client.force_login(outsider)
    assert client.post(_new_url(postmortem.incident), _form()).status_code == 404
    _postmortem(restricted_incident)
    client.force_login(responder)
    assert client.get(_section_url(restricted_incident)).status_code == 404
    assert client.post(_new_url(restricted_incident), _form()).status_code == 404
    assert not ActionItem.objects.exists()


def test_section_query_count_is_constant(client, postmortem, commander, responder,
                                         django_assert_max_num_queries):
    def fill(count):
        for number in range(count):
            services.create(postmortem, by=commander, title=f"Item {number}", owner=responder)

    client.force_login(commander)
    fill(2)
    with django_assert_max_num_queries(12) as few:
        assert client.get(_section_url(postmortem.incident)).status_code == 200
    fill(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(_section_url(postmortem.incident)).content.decode()
    assert body.count('class="message action-item') == 10
    assert body.count('<option value="responder"') == 11  # ten editors and the new item's


def test_section_of_an_incident_without_postmortem_is_404(client, incident, commander):
    client.force_login(commander)
    assert client.get(_section_url(incident)).status_code == 404


def test_edit_saves_and_refuses_a_stale_version(client, item, commander):
    client.force_login(commander)
    url = reverse("items:edit", args=[item.pk])
    due = str(item.due_on)
    no_date = client.post(url, _form(version="1"), headers={"HX-Request": "true"})
    assert no_date.status_code == 400 and "This field is required." in no_date.content.decode()
    fields = _form(title="Alert on the 502 rate", version="1", due_on=due)
    assert client.post(url, fields, headers={"HX-Request": "true"}).status_code == 200
    stale = client.post(url, _form(title="My older edit", version="1", due_on=due),
                        headers={"HX-Request": "true"})
    assert stale.status_code == 400
    body = stale.content.decode()
    assert "Someone else changed this action item" in body
    assert 'value="Alert on the 502 rate"' in body  # theirs in the editor
    assert "My older edit" in body  # yours beside it
    item.refresh_from_db()
    assert (item.title, item.version) == ("Alert on the 502 rate", 2)


def test_status_done_and_accept_without_reason(client, item, commander):
    client.force_login(commander)
    url = reverse("items:status", args=[item.pk])
    refused = client.post(url, {"status": "accepted", "reason": ""},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert "Say why the item is accepted without being done." in refused.content.decode()
    done = client.post(url, {"status": "done"}, headers={"HX-Request": "true"})
    assert done.status_code == 200 and "Reopen" in done.content.decode()
    item.refresh_from_db()
    assert item.status == "done"
    assert client.post(url, {"status": "nonsense"}).status_code == 400


def test_status_access(client, item, auditor, outsider):
    url = reverse("items:status", args=[item.pk])
    client.force_login(auditor)
    assert client.get(url).status_code == 405
    assert client.post(url, {"status": "done"}).status_code == 403
    client.force_login(outsider)
    assert client.post(url, {"status": "done"}).status_code == 404
    for missing in (10 ** 6, 10 ** 30):
        assert client.post(reverse("items:status", args=[missing]), {"status": "done"}
                           ).status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


# --- My action items ----------------------------------------------------------------------------

MINE = "/action-items/"


def test_my_items_open_first_then_finished(client, postmortem, commander, responder):
    late = services.create(postmortem, by=commander, title="Late canary", owner=responder)
    ActionItem.objects.filter(pk=late.pk).update(due_on=_today() - timedelta(days=1))
    soon = services.create(postmortem, by=commander, title="Soon runbook", owner=responder)
    done = services.create(postmortem, by=commander, title="Done dashboards", owner=responder)
    services.set_status(done, by=responder, status=ItemStatus.DONE)
    services.create(postmortem, by=commander, title="Someone else's", owner=commander)
    client.force_login(responder)
    body = client.get(MINE).content.decode()
    assert body.index("Late canary") < body.index("Soon runbook") < body.index("Done dashboards")
    open_part, finished_part = body.split('id="finished-items"')
    assert "Done dashboards" in finished_part and "Late canary" in open_part
    assert "Someone else's" not in body
    late_row = body.split(f'id="action-item-{late.pk}"')[1].split("</li>")[0]
    assert "Overdue" in late_row
    assert body.count(">Overdue<") == 1 and soon.title in open_part


def test_every_visible_item_for_leads_by_team_and_overdue(client, commander, responder, service):
    on_team = _postmortem(declare(by=commander, services=[service]))
    elsewhere = _postmortem(declare(by=commander, services=[]))
    late = services.create(on_team, by=commander, title="Payments late", owner=responder)
    ActionItem.objects.filter(pk=late.pk).update(due_on=_today() - timedelta(days=1))
    services.create(on_team, by=commander, title="Payments fine", owner=responder)
    services.create(elsewhere, by=commander, title="Other team's")
    make_team("Search")
    client.force_login(commander)
    everything = client.get(MINE, {"scope": "all"}).content.decode()
    assert all(t in everything for t in ("Payments late", "Payments fine", "Other team&#x27;s"))
    team = client.get(MINE, {"scope": "all", "team": "payments"}).content.decode()
    assert "Payments fine" in team and "Other team" not in team
    overdue = client.get(MINE, {"scope": "all", "overdue": "on"}).content.decode()
    assert "Payments late" in overdue and "Payments fine" not in overdue
    assert client.get(MINE, {"scope": "all", "team": "search"}).status_code == 200
    bad = client.get(MINE, {"scope": "everyone", "team": "nope"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_restricted_items_only_for_those_who_see_the_incident(client, restricted_incident,
                                                              commander, responder, auditor):
    services.create(_postmortem(restricted_incident), by=commander, title="Rotate the keys")
    client.force_login(responder)
    assert "Rotate the keys" not in client.get(MINE, {"scope": "all"}).content.decode()
    client.force_login(auditor)  # auditors see every restricted incident
    assert "Rotate the keys" in client.get(MINE, {"scope": "all"}).content.decode()


def test_my_items_query_count_is_constant(client, commander, responder,
                                          django_assert_max_num_queries):
    def fill(count):
        for _ in range(count):
            postmortem = _postmortem(declare(by=commander))
            item = services.create(postmortem, by=commander, title="Item", owner=responder)
            services.set_status(item, by=responder, status=ItemStatus.IN_PROGRESS)

    client.force_login(responder)
    fill(2)
    with django_assert_max_num_queries(8) as few:
        assert client.get(MINE, {"scope": "all"}).status_code == 200
    fill(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(MINE, {"scope": "all"}).content.decode()
    assert body.count('class="message action-item') == 10


def test_my_items_needs_a_role(client, outsider):
    client.force_login(outsider)
    assert client.get(MINE).status_code == 403
    client.logout()
    assert client.get(MINE).status_code == 302
