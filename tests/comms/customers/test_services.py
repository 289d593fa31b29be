import pytest
from django.core.exceptions import ValidationError

from comms.customers import services
from comms.models import Customer, TierPolicy
from config.errors import NotAllowed
from incidents import permissions
from incidents import services as incident_services
from incidents.models import EntryKind, TimelineEntry
from tests.comms.customers.conftest import make_customer
from tests.conftest import declare


def entries(incident, kind):
    return list(TimelineEntry.objects.filter(incident=incident, kind=kind).order_by("seq"))


# --- save_customer -----------------------------------------------------------------------------

def test_save_customer_creates_with_contacts_and_targets(acme, tier, csm):
    acme.refresh_from_db()
    assert (acme.name, acme.external_id, acme.tier, acme.csm) == ("Acme Corp", "crm-0001",
                                                                    tier, csm)
    assert [(c.name, c.email, c.role) for c in acme.contacts.all()] == [
        ("Dana Reyes", "dana@acme.example.com", "CTO")]
    assert [(t.severity, t.response_minutes, t.resolution_minutes)
            for t in acme.contract_targets.all()] == [("P1", 10, 120)]


def test_save_customer_reports_unchanged_and_writes_nothing(acme, tier, csm):
    stamp = Customer.objects.get(pk=acme.pk).updated_at
    _, outcome = services.save_customer(
        by=csm, customer=acme, name="Acme Corp", tier=tier, csm=csm,
        contacts=[{"name": "Dana Reyes", "email": "DANA@acme.example.com", "role": "CTO"}])
    assert outcome == services.UNCHANGED
    assert Customer.objects.get(pk=acme.pk).updated_at == stamp


def test_save_customer_replaces_contacts_only_when_given(acme, csm):
    _, outcome = services.save_customer(by=csm, customer=acme, name="Acme Corporation")
    assert outcome == services.UPDATED
    assert acme.contacts.count() == 1
    services.save_customer(by=csm, customer=acme, contacts=[
        {"name": "Ops", "email": "ops@acme.example.com"}])
    assert [c.email for c in acme.contacts.all()] == ["ops@acme.example.com"]
    assert Customer.objects.get(pk=acme.pk).name == "Acme Corporation"


def test_save_customer_refuses_bad_email_and_saves_nothing(acme, csm):
    with pytest.raises(ValidationError) as caught:
        services.save_customer(by=csm, customer=acme, name="Renamed", contacts=[
            {"name": "Ops", "email": "not-an-email"}])
    assert "contacts" in caught.value.message_dict
    assert "Contact 1: email" in caught.value.message_dict["contacts"][0]
    acme.refresh_from_db()
    assert acme.name == "Acme Corp" and acme.contacts.count() == 1


@pytest.mark.parametrize("name", ["Dana\nBcc: all@example.com", "Dana\rReyes", "Dana\x00"])
def test_save_customer_refuses_a_contact_name_that_would_break_an_email_header(acme, csm, name):
    with pytest.raises(ValidationError) as caught:
        services.save_customer(by=csm, customer=acme, contacts=[
            {"name": name, "email": "dana@acme.example.com"}])
    assert caught.value.message_dict["contacts"] == [
        "Contact 1: name: one line of text, without control characters."]
    assert list(acme.contacts.values_list("name", flat=True)) == ["Dana Reyes"]


def test_save_customer_refuses_taken_external_id(acme, business):
    with pytest.raises(ValidationError) as caught:
        make_customer("Other", business, "crm-0001")
    assert "external_id" in caught.value.message_dict


def test_save_customer_refuses_duplicate_severity_target(acme, csm):
    with pytest.raises(ValidationError) as caught:
        services.save_customer(by=csm, customer=acme, targets=[
            {"severity": "P2", "response_minutes": 5}, {"severity": "P2", "response_minutes": 9}])
    assert caught.value.message_dict["contract_targets"] == ["P2 is listed twice."]


