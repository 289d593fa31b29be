"""An auditor in a real browser: filters the audit log, opens an incident's record and sees it
intact, exports the filtered log, downloads its evidence bundle and checks it, and opens the
printable page."""

import json
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from incidents import audit, audit_views, evidence, signing
from incidents.models import AuditEntry, AuditSource
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _own_checkpoints(settings, tmp_path):
    settings.RELAY_CHECKPOINT_DIR = tmp_path / "checkpoints"
    cache.delete(audit_views.VERDICT_KEY)


def _log(action, obj, by, source, **changes):
    with audit.origin(source, "203.0.113.9"):
        return audit.log(action, obj, actor=by, **changes)


def test_an_auditor_filters_the_log_checks_a_record_and_exports_its_evidence(
        live_server, page, auditor, admin_user, commander, service, incident, tmp_path):
    _log("service.update", service, admin_user, AuditSource.ADMIN,
         before={"name": "Checkout"}, after={"name": "Checkout API"})
    _log("integration.rotate_key", service, commander, AuditSource.WEB,
         before={"key_prefix": "rk_1"}, after={"key_prefix": "rk_2"},
         secrets_changed=["key_hash"])
    login(page, live_server, auditor)

    page.locator("nav.nav-bar .nav-more summary").click()
    page.locator("nav.nav-bar").get_by_role("link", name="Audit", exact=True).click()
    expect(page.locator("h1")).to_have_text("Audit log")
    # The two above, after the personas' own (user.create, user.groups, the sign-in).
    written = AuditEntry.objects.count()
    assert written > 2
    expect(page.locator("#audit-verdict")).to_contain_text(
        f"Intact: {written} entries, every link, hash and signature holds")
    expect(page.locator("#audit-entries tbody tr")).to_have_count(written)
    page.get_by_label("Action starts with").fill("integration.")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit-entries tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("integration.rotate_key")
    expect(rows.first).to_contain_text("key_hash: changed")
    expect(rows.first).to_contain_text("rk_1 → rk_2")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()  # what these filters keep
    exported = tmp_path / "log.csv"
    download_info.value.save_as(exported)
    lines = exported.read_text().splitlines()
    assert lines[0].startswith("seq,at,actor,source,ip,action,") and len(lines) == 2
    assert "integration.rotate_key" in lines[1] and "rk_1 → rk_2" in lines[1]
    assert AuditEntry.objects.filter(action="audit.export").count() == 1
    page.get_by_label("From", exact=True).select_option("admin")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-entries tbody")).to_contain_text("No entries match")
    page.get_by_role("link", name="Clear").click()
    expect(page.locator("#audit-entries tbody tr")).to_have_count(written + 1)  # the export

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.get_by_role("link", name="verify integrity").click()
    expect(page.locator("#verdict")).to_contain_text("Intact")
    expect(page.locator("#record-entries > li")).to_have_count(incident.timeline.count())
    expect(page.locator("#record-1")).to_contain_text("signature valid")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download evidence (JSON)").click()
    download = download_info.value
    assert download.suggested_filename == f"INC-{incident.pk}-evidence.json"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    document = json.loads(path.read_bytes())
    digest, key_id = evidence.check(document, [signing.public_key()])
    assert key_id == signing.key_id()
    assert document["bundle"]["incident"]["number"] == incident.pk

    page.get_by_role("link", name="Printable evidence").click()
    expect(page.locator("h1")).to_contain_text(f"Evidence: {incident.reference}")
    seal = page.locator("#evidence-seal")
    expect(seal).to_contain_text(key_id)
    with page.expect_download() as printed_info:
        page.get_by_role("link", name="Download this bundle (JSON)").click()
    printed = json.loads(Path(printed_info.value.path()).read_bytes())
    expect(seal).to_contain_text(evidence.check(printed, [signing.public_key()])[0])
    # Printed, the page is the document alone: no navigation, no links back.
    page.emulate_media(media="print")
    expect(page.locator("header.topbar")).to_be_hidden()
    expect(page.locator("p.no-print").first).to_be_hidden()
    assert AuditEntry.objects.filter(action="evidence.export", incident=incident).count() == 2
