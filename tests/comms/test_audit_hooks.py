"""Customers, SLA settings and the status page's configuration write the audit log from the
portal, the API, the admin and the import command: who, from where, only what changed. A refused
save writes nothing, and per-incident actions (affected customers, pausing clocks, a component's
status) stay on the incident's timeline only."""

from datetime import timedelta

import pytest
from django.core import serializers
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from comms.models import (
    BusinessCalendar,
    Component,
    ComponentGroup,
    Customer,
    Maintenance,
    MaintenanceState,
    Subscriber,
    TierPolicy,
)
from comms.status import services as status_services
from incidents.models import AuditEntry, AuditSource
from tests.comms.customers.conftest import make_customer

pytestmark = pytest.mark.django_db
LOCAL = "%Y-%m-%dT%H:%M"
BASE = timezone.now().replace(second=0, microsecond=0)


def entries(action=None):
    """This area's entries (sign-ins and the like are other areas' business)."""
    rows = AuditEntry.objects.filter(object_type__startswith="comms.").order_by("seq")
    return list(rows.filter(action=action) if action else rows)


def only(action):
    found = entries(action)
    assert len(found) == 1, [e.action for e in entries()]
    return found[0]


def assert_from(entry, user, source):
    assert (entry.actor_id, entry.actor_label, entry.source) == (user.pk, user.username, source)
    if source != AuditSource.COMMAND:
        assert entry.ip == "127.0.0.1"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def management(prefix, total, initial=0):
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


@pytest.fixture
def acme(tier, csm):
    return make_customer("Acme Corp", tier, "crm-0001", csm=csm,
                         contacts=[("Dana Reyes", "dana@acme.example.com", "CTO")],
                         targets=[{"severity": "P1", "response_minutes": 10,
                                   "resolution_minutes": 120}])


# --- Customers ------------------------------------------------------------------------------------

def customer_form(tier, **extra):
    data = {"name": "Globex", "external_id": "crm-0002", "tier": tier.pk, "csm": "",
            "notes": "", **management("contacts", 1), **management("targets", 4),
            "contacts-0-name": "Hank", "contacts-0-email": "hank@globex.example.com",
            "contacts-0-role": "CEO", "contacts-0-receives_updates": "on"}
    for i, severity in enumerate(["P1", "P2", "P3", "P4"]):
        data[f"targets-{i}-severity"] = severity
    data["targets-0-response_minutes"] = "15"
    data.update(extra)
    return data


def test_portal_creates_then_changes_a_customer(client, csm, tier):
    client.force_login(csm)
    assert client.post(reverse("customers:create"), customer_form(tier)).status_code == 302
    globex = Customer.objects.get(external_id="crm-0002")
    created = only("customer.create")
    assert_from(created, csm, AuditSource.WEB)
    assert (created.object_type, created.object_id) == ("comms.customer", str(globex.pk))
    assert created.before is None
    assert created.after == {
        "name": "Globex", "external_id": "crm-0002", "tier": tier.pk, "csm": None, "notes": "",
        "contacts": [{"name": "Hank", "email": "hank@globex.example.com", "role": "CEO",
                      "receives_updates": True}],
        "contract_targets": [{"severity": "P1", "response_minutes": 15,
                              "resolution_minutes": None}]}

    response = client.post(reverse("customers:edit", args=[globex.pk]), customer_form(
        tier, name="Globex Corp", **{"contacts-0-role": "Founder"},
        **management("contacts", 1, 1), **management("targets", 4, 4)))
    assert response.status_code == 302
    changed = only("customer.update")
    assert set(changed.before) == set(changed.after) == {"name", "contacts"}
    assert (changed.before["name"], changed.after["name"]) == ("Globex", "Globex Corp")
    assert changed.after["contacts"][0]["role"] == "Founder"

    # The same again: nothing changed, nothing logged.
    client.post(reverse("customers:edit", args=[globex.pk]), customer_form(
        tier, name="Globex Corp", **{"contacts-0-role": "Founder"},
        **management("contacts", 1, 1), **management("targets", 4, 4)))
    assert len(entries()) == 2