def test_auditor_and_responder_cannot_save_customers(acme, auditor, responder, tier):
    for user in (auditor, responder):
        with pytest.raises(NotAllowed):
            services.save_customer(by=user, customer=acme, name="Hacked")
        with pytest.raises(NotAllowed):
            services.save_customer(by=user, name="New", tier=tier)
    assert Customer.objects.get(pk=acme.pk).name == "Acme Corp"


# --- set_customers -----------------------------------------------------------------------------

def test_set_customers_records_entry_and_adds_tiers(incident, acme, initech, csm, tier,
                                                    business):
    assert services.set_customers(incident, [acme, initech], by=csm) is True
    [entry] = entries(incident, EntryKind.CUSTOMERS)
    assert (entry.actor, entry.old_value, entry.new_value) == (csm, "", "Acme Corp, Initech")
    assert entry.data["new"] == [acme.pk, initech.pk] and entry.data["added"] == sorted(
        [acme.pk, initech.pk])
    assert set(incident.customer_tiers.all()) == {tier, business}
    [field] = entries(incident, EntryKind.FIELD)
    assert field.data == {"field": "customer_tiers", "old": [],
                          "new": ["business", "enterprise"]}


def test_set_customers_unchanged_writes_nothing(incident, acme, csm):
    services.set_customers(incident, [acme], by=csm)
    assert services.set_customers(incident, [acme], by=csm) is False
    assert len(entries(incident, EntryKind.CUSTOMERS)) == 1


def test_removing_customer_keeps_tier_named_directly(commander, service, acme, initech, tier,
                                                     business, csm):
    incident = declare(by=commander, services=[service], customer_tiers=[business])
    services.set_customers(incident, [acme, initech], by=csm)
    services.set_customers(incident, [acme], by=csm)
    assert set(incident.customer_tiers.all()) == {tier, business}
    last = entries(incident, EntryKind.CUSTOMERS)[-1]
    assert (last.old_value, last.new_value, last.data["removed"]) == (
        "Acme Corp, Initech", "Acme Corp", [initech.pk])


def test_auditor_cannot_set_customers(incident, acme, auditor):
    with pytest.raises(NotAllowed):
        services.set_customers(incident, [acme], by=auditor)
    assert not incident.customers.exists()


# --- suggestion and report ---------------------------------------------------------------------

def test_suggestion_is_most_severe_tier_policy(acme, initech, enterprise_policy, business):
    TierPolicy.objects.create(tier=business, suggested_severity="P3")
    assert services.suggest_severity([initech, acme]) == (
        "P2", "suggested P2: Acme Corp is Enterprise")
    assert services.suggest_severity([initech])[0] == "P3"


def test_suggestion_without_policy_is_p3(initech):
    assert services.suggest_severity([initech]) == (
        "P3", "suggested P3: no affected customer's tier suggests a severity")


def test_report_issue_declares_with_suggested_severity_and_customers(
        csm, service, acme, enterprise_policy, tier):
    incident = services.report_issue(by=csm, title="Acme cannot log in", service=service,
                                     customers=[acme], what_customer_sees="HTTP 500 on login")
    assert (incident.severity, incident.declared_by, incident.description) == (
        "P2", csm, "HTTP 500 on login")
    assert list(incident.customers.all()) == [acme]
    assert list(incident.services.all()) == [service]
    assert list(incident.customer_tiers.all()) == [tier]
    assert entries(incident, EntryKind.CUSTOMERS)[0].actor == csm


def test_report_issue_keeps_chosen_severity(csm, service, acme, enterprise_policy):
    incident = services.report_issue(by=csm, title="Acme slow", service=service,
                                     customers=[acme], what_customer_sees="Slow", severity="P4")
    assert incident.severity == "P4"


def test_reporter_sees_restricted_incident_afterwards(csm, service, acme, commander):
    incident = services.report_issue(by=csm, title="Acme data leak?", service=service,
                                     customers=[acme], what_customer_sees="Other's invoices")
    incident_services.set_restricted(incident, restricted=True, by=commander)
    assert permissions.can_view(csm, incident)


def test_responder_cannot_report(responder, service, acme):
    with pytest.raises(NotAllowed):
        services.report_issue(by=responder, title="x", service=service, customers=[acme],
                              what_customer_sees="y")
