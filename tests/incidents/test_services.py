"""incidents.services: validation, roles, severity, notes, details, milestones, merge, access."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.errors import DomainError
from incidents import services
from incidents.models import (
    CustomerTier,
    EntryKind,
    Incident,
    IncidentGroupObjectPermission,
    IncidentUserObjectPermission,
    Service,
    Severity,
    Status,
    TimelineEntry,
)
from incidents.services import InvalidTransition
from incidents.timeline import verify_chain
from oncall.models import EscalationPolicy
from tests.conftest import declare, make_team, make_user

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    now = [NOW]
    monkeypatch.setattr(timezone, "now", lambda: now[0])

    def advance(minutes: int) -> datetime:
        now[0] += timedelta(minutes=minutes)
        return now[0]

    return advance


def entries(incident, kind=None):
    rows = TimelineEntry.objects.filter(incident=incident).order_by("seq")
    return list(rows.filter(kind=kind) if kind else rows)


# --- declare -----------------------------------------------------------------------------------

def test_declare_writes_incident_and_declared_entry(commander, service, tier):
    incident = services.declare(title="  Checkout returns 502  ", severity=Severity.P1,
                                by=commander, services=[service], customer_tiers=[tier],
                                description=" Most card payments fail. ")
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 502"
    assert incident.description == "Most card payments fail."
    assert (incident.severity, incident.status) == (Severity.P1, Status.TRIGGERED)
    assert incident.declared_by == commander
    assert list(incident.services.all()) == [service]
    assert list(incident.customer_tiers.all()) == [tier]
    [entry] = entries(incident)
    assert (entry.seq, entry.kind, entry.actor) == (1, EntryKind.DECLARED, commander)
    assert entry.new_value == "P1"
    assert entry.note == "Checkout returns 502"
    assert entry.data == {"severity": "P1", "services": ["checkout-api"],
                          "customer_tiers": ["enterprise"], "restricted": False, "commander": "",
                          "escalation_policy": "", "paging": False}


def test_declare_takes_the_services_escalation_policy_unless_one_is_given(commander, service):
    default = EscalationPolicy.objects.create(name="Checkout default")
    night = EscalationPolicy.objects.create(name="Checkout nights")
    service.escalation_policy = default
    service.save()
    plain = services.declare(title="502s", severity=Severity.P2, by=commander, services=[service])
    routed = services.declare(title="502s at night", severity=Severity.P2, by=commander,
                              services=[service], escalation_policy=night)
    quiet = services.declare(title="During maintenance", severity=Severity.P2, by=commander,
                             services=[service], page=False)
    assert (plain.escalation_policy, routed.escalation_policy) == (default, night)
    assert [entries(i)[0].data["paging"] for i in (plain, routed, quiet)] == [True, True, False]
    assert entries(routed)[0].data["escalation_policy"] == "Checkout nights"


def test_declare_by_a_system_keeps_its_label(db):
    incident = services.declare(title="Disk full", severity=Severity.P3,
                                actor_label="alertmanager")
    [entry] = entries(incident)
    assert (entry.actor, entry.actor_label) == (None, "alertmanager")


@pytest.mark.parametrize(("fields", "bad_field"), [
    ({"title": ""}, "title"),
    ({"title": "   \n\t "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"severity": "P5"}, "severity"),
    ({"severity": "p1"}, "severity"),
    ({"description": "d" * 20001}, "description"),
    ({"started_at": "future"}, "started_at"),
])
def test_declare_rejects_invalid_input_and_writes_nothing(fields, bad_field, commander, service):
    if fields.get("started_at") == "future":
        fields["started_at"] = timezone.now() + timedelta(minutes=5)
    kwargs = {"title": "Checkout returns 502", "severity": Severity.P2, **fields}

    with pytest.raises(ValidationError) as raised:
        services.declare(by=commander, services=[service], **kwargs)

    assert list(raised.value.message_dict) == [bad_field]
    assert not Incident.objects.exists()
    assert not TimelineEntry.objects.exists()


def test_declare_accepts_title_of_exactly_200_characters(commander):
    incident = services.declare(title="x" * 200, severity=Severity.P4, by=commander)
    assert Incident.objects.get().title == "x" * 200
    assert entries(incident)[0].note == "x" * 200


def test_declare_names_valid_severities_in_error(commander):
    with pytest.raises(ValidationError) as raised:
        services.declare(title="t", severity="P9", by=commander)
    assert raised.value.message_dict["severity"] == [
        "Unknown severity 'P9'; choose one of P1, P2, P3, P4."]


def test_declare_accepts_start_in_the_past(clock, commander):
    started = NOW - timedelta(hours=2)
    incident = services.declare(title="t", severity=Severity.P2, by=commander, started_at=started)
    incident.refresh_from_db()
    assert (incident.started_at, incident.detected_at) == (started, NOW)


# --- roles -------------------------------------------------------------------------------------

def test_assign_roles_writes_one_entry_per_changed_role(incident, commander, responder, csm):
    services.assign_roles(incident, by=commander, commander=responder, comms_lead=csm)
    incident.refresh_from_db()
    assert (incident.commander, incident.comms_lead) == (responder, csm)
    roles = entries(incident, EntryKind.ROLE)
    assert [(e.data["role"], e.old_value, e.new_value) for e in roles] == [
        ("commander", "", "responder"), ("comms_lead", "", "csm")]
    assert all(e.actor == commander for e in roles)


def test_assign_roles_writes_nothing_when_unchanged(commander, responder):
    incident = declare(by=commander, commander=commander)
    services.assign_roles(incident, by=commander, responders=[responder])
    seq = incident.timeline_seq

    services.assign_roles(incident, by=commander, commander=commander, responders=[responder])

    incident.refresh_from_db()
    assert incident.timeline_seq == seq
    assert len(entries(incident)) == seq


def test_assign_roles_unassigns_commander(commander):
    incident = declare(by=commander, commander=commander)
    services.assign_roles(incident, by=commander, commander=None)
    incident.refresh_from_db()
    assert incident.commander is None
    entry = entries(incident)[-1]
    assert (entry.data, entry.old_value, entry.new_value) == (
        {"role": "commander"}, "commander", "")


def test_assign_responders_records_added_and_removed(incident, commander, responder):
    extra = make_user("oncall-bob", "Responders")
    services.assign_roles(incident, by=commander, responders=[responder, extra])
    services.assign_roles(incident, by=commander, responders=[extra, commander])

    assert set(incident.responders.all()) == {extra, commander}
    first, second = entries(incident, EntryKind.ROLE)
    assert first.data == {"role": "responders", "added": ["oncall-bob", "responder"],
                          "removed": []}
    assert (first.old_value, first.new_value) == ("", "oncall-bob, responder")
    assert second.data == {"role": "responders", "added": ["commander"], "removed": ["responder"]}
    assert (second.old_value, second.new_value) == (
        "oncall-bob, responder", "commander, oncall-bob")


# --- severity ----------------------------------------------------------------------------------

def test_change_severity_writes_entry(incident, commander):
    services.change_severity(incident, severity=Severity.P1, by=commander, note="all regions")
    incident.refresh_from_db()
    assert incident.severity == Severity.P1
    entry = entries(incident)[-1]
    assert (entry.kind, entry.old_value, entry.new_value, entry.note) == (
        EntryKind.SEVERITY, "P2", "P1", "all regions")


def test_change_severity_to_same_is_rejected(incident, commander):
    with pytest.raises(DomainError, match="already P2") as raised:
        services.change_severity(incident, severity=Severity.P2, by=commander)
    assert raised.value.field == "severity"
    assert incident.timeline.count() == 1


def test_change_severity_rejects_unknown_severity(incident, commander):
    with pytest.raises(ValidationError):
        services.change_severity(incident, severity="P0", by=commander)
    incident.refresh_from_db()
    assert (incident.severity, incident.timeline.count()) == (Severity.P2, 1)


@pytest.mark.parametrize("closing", [Status.RESOLVED, Status.DECLINED])
def test_change_severity_of_closed_incident_is_rejected(closing, incident, commander):
    services.transition(incident, to=closing, by=commander)
    with pytest.raises(InvalidTransition, match="reopen it first"):
        services.change_severity(incident, severity=Severity.P1, by=commander)
    incident.refresh_from_db()
    assert (incident.severity, incident.timeline.count()) == (Severity.P2, 2)


# --- notes and details -------------------------------------------------------------------------

def test_add_note_appends_entry(incident, responder):
    entry = services.add_note(incident, text="  Rolled back deploy 4411.  ", by=responder)
    assert entries(incident)[-1] == entry
    assert (entry.seq, entry.kind, entry.note, entry.actor) == (
        2, EntryKind.NOTE, "Rolled back deploy 4411.", responder)


@pytest.mark.parametrize("text", ["", "   ", "n" * 20001])
def test_add_note_rejects_empty_or_huge_text(text, incident, responder):
    with pytest.raises(ValidationError) as raised:
        services.add_note(incident, text=text, by=responder)
    assert list(raised.value.message_dict) == ["text"]
    assert incident.timeline.count() == 1


def test_update_details_records_each_changed_field(incident, commander, service, tier):
    other = Service.objects.create(name="Search", slug="search")
    services.update_details(incident, by=commander, title="Checkout returns 503",
                            description="Only EU", services=[service, other],
                            customer_tiers=[tier])
    incident.refresh_from_db()
    assert (incident.title, incident.description) == ("Checkout returns 503", "Only EU")
    assert set(incident.services.all()) == {service, other}
    fields = entries(incident, EntryKind.FIELD)
    assert [(e.data["field"], e.old_value, e.new_value) for e in fields] == [
        ("title", "Checkout returns 502", "Checkout returns 503"),
        ("description", "", "Only EU"),
        ("services", "checkout-api", "checkout-api, search"),
        ("customer_tiers", "", "enterprise"),
    ]


def test_update_details_without_changes_writes_nothing(incident, commander, service):
    services.update_details(incident, by=commander, title=" Checkout returns 502 ",
                            services=[service], description=None)
    assert incident.timeline.count() == 1


def test_update_details_rejects_empty_title(incident, commander):
    with pytest.raises(ValidationError) as raised:
        services.update_details(incident, by=commander, title="  ")
    assert list(raised.value.message_dict) == ["title"]
    incident.refresh_from_db()
    assert (incident.title, incident.timeline.count()) == ("Checkout returns 502", 1)


# --- milestones --------------------------------------------------------------------------------

@pytest.fixture
def resolved(clock, commander):
    """Declared at NOW, acknowledged +5 min, monitoring +20, resolved +40; clock at +60."""
    incident = declare(by=commander, commander=commander)
    for minutes, status in ((5, Status.ACKNOWLEDGED), (15, Status.MONITORING),
                            (20, Status.RESOLVED)):
        clock(minutes)
        services.transition(incident, to=status, by=commander)
    clock(20)
    incident.refresh_from_db()
    return incident


def test_correct_milestones_writes_one_entry_per_changed_milestone(resolved, commander):
    started, acked = NOW - timedelta(minutes=10), NOW + timedelta(minutes=2)
    old_started, old_acked = resolved.started_at, resolved.acknowledged_at
    seq = resolved.timeline_seq

    services.correct_milestones(resolved, by=commander, note="from the load balancer logs",
                                started_at=started, acknowledged_at=acked,
                                mitigated_at=resolved.mitigated_at)

    resolved.refresh_from_db()
    assert (resolved.started_at, resolved.acknowledged_at) == (started, acked)
    new = entries(resolved)[seq:]
    assert [(e.kind, e.data, e.old_value, e.new_value, e.note) for e in new] == [
        (EntryKind.MILESTONE, {"milestone": "started_at"}, old_started.isoformat(),
         started.isoformat(), "from the load balancer logs"),
        (EntryKind.MILESTONE, {"milestone": "acknowledged_at"}, old_acked.isoformat(),
         acked.isoformat(), "from the load balancer logs"),
    ]
    assert verify_chain(resolved.pk).intact


def test_correcting_resolved_at_moves_closed_at(resolved, commander):
    at = resolved.resolved_at - timedelta(minutes=1)
    services.correct_milestones(resolved, by=commander, resolved_at=at)
    resolved.refresh_from_db()
    assert (resolved.resolved_at, resolved.closed_at) == (at, at)


def test_correct_milestones_rejects_order_violation_on_offending_field(resolved, commander):
    before = (resolved.timeline_seq, resolved.acknowledged_at, resolved.started_at)

    with pytest.raises(ValidationError) as raised:
        services.correct_milestones(resolved, by=commander,
                                    started_at=NOW - timedelta(minutes=30),
                                    acknowledged_at=NOW - timedelta(minutes=1))

    assert list(raised.value.message_dict) == ["acknowledged_at"]
    assert "Must not be before detected" in raised.value.message_dict["acknowledged_at"][0]
    resolved.refresh_from_db()
    assert (resolved.timeline_seq, resolved.acknowledged_at, resolved.started_at) == before
    assert len(entries(resolved)) == before[0]


def test_milestone_order_error_gives_the_earlier_time_in_utc(resolved, commander):
    """Forms and the API hand over aware datetimes in the current time zone (TIME_ZONE may be
    Europe/Paris); the message labels the time UTC, so it must be converted to UTC."""
    paris_summer = dt_timezone(timedelta(hours=2))
    detected = (NOW - timedelta(minutes=5)).astimezone(paris_summer)  # 13:55+02:00
    with pytest.raises(ValidationError) as raised:
        services.correct_milestones(resolved, by=commander,
                                    started_at=NOW - timedelta(minutes=10), detected_at=detected,
                                    acknowledged_at=NOW - timedelta(minutes=6))
    assert raised.value.message_dict == {
        "acknowledged_at": ["Must not be before detected (2026-03-02 11:55:00 UTC)."]}


def test_correct_milestones_rejects_future_times(resolved, commander):
    seq = resolved.timeline_seq
    with pytest.raises(ValidationError) as raised:
        services.correct_milestones(resolved, by=commander,
                                    resolved_at=timezone.now() + timedelta(seconds=1))
    assert raised.value.message_dict == {"resolved_at": ["Cannot be in the future."]}
    assert len(entries(resolved)) == seq


def test_correct_milestones_rejects_resolution_time_on_open_incident(incident, commander):
    with pytest.raises(ValidationError) as raised:
        services.correct_milestones(incident, by=commander, resolved_at=timezone.now())
    assert "resolved_at" in raised.value.message_dict
    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert incident.timeline.count() == 1


def test_correct_milestones_rejects_unknown_names(resolved, commander):
    with pytest.raises(ValidationError) as raised:
        services.correct_milestones(resolved, by=commander, closed_at=NOW)
    assert raised.value.message_dict == {"closed_at": ["Not a milestone."]}


def test_correct_milestones_with_same_values_writes_nothing(resolved, commander):
    seq = resolved.timeline_seq
    services.correct_milestones(resolved, by=commander, started_at=resolved.started_at)
    assert len(entries(resolved)) == seq


# --- merge -------------------------------------------------------------------------------------

def test_merge_closes_duplicate_and_writes_both_timelines(clock, commander, service, tier):
    survivor = declare(by=commander, title="Checkout down")
    duplicate = declare(by=commander, title="Payments 502", services=[service],
                        customer_tiers=[tier])
    at = clock(3)

    services.merge(duplicate, into=survivor, by=commander, note="same root cause")

    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into, duplicate.closed_at) == (
        Status.MERGED, survivor, at)
    assert list(survivor.services.all()) == [service]
    assert list(survivor.customer_tiers.all()) == [tier]
    closing = entries(duplicate)[-1]
    assert (closing.kind, closing.old_value, closing.new_value, closing.note, closing.data) == (
        EntryKind.MERGED_INTO, "triggered", survivor.reference, "same root cause",
        {"into": survivor.pk})
    received = entries(survivor)[-1]
    assert (received.kind, received.new_value) == (EntryKind.MERGE_RECEIVED, duplicate.reference)
    assert received.data == {"from": duplicate.pk, "title": "Payments 502",
                             "services": ["checkout-api"], "customer_tiers": ["enterprise"]}
    assert verify_chain(duplicate.pk).intact and verify_chain(survivor.pk).intact


def test_merge_reports_only_services_the_survivor_gained(commander, service):
    other = Service.objects.create(name="Search", slug="search")
    survivor = declare(by=commander, services=[service])
    duplicate = declare(by=commander, services=[service, other])
    services.merge(duplicate, into=survivor, by=commander)
    assert set(survivor.services.all()) == {service, other}
    assert entries(survivor)[-1].data["services"] == ["search"]


def test_merge_into_itself_is_rejected(incident, commander):
    with pytest.raises(DomainError, match="into itself"):
        services.merge(incident, into=Incident.objects.get(pk=incident.pk), by=commander)
    incident.refresh_from_db()
    assert (incident.status, incident.timeline.count()) == (Status.TRIGGERED, 1)


def test_merge_into_closed_incident_is_rejected(incident, commander):
    closed = declare(by=commander)
    services.transition(closed, to=Status.RESOLVED, by=commander)
    with pytest.raises(DomainError, match="merge into an open incident") as raised:
        services.merge(incident, into=closed, by=commander)
    assert raised.value.field == "into"
    incident.refresh_from_db()
    assert (incident.status, incident.merged_into, incident.timeline.count()) == (
        Status.TRIGGERED, None, 1)
    assert closed.timeline.count() == 2


def test_merge_of_closed_incident_is_rejected(incident, commander):
    survivor = declare(by=commander)
    services.transition(incident, to=Status.DECLINED, by=commander)
    with pytest.raises(InvalidTransition):
        services.merge(incident, into=survivor, by=commander)
    assert survivor.timeline.count() == 1


def test_restricted_incident_cannot_merge_into_unrestricted(restricted_incident, incident,
                                                            commander):
    with pytest.raises(DomainError, match="restricted one"):
        services.merge(restricted_incident, into=incident, by=commander)
    restricted_incident.refresh_from_db()
    assert restricted_incident.status == Status.TRIGGERED
    assert (restricted_incident.timeline.count(), incident.timeline.count()) == (1, 1)


def test_restricted_incident_merges_into_restricted(restricted_incident, commander):
    survivor = declare(by=commander, restricted=True)
    services.merge(restricted_incident, into=survivor, by=commander)
    restricted_incident.refresh_from_db()
    assert restricted_incident.merged_into == survivor


# --- restriction and access --------------------------------------------------------------------

def test_set_restricted_writes_entry_and_grants_people_on_the_incident(incident, commander,
                                                                       responder, csm):
    services.assign_roles(incident, by=commander, comms_lead=csm, responders=[responder])
    services.set_restricted(incident, restricted=True, by=commander)

    incident.refresh_from_db()
    assert incident.restricted
    entry = entries(incident)[-1]
    assert (entry.kind, entry.old_value, entry.new_value, entry.data) == (
        EntryKind.RESTRICTION, "False", "True", {"restricted": True})
    granted = set(IncidentUserObjectPermission.objects.filter(content_object=incident)
                  .values_list("user__username", flat=True))
    assert granted == {"commander", "csm", "responder"}


def test_set_restricted_to_current_value_writes_nothing(incident, commander):
    services.set_restricted(incident, restricted=False, by=commander)
    assert incident.timeline.count() == 1


def test_lifting_restriction_writes_entry(restricted_incident, commander):
    services.set_restricted(restricted_incident, restricted=False, by=commander)
    restricted_incident.refresh_from_db()
    assert not restricted_incident.restricted
    entry = entries(restricted_incident)[-1]
    assert (entry.kind, entry.old_value, entry.new_value) == (
        EntryKind.RESTRICTION, "True", "False")


def test_grant_access_to_user_writes_entry(restricted_incident, commander, responder):
    services.grant_access(restricted_incident, by=commander, user=responder)
    entry = entries(restricted_incident)[-1]
    assert (entry.kind, entry.new_value, entry.data) == (
        EntryKind.RESTRICTION, "responder", {"granted_to": "user", "name": "responder"})
    assert IncidentUserObjectPermission.objects.filter(
        content_object=restricted_incident, user=responder).exists()


def test_grant_access_to_team_writes_entry(restricted_incident, commander, team):
    services.grant_access(restricted_incident, by=commander, team=team)
    entry = entries(restricted_incident)[-1]
    assert (entry.kind, entry.new_value, entry.data) == (
        EntryKind.RESTRICTION, "Payments", {"granted_to": "team", "name": "payments"})
    assert IncidentGroupObjectPermission.objects.filter(
        content_object=restricted_incident, group=team.group).exists()


@pytest.mark.parametrize("target", ["neither", "both"])
def test_grant_access_needs_exactly_one_target(target, restricted_incident, commander, responder):
    extra = {"neither": {}, "both": {"user": responder, "team": make_team("Infra")}}[target]
    with pytest.raises(ValidationError):
        services.grant_access(restricted_incident, by=commander, **extra)
    assert restricted_incident.timeline.count() == 1


def test_every_service_keeps_the_chain_intact(commander, responder, service, tier):
    incident = declare(by=commander, services=[service])
    services.assign_roles(incident, by=commander, commander=commander, responders=[responder])
    services.change_severity(incident, severity=Severity.P1, by=commander)
    services.add_note(incident, text="Looking", by=responder)
    services.update_details(incident, by=commander, customer_tiers=[tier])
    services.transition(incident, to=Status.RESOLVED, by=commander)
    services.set_restricted(incident, restricted=True, by=commander)
    report = verify_chain(incident.pk)
    assert (report.intact, report.entries) == (True, 8)
    assert [e.seq for e in entries(incident)] == list(range(1, 9))
    assert CustomerTier.objects.get().incidents.get() == incident
