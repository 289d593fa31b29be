import re

from django.urls import reverse

from comms.customers import services
from comms.models import Customer
from incidents.models import EntryKind, Incident
from tests.comms.customers.conftest import make_customer
from tests.conftest import declare


def login(client, user):
    client.force_login(user)
    return client


def management(prefix, total, initial=0):
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


# --- list and page -----------------------------------------------------------------------------

def test_list_searches_name_and_external_id_and_filters_tier(client, auditor, acme, initech):
    login(client, auditor)
    url = reverse("customers:list")
    page = client.get(url).content.decode()
    assert "Acme Corp" in page and "Initech" in page
    page = client.get(url, {"q": "crm-0003"}).content.decode()
    assert "Initech" in page and "Acme Corp" not in page
    page = client.get(url, {"q": "acme"}).content.decode()
    assert "Acme Corp" in page and "Initech" not in page
    page = client.get(url, {"tier": "business"}).content.decode()
    assert "Initech" in page and "Acme Corp" not in page


def test_list_query_count_does_not_grow_with_rows(client, auditor, tier, csm,
                                                  django_assert_max_num_queries):
    login(client, auditor)
    for n in range(3):
        make_customer(f"Customer {n}", tier, f"c-{n}", csm=csm)
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("customers:list"))
    for n in range(3, 30):
        make_customer(f"Customer {n}", tier, f"c-{n}", csm=csm)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("customers:list")).content.decode()
    assert "Customer 29" in page


def test_customer_page_shows_contacts_targets_and_only_visible_incidents(
        client, responder, commander, acme, csm, incident, restricted_incident,
        django_assert_max_num_queries):
    services.set_customers(incident, [acme], by=csm)
    services._set_customers(restricted_incident, [acme], by=None)
    login(client, responder)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("customers:detail", args=[acme.pk]))
    page = response.content.decode()
    assert "dana@acme.example.com" in page and "CTO" in page
    assert "120 min" in page
    assert "Checkout returns 502" in page
    assert "Suspicious admin logins" not in page
    assert 'id="edit-customer"' not in page  # responders read customers, never edit them


def test_outsider_gets_403_on_customer_pages(client, outsider, acme):
    login(client, outsider)
    for url in (reverse("customers:list"), reverse("customers:detail", args=[acme.pk]),
                reverse("customers:create"), reverse("customers:edit", args=[acme.pk])):
        assert client.get(url).status_code == 403


def test_navigation_names_customers_and_report_for_csm_only(client, csm, responder):
    page = login(client, csm).get(reverse("incidents:dashboard")).content.decode()
    assert reverse("customers:list") in page and reverse("customers:report") in page
    page = login(client, responder).get(reverse("incidents:dashboard")).content.decode()
    assert reverse("customers:list") in page and reverse("customers:report") not in page


# --- create and edit ---------------------------------------------------------------------------

def _form(tier, **extra):
    data = {"name": "Globex", "external_id": "crm-0002", "tier": tier.pk, "csm": "",
            "notes": "", **management("contacts", 2), **management("targets", 4),
            "contacts-0-name": "Hank", "contacts-0-email": "hank@globex.example.com",
            "contacts-0-role": "CEO", "contacts-0-receives_updates": "on"}
    for i, sev in enumerate(["P1", "P2", "P3", "P4"]):
        data[f"targets-{i}-severity"] = sev
    data["targets-0-response_minutes"] = "15"
    data.update(extra)
    return data


def test_csm_creates_customer_with_contacts_and_targets(client, csm, tier):
    response = login(client, csm).post(reverse("customers:create"), _form(tier))
    customer = Customer.objects.get(external_id="crm-0002")
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:detail", args=[customer.pk])
    assert [c.email for c in customer.contacts.all()] == ["hank@globex.example.com"]
    assert [(t.severity, t.response_minutes) for t in customer.contract_targets.all()] == [
        ("P1", 15)]


def test_bad_contact_email_is_shown_beside_its_field(client, csm, tier):
    response = login(client, csm).post(reverse("customers:create"),
                                       _form(tier, **{"contacts-0-email": "hank-at-globex"}))
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'errorlist[^>]*>\s*<li>Enter a valid email address', page)
    assert not Customer.objects.filter(external_id="crm-0002").exists()


def test_edit_form_shows_existing_rows_and_saves_changes(client, csm, acme, tier):
    login(client, csm)
    page = client.get(reverse("customers:edit", args=[acme.pk])).content.decode()
    assert 'value="dana@acme.example.com"' in page and 'value="120"' in page
    data = _form(tier, name="Acme Corp", external_id="crm-0001",
                 **{"contacts-0-email": "dana@acme.example.com", "contacts-0-name": "Dana",
                    "targets-0-response_minutes": "5"}, **management("contacts", 2, 1))
    assert client.post(reverse("customers:edit", args=[acme.pk]), data).status_code == 302
    assert acme.contacts.get().name == "Dana"
    assert acme.contract_targets.get().response_minutes == 5


def test_auditor_reads_but_cannot_edit(client, auditor, acme, tier):
    login(client, auditor)
    assert client.get(reverse("customers:detail", args=[acme.pk])).status_code == 200
    assert client.get(reverse("customers:edit", args=[acme.pk])).status_code == 403
    assert client.post(reverse("customers:create"), _form(tier)).status_code == 403
    assert not Customer.objects.filter(external_id="crm-0002").exists()


# --- the incident panel ------------------------------------------------------------------------

