"""The admin saves a customer and its inline rows through the service, whole or not at all."""

from django.urls import reverse

from comms.models import Customer


def _inline(prefix, rows, initial=0):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_admin_adds_customer_with_contacts_and_targets(client, admin_user, tier):
    client.force_login(admin_user)
    response = client.post(reverse("admin:comms_customer_add"), {
        "name": "Globex", "external_id": "crm-0002", "tier": tier.pk, "csm": "", "notes": "",
        **_inline("contacts", [{"name": "Hank", "email": "HANK@globex.example.com",
                                "role": "CEO", "receives_updates": "on"}]),
        **_inline("contract_targets", [{"severity": "P1", "response_minutes": "15"}]),
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    globex = Customer.objects.get(external_id="crm-0002")
    assert [c.email for c in globex.contacts.all()] == ["hank@globex.example.com"]
    assert [(t.severity, t.response_minutes) for t in globex.contract_targets.all()] == [
        ("P1", 15)]


def test_admin_search_and_filter(client, admin_user, acme, initech):
    client.force_login(admin_user)
    page = client.get(reverse("admin:comms_customer_changelist"), {"q": "crm-0003"})
    assert "Initech" in page.content.decode() and "Acme Corp" not in page.content.decode()


def test_auditor_cannot_change_in_admin(client, auditor, acme):
    auditor.is_staff = True
    auditor.save()
    client.force_login(auditor)
    response = client.post(reverse("admin:comms_customer_change", args=[acme.pk]),
                           {"name": "Hacked"})
    assert response.status_code == 403
    assert Customer.objects.get(pk=acme.pk).name == "Acme Corp"


def test_admin_changes_contact_and_deletes_target(client, admin_user, acme, tier):
    client.force_login(admin_user)
    contact, target = acme.contacts.get(), acme.contract_targets.get()
    response = client.post(reverse("admin:comms_customer_change", args=[acme.pk]), {
        "name": "Acme Corp", "external_id": "crm-0001", "tier": tier.pk, "csm": "",
        "notes": "",
        **_inline("contacts", [{"id": contact.pk, "customer": acme.pk, "name": "Dana R.",
                                "email": contact.email, "role": "CTO",
                                "receives_updates": "on"}], initial=1),
        **_inline("contract_targets", [{"id": target.pk, "customer": acme.pk,
                                        "severity": "P1", "response_minutes": "10",
                                        "DELETE": "on"}], initial=1),
    })
    assert response.status_code == 302
    assert acme.contacts.get().name == "Dana R."
    assert not acme.contract_targets.exists()
    assert Customer.objects.get(pk=acme.pk).csm is None
