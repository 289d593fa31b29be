"""The drafted facts of a scripted incident history, with every time and figure worked out by hand.

The history (T0 = 2026-03-02 09:00 UTC), on the Checkout API with an Enterprise customer:
  T0-5h   change event "Ancient deploy" (outside the four hours before the start)
  T0-60m  change event "Deploy checkout v42"
  T0-10m  change event on another service (not this incident's)
  T0      commander declares P2 (started = detected = T0), Enterprise tier, clocks start
  T0+2m   alert "HighErrorRate" fires (3 events) on the Checkout API
  T0+3m   responder paged on two contact methods (one notice to the commander does not count)
  T0+5m   responder acknowledges                         → acknowledged T0+5m, and, as nobody
                                                           commanded it, becomes commander
  T0+6m   commander made commander, csm communications lead
  T0+10m  responder notes "Rolled back api-2024.11.3"     (tried; 35 min before mitigation)
  T0+20m  commander: acknowledged → identified            (tried, fixed)
  T0+25m  csm publishes the customer message "Checkout errors"
  T0+40m  responder notes "Error rate back to baseline"   (tried, fixed)
  T0+45m  responder: identified → monitoring              → mitigated T0+45m (fixed: the last)
  T0+90m  commander resolves                              → resolved T0+90m
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from comms.messages import services as messages
from comms.models import Customer, SlaTarget, TierPolicy
from incidents import services
from incidents.models import (
    Alert,
    ChangeEvent,
    CustomerTier,
    EntryKind,
    Incident,
    Integration,
    Page,
    Service,
)
from incidents.timeline import record
from postmortems import document, drafting, facts
from postmortems.models import Postmortem
from tests.conftest import declare, make_user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    now = [T0]
    monkeypatch.setattr(timezone, "now", lambda: now[0])

    def at(minutes: float) -> datetime:
        now[0] = T0 + timedelta(minutes=minutes)
        return now[0]

    return at


def _page(incident, user, address, purpose="page"):
    return Page.objects.create(incident=incident, purpose=purpose, step=0, round=0, user=user,
                               channel="email", address=address, reason=f"{purpose}:{address}")


@pytest.fixture
def history(clock, commander, responder, csm, service):
    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    TierPolicy.objects.create(tier=tier)
    SlaTarget.objects.create(tier=tier, severity="P2", response_minutes=15,
                             resolution_minutes=60)
    acme = Customer.objects.create(name="Acme *Corp*", tier=tier)
    other = Service.objects.create(name="Search", slug="search")
    for minutes, on, summary in ((-300, service, "Ancient deploy"),
                                 (-60, service, "Deploy checkout v42"),
                                 (-10, other, "Reindex search")):
        ChangeEvent.objects.create(service=on, summary=summary, source="argo",
                                   happened_at=T0 + timedelta(minutes=minutes))
    clock(0)
    incident = declare(by=commander, title="Checkout returns 502", services=[service],
                       customer_tiers=[tier])
    with transaction.atomic():
        Incident.objects.select_for_update().get(pk=incident.pk)
        acme.incidents.add(incident)
        record(incident, EntryKind.CUSTOMERS, csm, data={"added": ["Acme *Corp*"]})
    clock(2)
    integration = Integration.objects.create(service=service, name="Prometheus",
                                             format="alertmanager", key_hash="k" * 64,
                                             key_prefix="k")
    Alert.objects.create(integration=integration, service=service, incident=incident,
                         dedup_key="HighErrorRate", summary="HighErrorRate: 5xx > 2%", count=3,
                         first_seen=clock(2))
    clock(3)
    _page(incident, responder, "responder@example.test")
    _page(incident, responder, "responder-phone@example.test")
    _page(incident, commander, "commander@example.test", purpose="notice")
    clock(5)
    services.acknowledge(incident, by=responder)
    clock(6)
    services.assign_roles(incident, by=commander, commander=commander, comms_lead=csm)
    clock(10)
    services.add_note(incident, text="Rolled back `api-2024.11.3`", by=responder)
    clock(20)
    services.transition(incident, to="identified", by=commander)
    clock(25)
    message = messages.draft(incident, by=csm, phase="identified", subject="Checkout errors",
                             body="We found the cause and are fixing it.", to_customers=False,
                             to_status_page=True)
    messages.submit(message, by=csm)
    messages.publish(message, by=csm)
    clock(40)
    services.add_note(incident, text="Error rate back to [baseline](javascript:alert(1))",
                      by=responder)
    clock(45)
    services.transition(incident, to="monitoring", by=responder)
    clock(90)
    services.transition(incident, to="resolved", by=commander)
    incident.refresh_from_db()
    return incident


def test_key_times_and_durations(history):
    got = facts.gather(history, now=T0 + timedelta(hours=3))
    assert [(t["name"], t["at"]) for t in got["key_times"]] == [
        ("started", "2026-03-02T09:00:00Z"), ("detected", "2026-03-02T09:00:00Z"),
        ("acknowledged", "2026-03-02T09:05:00Z"), ("mitigated", "2026-03-02T09:45:00Z"),
        ("resolved", "2026-03-02T10:30:00Z")]
    assert {d["name"]: d["seconds"] for d in got["durations"]} == {
        "to_detect": 0, "to_acknowledge": 300, "to_mitigate": 2700, "to_resolve": 5400}


def test_impact_names_services_customers_and_each_clocks_outcome(history):
    impact = facts.gather(history, now=T0 + timedelta(hours=3))["impact"]
    assert impact["services"] == ["Checkout API"]
    assert impact["tiers"] == ["Enterprise"]
    assert impact["customers"] == [{"name": "Acme *Corp*", "tier": "Enterprise"}]
    assert impact["duration_seconds"] == 2700  # start to mitigation
    assert impact["open_seconds"] == 5400
    outcomes = {(c["kind"], c["for"]): (c["outcome"], c["target_minutes"])
                for c in impact["sla"]}
    # Response in 5 of 15 minutes: met. Resolution in 90 of 60 minutes: breached. (The tier
    # named directly gets no clocks of its own: its customer's clocks cover it.)
    assert outcomes == {("response", "Acme *Corp*"): ("met", 15),
                        ("resolution", "Acme *Corp*"): ("breached", 60)}


def test_what_was_tried_and_what_fixed_it_in_order_with_authors(history):
    got = facts.gather(history, now=T0 + timedelta(hours=3))
    tried = [(e["at"][11:16], e["actor"], e["kind"]) for e in got["tried"]]
    assert tried == [("09:05", "responder", "status"), ("09:10", "responder", "note"),
                     ("09:20", "commander", "status"), ("09:40", "responder", "note"),
                     ("09:45", "responder", "status"), ("10:30", "commander", "status")]
    fixed = [(e["at"][11:16], e["actor"], e["text"]) for e in got["fixed"]]
    assert fixed == [("09:20", "commander", "acknowledged → identified"),
                     ("09:40", "responder",
                      "Error rate back to [baseline](javascript:alert(1))"),
                     ("09:45", "responder", "identified → monitoring")]


def test_alerts_pages_changes_and_messages(history):
    got = facts.gather(history, now=T0 + timedelta(hours=3))
    assert got["alerts"]["count"] == 1 and got["alerts"]["events"] == 3
    assert got["alerts"]["first"] == {"summary": "HighErrorRate: 5xx > 2%",
                                      "at": "2026-03-02T09:02:00Z", "source": "Prometheus"}
    assert got["pages"]["count"] == 2  # the notice is not a page
    assert got["pages"]["people"] == ["responder"]
    assert got["pages"]["acknowledged_by"] == ["responder"]
    assert [(c["summary"], c["before_start_seconds"]) for c in got["changes"]] == [
        ("Deploy checkout v42", 3600)]
    assert [(m["subject"], m["at"], m["by"]) for m in got["messages"]] == [
        ("Checkout errors", "2026-03-02T09:25:00Z", "csm")]


def test_cost_is_responder_hours_weighted_by_role(history, settings):
    settings.RELAY_RESPONSE_HOURLY_RATE = 100
    cost = facts.gather(history, now=T0 + timedelta(hours=3))["cost"]
    # commander: 09:00 (declared) to 10:30 (holds the incident to the end) = 1.5 h × 1.5
    # csm: made communications lead 09:06 to the end 10:30 = 1.4 h × 1.25
    #      (their entries at 09:00 and 09:25 make it 09:00–10:30 = 1.5 h)
    # responder: 09:05 to 09:45 = 0.67 h × 1.5 (commander from acknowledging, 09:05–09:06:
    #            weighted by the highest role held)
    assert cost["people"] == [
        {"person": "commander", "role": "commander", "hours": 1.5, "weight": 1.5},
        {"person": "csm", "role": "comms_lead", "hours": 1.5, "weight": 1.25},
        {"person": "responder", "role": "commander", "hours": 0.67, "weight": 1.5},
    ]
    assert cost["responder_hours"] == 3.67
    assert cost["weighted_hours"] == 5.13  # 2.25 + 1.875 + 1.005 = 5.13
    assert cost["amount"] == 513


def test_cost_counts_only_the_response_not_what_came_after_the_end(history, clock, commander):
    before = facts.gather(history, now=T0 + timedelta(hours=3))["cost"]
    # A week later: the commander corrects a milestone and a responder who never worked on it
    # adds a note. Neither is time spent on the response.
    week_later = clock(7 * 24 * 60)
    later = make_user("latecomer", "Responders")
    services.correct_milestones(history, by=commander, detected_at=T0 + timedelta(minutes=1),
                                note="The alert fired a minute in.")
    services.add_note(history, text="Read the post-mortem.", by=later)
    after = facts.gather(history, now=week_later)["cost"]
    assert after == before


def test_a_commander_named_at_declaration_holds_it_from_then(clock, commander, responder):
    clock(0)
    incident = declare(by=responder, commander=commander, title="Named at once")
    clock(30)
    services.transition(incident, to="resolved", by=responder)
    incident.refresh_from_db()
    cost = facts.gather(incident, now=T0 + timedelta(hours=1))["cost"]
    assert cost["people"] == [
        {"person": "commander", "role": "commander", "hours": 0.5, "weight": 1.5},
        {"person": "responder", "role": "responder", "hours": 0.5, "weight": 1.0},
    ]


def test_excerpt_links_every_line_to_its_entry_and_the_record_to_verification(history):
    got = facts.gather(history, now=T0 + timedelta(hours=3))
    assert got["record"]["through_seq"] == history.timeline_seq
    assert got["record"]["verify_url"].endswith(f"/incidents/{history.pk}/verify/")
    first = got["excerpt"][0]
    assert first["kind"] == "declared" and first["url"].endswith(f"?all=1#entry-{first['seq']}")
    kinds = {e["kind"] for e in got["excerpt"]}
    assert "customers" not in kinds and "note" in kinds


def test_the_markdown_escapes_the_record_but_keeps_peoples_sections(history):
    postmortem = Postmortem.objects.get(incident=history)
    drafting.draft_due(postmortem.pk, T0 + timedelta(hours=3))
    postmortem.refresh_from_db()
    postmortem.went_well = "**Fast** rollback"
    text = document.markdown(postmortem)
    assert "Acme \\*Corp\\* (Enterprise)" in text
    html = document.html(postmortem)
    assert 'href="javascript' not in html  # a note's link stays text, never a link
    assert "[baseline](javascript:alert(1))" in html
    assert "<strong>Fast</strong> rollback" in html
    assert "| Resolution | Acme \\*Corp\\* | 1 h | 1 h 30 min | Breached |" in text


def test_summary_reads_from_the_facts(history):
    got = facts.gather(history, now=T0 + timedelta(hours=3))
    assert facts.summary(got) == (
        f"INC-{history.pk} (P2) affected Checkout API and 1 named customer for 45 min, from "
        "2026-03-02 09:00 UTC. It was mitigated after 45 min and resolved after 1 h 30 min. "
        "1 SLA target was breached.")


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (0, "0 s"), (59, "59 s"),
                                               (60, "1 min"), (3600, "1 h"), (3900, "1 h 5 min"),
                                               (86400, "1 d"), (97200, "1 d 3 h")])
def test_human_durations(seconds, text):
    assert facts.human(seconds) == text


def test_a_timeline_of_any_length_is_gathered_in_a_fixed_number_of_queries(
        django_assert_max_num_queries, commander):
    incident = declare(by=commander)
    with django_assert_max_num_queries(14):
        facts.gather(incident, now=timezone.now())
    for i in range(30):
        services.add_note(incident, text=f"note {i}", by=make_user(f"r{i}"))
    with django_assert_max_num_queries(14):
        facts.gather(incident, now=timezone.now())