def test_panel_lists_customers_with_tier_and_csm(client, responder, incident, acme, csm):
    services.set_customers(incident, [acme], by=csm)
    page = login(client, responder).get(
        reverse("customers:incident-panel", args=[incident.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'href="{reverse("customers:detail", args=[acme.pk])}">Acme Corp</a>' in page
    assert "Enterprise" in page and "CSM csm" in page
    assert "<html" not in page


def test_panel_without_javascript_is_a_page(client, responder, incident):
    page = login(client, responder).get(
        reverse("customers:incident-panel", args=[incident.pk])).content.decode()
    assert "<html" in page and "Affected customers" in page


def test_csm_changes_customers_from_panel(client, csm, incident, acme, initech):
    response = login(client, csm).post(
        reverse("customers:incident-set", args=[incident.pk]),
        {"customers": [acme.pk, initech.pk]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "relay:changed"
    assert "Initech" in response.content.decode()
    assert set(incident.customers.all()) == {acme, initech}
    assert incident.timeline.filter(kind=EntryKind.CUSTOMERS).count() == 1


def test_panel_post_without_javascript_redirects(client, commander, incident, acme):
    response = login(client, commander).post(
        reverse("customers:incident-set", args=[incident.pk]), {"customers": [acme.pk]})
    assert response.status_code == 302
    assert list(incident.customers.all()) == [acme]


def test_panel_unknown_customer_is_400_beside_field(client, csm, incident):
    response = login(client, csm).post(reverse("customers:incident-set", args=[incident.pk]),
                                       {"customers": ["999999"]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_auditor_sees_panel_without_form_and_cannot_post(client, auditor, incident, acme):
    login(client, auditor)
    page = client.get(reverse("customers:incident-panel", args=[incident.pk]),
                      HTTP_HX_REQUEST="true").content.decode()
    assert "incident-customers-form" not in page
    response = client.post(reverse("customers:incident-set", args=[incident.pk]),
                           {"customers": [acme.pk]})
    assert response.status_code == 403 and not incident.customers.exists()


def test_panel_get_is_405_on_set(client, csm, incident):
    login(client, csm)
    assert client.get(reverse("customers:incident-set", args=[incident.pk])).status_code == 405


def test_hidden_incident_panel_is_404(client, responder, csm, restricted_incident, acme):
    for user in (responder, csm):
        login(client, user)
        assert client.get(reverse("customers:incident-panel",
                                  args=[restricted_incident.pk])).status_code == 404
        assert client.post(reverse("customers:incident-set", args=[restricted_incident.pk]),
                           {"customers": [acme.pk]}).status_code == 404
    assert not restricted_incident.customers.exists()


# --- reporting a customer issue ----------------------------------------------------------------

def test_report_form_shows_suggestion_and_updates_it(client, csm, acme, enterprise_policy):
    login(client, csm)
    page = client.get(reverse("customers:report")).content.decode()
    assert "Suggested P3: no customer chosen yet" in page
    fragment = client.get(reverse("customers:report-suggestion"),
                          {"customers": [acme.pk]}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="suggested-severity">P2<' in fragment
    assert "Suggested P2: Acme Corp is Enterprise" in fragment
    assert "<form" not in fragment


def test_report_without_javascript_applies_suggestion(client, csm, service, acme,
                                                      enterprise_policy):
    response = login(client, csm).post(reverse("customers:report"), {
        "title": "Acme cannot log in", "service": service.pk, "customers": [acme.pk],
        "what_customer_sees": "HTTP 500 after SSO", "severity": "suggested"})
    incident = Incident.objects.get(title="Acme cannot log in")
    assert response.status_code == 302 and response["Location"] == reverse(
        "incidents:detail", args=[incident.pk])
    assert incident.severity == "P2" and list(incident.customers.all()) == [acme]
    page = client.get(response["Location"]).content.decode()
    assert "Acme cannot log in" in page


def test_report_errors_are_beside_fields(client, csm, acme):
    response = login(client, csm).post(reverse("customers:report"), {
        "title": "", "customers": [], "what_customer_sees": "", "severity": "suggested"})
    assert response.status_code == 400
    assert response.content.decode().count("This field is required") == 3
    assert not Incident.objects.exists()


def test_responder_and_auditor_cannot_report(client, responder, auditor):
    for user in (responder, auditor):
        login(client, user)
        assert client.get(reverse("customers:report")).status_code == 403
        assert client.post(reverse("customers:report"), {}).status_code == 403
        assert client.get(reverse("customers:report-suggestion")).status_code == 403


def test_dashboard_links_report_for_csm(client, csm):
    page = login(client, csm).get(reverse("incidents:dashboard")).content.decode()
    assert 'id="dashboard-report"' in page


def test_customer_page_query_count_does_not_grow(client, auditor, commander, service, tier, csm,
                                                 django_assert_max_num_queries):
    big = make_customer("Big Co", tier, "big", csm=csm,
                        contacts=[(f"Person {n}", f"p{n}@big.example.com", "") for n in range(2)])
    services.set_customers(declare(by=commander, services=[service]), [big], by=csm)
    login(client, auditor)
    url = reverse("customers:detail", args=[big.pk])
    with django_assert_max_num_queries(10) as few:
        client.get(url)
    services.save_customer(by=csm, customer=big, contacts=[
        {"name": f"Person {n}", "email": f"p{n}@big.example.com"} for n in range(25)])
    for _ in range(10):
        services.set_customers(declare(by=commander, services=[service]), [big], by=csm)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url).content.decode()
    assert "p24@big.example.com" in page and page.count('class="ref"') == 11