def test_refused_customer_save_writes_nothing(client, csm, tier, acme):
    before = len(entries())
    client.force_login(csm)
    bad_email = customer_form(tier, **{"contacts-0-email": "hank-at-globex"})
    assert client.post(reverse("customers:create"), bad_email).status_code == 400
    taken_id = customer_form(tier, external_id="crm-0001")
    assert client.post(reverse("customers:create"), taken_id).status_code == 400
    assert len(entries()) == before


def test_api_upsert_and_delete_come_from_the_api(csm, tier, acme):
    url = "/api/v1/customers/external/crm-0001/"
    body = {"name": "Acme Corporation", "tier": "enterprise", "csm": "csm",
            "contacts": [{"name": "Dana Reyes", "email": "dana@acme.example.com",
                          "role": "CTO"}]}
    assert api(csm).put(url, body, format="json").status_code == 200
    entry = only("customer.update")
    assert_from(entry, csm, AuditSource.API)
    assert entry.before == {"name": "Acme Corp"} and entry.after == {"name": "Acme Corporation"}

    refused = api(csm).put(url, {**body, "contacts": [{"name": "X", "email": "nope"}]},
                           format="json")
    assert refused.status_code == 400
    assert len(entries("customer.update")) == 1

    assert api(csm).delete(f"/api/v1/customers/{acme.pk}/").status_code == 204
    deleted = only("customer.delete")
    assert_from(deleted, csm, AuditSource.API)
    assert deleted.after is None and deleted.object_id == str(acme.pk)
    assert deleted.before["contacts"][0]["email"] == "dana@acme.example.com"
    assert deleted.before["contract_targets"] == [
        {"severity": "P1", "response_minutes": 10, "resolution_minutes": 120}]


def test_admin_change_with_inline_rows_is_one_entry(client, admin_user, acme, tier):
    client.force_login(admin_user)
    contact, target = acme.contacts.get(), acme.contract_targets.get()

    def inline(prefix, row, initial):
        return {**management(prefix, 1, initial),
                **{f"{prefix}-0-{k}": v for k, v in row.items()}}

    response = client.post(reverse("admin:comms_customer_change", args=[acme.pk]), {
        "name": "Acme Corp", "external_id": "crm-0001", "tier": tier.pk, "csm": "",
        "notes": "Renewal in May",
        **inline("contacts", {"id": contact.pk, "customer": acme.pk, "name": "Dana R.",
                              "email": contact.email, "role": "CTO",
                              "receives_updates": "on"}, 1),
        **inline("contract_targets", {"id": target.pk, "customer": acme.pk,
                                      "severity": "P1", "response_minutes": "10",
                                      "resolution_minutes": "120"}, 1),
    })
    assert response.status_code == 302
    entry = only("customer.update")
    assert_from(entry, admin_user, AuditSource.ADMIN)
    assert set(entry.after) == {"csm", "notes", "contacts"}
    assert entry.after["notes"] == "Renewal in May" and entry.after["csm"] is None
    assert entry.after["contacts"][0]["name"] == "Dana R."


def test_admin_adds_a_customer_in_one_entry(client, admin_user, tier):
    client.force_login(admin_user)
    response = client.post(reverse("admin:comms_customer_add"), {
        "name": "Globex", "external_id": "crm-0002", "tier": tier.pk, "csm": "", "notes": "",
        **management("contacts", 1), "contacts-0-name": "Hank",
        "contacts-0-email": "hank@globex.example.com", "contacts-0-receives_updates": "on",
        **management("contract_targets", 0)})
    assert response.status_code == 302
    entry = only("customer.create")
    assert entry.object_id == str(Customer.objects.get().pk)
    assert [c["email"] for c in entry.after["contacts"]] == ["hank@globex.example.com"]
    assert len(entries()) == 1


