from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from comms.models import Customer, CustomerContact
from incidents.models import CustomerTier

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tiers(tier, business):
    return {"enterprise": tier, "business": business,
            "free": CustomerTier.objects.create(name="Free", slug="free", rank=3)}


def run(name, *args) -> str:
    out = StringIO()
    call_command("import_customers", str(FIXTURES / name), *args, stdout=out)
    return out.getvalue()


def test_salesforce_export_creates_customers_and_refuses_bad_ones(tiers, csm):
    report = run("salesforce_accounts.csv")
    assert report.splitlines()[0] == "3 created, 0 updated, 0 unchanged, 6 rows refused."
    assert "  row 6 (0015g00000UmbrAAA): unknown tier 'platinum'" in report
    assert "  row 7 (0015g00000HoolAAA): contacts: Contact 1: email: Enter a valid email " \
           "address." in report
    assert "  row 8 (0015g00000SoylAAA): conflicting names for one external id: " \
           "Soylent Food Corp, Soylent Foods" in report
    assert "  row 9 (0015g00000SoylAAA): conflicting names" in report
    assert "  row 10: missing external_id" in report
    assert "  row 11 (0015g00000ZeroAAA): p1_response_minutes must be a whole number of " \
           "minutes, not '1h'" in report
    acme = Customer.objects.get(external_id="0015g00000AcmeAAA")
    assert (acme.name, acme.tier, acme.csm) == ("Acme Corp", tiers["enterprise"], csm)
    assert [(c.email, c.role) for c in acme.contacts.all()] == [
        ("dana.reyes@acme.example.com", "CTO"), ("ops@acme.example.com", "IT operations, 24/7")]
    assert [(t.severity, t.response_minutes, t.resolution_minutes)
            for t in acme.contract_targets.all()] == [("P1", 10, 120)]
    globex = Customer.objects.get(external_id="0015g00000GlobAAA")
    assert globex.csm == csm and globex.tier == tiers["enterprise"]  # by email, by tier name
    assert Customer.objects.get(external_id="0015g00000InitAAA").name == "Initech, Inc."
    assert sorted(Customer.objects.values_list("name", flat=True)) == [
        "Acme Corp", "Globex", "Initech, Inc."]


def test_second_run_changes_nothing(tiers, csm):
    run("salesforce_accounts.csv")
    stamps = dict(Customer.objects.values_list("pk", "updated_at"))
    contacts = list(CustomerContact.objects.values_list("pk", flat=True))
    report = run("salesforce_accounts.csv")
    assert report.startswith("0 created, 0 updated, 3 unchanged, 6 rows refused.")
    assert dict(Customer.objects.values_list("pk", "updated_at")) == stamps
    assert list(CustomerContact.objects.values_list("pk", flat=True)) == contacts


def test_changed_export_updates_and_replaces_contacts(tiers, csm, tmp_path):
    run("salesforce_accounts.csv")
    changed = tmp_path / "changed.csv"
    changed.write_text("external_id,name,tier,contact_name,contact_email\n"
                       "0015g00000AcmeAAA,Acme Corporation,business,Dana,dana@acme.example.com\n",
                       encoding="utf-8")
    out = StringIO()
    call_command("import_customers", str(changed), stdout=out)
    assert out.getvalue().startswith("0 created, 1 updated, 0 unchanged, 0 rows refused.")
    acme = Customer.objects.get(external_id="0015g00000AcmeAAA")
    assert (acme.name, acme.tier, acme.csm) == ("Acme Corporation", tiers["business"], csm)
    assert [c.email for c in acme.contacts.all()] == ["dana@acme.example.com"]
    assert acme.contract_targets.count() == 1  # no contract columns: targets left alone


def test_refused_customer_is_not_half_imported(tiers, tmp_path):
    """Its first contact is fine, its second is not: neither the customer nor a contact stays."""
    path = tmp_path / "half.csv"
    path.write_text("external_id,name,tier,contact_name,contact_email\n"
                    "X1,Half Co,business,Good,good@half.example.com\n"
                    "X1,Half Co,business,Bad,bad-address\n", encoding="utf-8")
    out = StringIO()
    call_command("import_customers", str(path), stdout=out)
    assert "0 created" in out.getvalue() and "row 3 (X1)" in out.getvalue()
    assert not Customer.objects.exists() and not CustomerContact.objects.exists()


def test_hubspot_headers_and_crlf(tiers):
    report = run("hubspot_companies.csv")
    assert report.startswith("2 created, 0 updated, 0 unchanged, 0 rows refused.")
    vandelay = Customer.objects.get(external_id="987654")
    assert vandelay.tier == tiers["business"]
    assert vandelay.contacts.get().role == "Importer-exporter"
    assert not Customer.objects.get(external_id="987655").contacts.exists()


def test_dry_run_reports_and_saves_nothing(tiers, csm):
    report = run("salesforce_accounts.csv", "--dry-run")
    assert report.startswith("Dry run, nothing saved: would have 3 created, 0 updated")
    assert not Customer.objects.exists()


@pytest.mark.parametrize("name, message", [
    ("no_required_headers.csv", "lacks the required column(s) external_id, name, tier; its "
                                "header is: Company, Website."),
    ("not_utf8.csv", "is not UTF-8 text"),
    ("missing.csv", "Cannot read"),
])
def test_unreadable_files_exit_with_a_sentence(tiers, name, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(name)
    assert not Customer.objects.exists()


def test_empty_file_is_refused(tiers, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match="is empty"):
        call_command("import_customers", str(path), stdout=StringIO())