def test_import_command_writes_as_a_command(tmp_path, tier, csm):
    path = tmp_path / "accounts.csv"
    path.write_text("external_id,name,tier,csm,contact_name,contact_email\n"
                    "crm-7,Initech,enterprise,csm,Bill,bill@initech.example.com\n")
    call_command("import_customers", str(path), stdout=open(tmp_path / "out", "w"))  # noqa: SIM115
    entry = only("customer.create")
    assert (entry.source, entry.actor_id, entry.ip) == (AuditSource.COMMAND, None, None)
    assert entry.after["name"] == "Initech"
    call_command("import_customers", str(path), "--dry-run",
                 stdout=open(tmp_path / "out2", "w"))  # noqa: SIM115
    assert len(entries()) == 1


def test_incident_customers_stay_on_the_timeline(client, csm, acme, incident):
    client.force_login(csm)
    before = len(entries())
    response = client.post(reverse("customers:incident-set", args=[incident.pk]),
                           {"customers": [acme.pk]})
    assert response.status_code in (200, 302)
    assert incident.customers.get() == acme
    assert len(entries()) == before


# --- SLA settings ---------------------------------------------------------------------------------

def tier_form(calendar=None, **changes):
    data = {"calendar": calendar.pk if calendar else "", "amber_percent_left": 50,
            "red_percent_left": 20, "suggested_severity": "P3"}
    for severity in ("P1", "P2", "P3", "P4"):
        data |= {f"{severity}_response_minutes": "", f"{severity}_response_on": "acknowledged",
                 f"{severity}_resolution_minutes": ""}
    data["P1_response_minutes"] = 15
    return data | changes


def test_tier_settings_are_one_entry_per_save_with_only_changed_targets(client, admin_user,
                                                                        tier):
    client.force_login(admin_user)
    url = reverse("sla:tier", args=[tier.slug])
    assert client.post(url, tier_form()).status_code == 302
    policy = TierPolicy.objects.get(tier=tier)
    created = only("sla_policy.create")
    assert_from(created, admin_user, AuditSource.WEB)
    assert (created.object_type, created.object_id) == ("comms.tierpolicy", str(policy.pk))
    assert created.after == {
        "calendar": None, "amber_percent_left": 50, "red_percent_left": 20,
        "suggested_severity": "P3", "message_approval": False,
        "target P1": {"response_minutes": 15, "response_on": "acknowledged",
                      "resolution_minutes": None}}

    response = client.post(url, tier_form(P2_resolution_minutes=480, message_approval="on"))
    assert response.status_code == 302
    changed = only("sla_policy.update")
    assert changed.before == {"message_approval": False, "target P2": None}
    assert changed.after == {"message_approval": True, "target P2": {
        "response_minutes": None, "response_on": "acknowledged", "resolution_minutes": 480}}

    assert client.post(url, tier_form(red_percent_left=60)).status_code == 400
    assert len(entries()) == 2


def test_business_calendar_create_and_change(client, admin_user):
    client.force_login(admin_user)
    data = {"name": "Berlin office", "time_zone": "Europe/Berlin", "weekdays": [0, 1, 2, 3, 4],
            "start": "09:00", "end": "17:00", "holidays": "2026-12-24 Christmas Eve"}
    assert client.post(reverse("sla:calendar-new"), data).status_code == 302
    calendar = BusinessCalendar.objects.get()
    created = only("business_calendar.create")
    assert_from(created, admin_user, AuditSource.WEB)
    assert created.after == {"name": "Berlin office", "time_zone": "Europe/Berlin",
                             "weekdays": [0, 1, 2, 3, 4], "start": "09:00:00",
                             "end": "17:00:00", "holidays": {"2026-12-24": "Christmas Eve"}}
    response = client.post(reverse("sla:calendar", args=[calendar.pk]), data | {
        "end": "18:00", "holidays": "2026-12-24 Christmas Eve\n2026-12-31 New Year's Eve"})
    assert response.status_code == 302
    changed = only("business_calendar.update")
    assert changed.before == {"end": "17:00:00", "holidays": {"2026-12-24": "Christmas Eve"}}
    assert changed.after["holidays"] == {"2026-12-24": "Christmas Eve",
                                         "2026-12-31": "New Year's Eve"}
    refused = client.post(reverse("sla:calendar", args=[calendar.pk]), data | {"end": "08:00"})
    assert refused.status_code == 400
    assert len(entries()) == 2


def test_pausing_clocks_stays_on_the_timeline(client, commander, incident):
    client.force_login(commander)
    response = client.post(reverse("sla:pause", args=[incident.pk]),
                           {"reason": "Waiting for the customer's HAR file"})
    assert response.status_code in (200, 302)
    assert incident.sla_pauses.exists()
    assert entries() == []


# --- The status page ------------------------------------------------------------------------------

@pytest.fixture
def as_csm(client, csm):
    client.force_login(csm)
    return client


def test_groups_and_components_created_changed_and_deleted(as_csm, csm, service):
    assert as_csm.post("/status/manage/groups/new/", {
        "name": "Payments", "description": "", "position": 1}).status_code == 302
    group = ComponentGroup.objects.get()
    assert_from(only("component_group.create"), csm, AuditSource.WEB)
    response = as_csm.post("/status/manage/components/new/", {
        "name": "Checkout", "description": "", "group": group.pk, "position": 1,
        "services": [service.pk], "follows_incidents": "on"})
    assert response.status_code == 302
    component = Component.objects.get()
    created = only("component.create")
    assert created.after == {"name": "Checkout", "description": "", "group": group.pk,
                             "position": 1, "follows_incidents": True, "internal": False,
                             "services": [service.pk]}
    response = as_csm.post(f"/status/manage/components/{component.code}/", {
        "name": "Checkout", "description": "", "group": group.pk, "position": 1,
        "follows_incidents": "on", "internal": "on"})
    assert response.status_code == 302
    changed = only("component.update")
    assert changed.before == {"internal": False, "services": [service.pk]}
    assert changed.after == {"internal": True, "services": []}

    refused = as_csm.post("/status/manage/components/new/", {"name": "Checkout",
                                                             "position": 1})
    assert refused.status_code == 400  # the name is taken
    assert len(entries("component.create")) == 1

    response = as_csm.post(f"/status/manage/components/{component.code}/delete/")
    assert response.status_code == 302
    deleted = only("component.delete")
    assert (deleted.object_id, deleted.after) == (str(component.pk), None)
    assert deleted.before["name"] == "Checkout"
    assert as_csm.post(f"/status/manage/groups/{group.code}/delete/").status_code == 302
    assert only("component_group.delete").object_id == str(group.pk)


def test_a_status_set_by_hand_is_not_configuration(as_csm, csm):
    component = status_services.save_component(by=csm, name="Checkout")
    before = len(entries())
    response = as_csm.post(f"/status/manage/components/{component.code}/status/",
                           {f"{component.code}-status": "partial_outage"})
    assert response.status_code == 302
    assert len(entries()) == before


def test_branding_change(as_csm, csm):
    response = as_csm.post("/status/manage/branding/", {
        "name": "Acme status", "about": "", "logo_url": "", "accent_colour": "#112233",
        "support_url": "https://support.example.com/", "time_zone": "UTC"})
    assert response.status_code == 302
    entry = only("status_page.update")
    assert_from(entry, csm, AuditSource.WEB)
    assert entry.before == {"name": "Relay status", "accent_colour": "#1d4ed8",
                            "support_url": ""}
    assert entry.after == {"name": "Acme status", "accent_colour": "#112233",
                           "support_url": "https://support.example.com/"}
    refused = as_csm.post("/status/manage/branding/", {
        "name": "Acme status", "accent_colour": "blue", "time_zone": "UTC"})
    assert refused.status_code == 400
    assert len(entries()) == 1


def maintenance_form(component, **extra):
    start = BASE + timedelta(days=1)
    return {"name": "Database upgrade", "body": "Checkout may be slow.",
            "components": [component.pk], "starts_at": start.strftime(LOCAL),
            "ends_at": (start + timedelta(hours=2)).strftime(LOCAL), "verify_minutes": "15",
            "remind_minutes": "60", **extra}


def test_maintenance_scheduled_edited_and_deleted_in_the_portal(as_csm, csm, service):
    component = status_services.save_component(by=csm, name="Checkout", services=[service])
    response = as_csm.post("/status/manage/maintenances/new/",
                           maintenance_form(component, windows="on"))
    assert response.status_code == 302
    row = Maintenance.objects.get()
    scheduled = only("maintenance.schedule")
    assert_from(scheduled, csm, AuditSource.WEB)
    assert scheduled.after["components"] == [component.pk]
    assert scheduled.after["windows"] is True and scheduled.after["verify_minutes"] == 15

    response = as_csm.post(f"/status/manage/maintenances/{row.code}/",
                           maintenance_form(component, name="Database upgrade (v16)",
                                            windows="on"))
    assert response.status_code == 302
    edited = only("maintenance.update")
    assert edited.before == {"name": "Database upgrade"}
    assert edited.after == {"name": "Database upgrade (v16)"}

    refused = as_csm.post(f"/status/manage/maintenances/{row.code}/", maintenance_form(
        component, ends_at=BASE.strftime(LOCAL)))
    assert refused.status_code == 400
    assert len(entries("maintenance.update")) == 1

    response = as_csm.post(f"/status/manage/maintenances/{row.code}/delete/")
    assert response.status_code == 302
    deleted = only("maintenance.delete")
    assert (deleted.object_id, deleted.after) == (str(row.pk), None)
    assert deleted.before["name"] == "Database upgrade (v16)"


def test_maintenance_subscribers_heard_of_is_cancelled_not_deleted(as_csm, csm):
    component = status_services.save_component(by=csm, name="Checkout")
    Subscriber.objects.create(kind="email", email="ops@customer.example.com",
                              confirmed_at=timezone.now())
    as_csm.post("/status/manage/maintenances/new/", maintenance_form(component))
    row = Maintenance.objects.get()
    assert as_csm.post(f"/status/manage/maintenances/{row.code}/delete/").status_code == 302
    row.refresh_from_db()
    assert row.state == MaintenanceState.COMPLETED
    entry = only("maintenance.cancel")
    assert entry.before == {"state": "scheduled"} and entry.after == {"state": "completed"}


def test_maintenance_through_the_api(csm):
    component = status_services.save_component(by=csm, name="Checkout")
    start = BASE.replace(minute=0) + timedelta(days=1)
    response = api(csm).post("/api/v1/status/maintenances/", {
        "name": "Database upgrade", "body": "Checkout may be slow.",
        "components": [component.code], "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat()}, format="json")
    assert response.status_code == 201, response.json()
    code = response.json()["code"]
    assert_from(only("maintenance.schedule"), csm, AuditSource.API)
    response = api(csm).patch(f"/api/v1/status/maintenances/{code}/",
                              {"remind_minutes": 30}, format="json")
    assert response.status_code == 200
    entry = only("maintenance.update")
    assert_from(entry, csm, AuditSource.API)
    assert (entry.before, entry.after) == ({"remind_minutes": 60}, {"remind_minutes": 30})


def test_entries_hold_no_subscriber_secret(as_csm, csm):
    """Configuration entries never carry subscriber tokens or signing secrets."""
    component = status_services.save_component(by=csm, name="Checkout")
    subscriber = Subscriber.objects.create(
        kind="webhook", url="https://hooks.customer.example.com/status",
        secret="whsec-not-for-the-log", confirmed_at=timezone.now())
    as_csm.post("/status/manage/maintenances/new/", maintenance_form(component))
    text = serializers.serialize("json", entries())
    assert subscriber.token not in text and subscriber.secret not in text
