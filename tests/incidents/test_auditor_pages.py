"""The auditor's pages: the audit log, an incident's full record, and its signed evidence bundle."""

import base64
import csv
import io
import json
import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comms.messages import services as messages
from incidents import audit, audit_views, checkpoints, evidence, signing, timeline
from incidents import services as incident_services
from incidents.intake import services as intake
from incidents.models import AuditEntry, AuditSource, IntegrationFormat
from postmortems import drafting
from tests.conftest import declare

pytestmark = pytest.mark.django_db

PERSONAS = ["commander", "responder", "csm", "auditor", "admin_user", "outsider"]
LOG_READERS = {"auditor", "admin_user"}


@pytest.fixture(autouse=True)
def _own_checkpoints(settings, tmp_path):
    settings.RELAY_CHECKPOINT_DIR = tmp_path / "checkpoints"
    cache.delete(audit_views.VERDICT_KEY)  # a verdict kept from an earlier test's log


def _persona(request, name):
    return request.getfixturevalue(name)


def _rotate_key(integration, by):
    """What rotating an integration's key logs: the key is a secret, its prefix is not."""
    before = audit.snapshot(integration, secrets=["key_hash", "signing_secret"])
    integration.key_prefix = "rk_" + integration.key_prefix[3:][::-1]
    after = audit.snapshot(integration, secrets=["key_hash", "signing_secret"])
    with audit.origin(AuditSource.WEB, "203.0.113.7"):
        return audit.log("integration.rotate_key", integration, actor=by, before=before,
                         after=after, secrets_changed=["key_hash"])


def _rename_service(service, by, name, source=AuditSource.ADMIN):
    before = audit.snapshot(service)
    service.name = name
    service.save()
    with audit.origin(source, "198.51.100.4"):
        return audit.log("service.update", service, actor=by, before=before,
                         after=audit.snapshot(service))


@pytest.fixture
def history(service, commander, admin_user):
    integration, _key = intake.create_integration(by=None, service=service,
                                                  format=IntegrationFormat.ALERTMANAGER)
    return {"rotate": _rotate_key(integration, commander),
            "rename": _rename_service(service, admin_user, "Checkout API (EU)")}


# --- who may see what ------------------------------------------------------------------------

def test_anonymous_visitor_is_sent_to_log_in(client, incident):
    for url in ("/audit/", f"/incidents/{incident.pk}/evidence.json",
                f"/incidents/{incident.pk}/evidence/", f"/incidents/{incident.pk}/verify/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_auditors_and_admins_read_the_audit_log(client, request, persona, history):
    client.force_login(_persona(request, persona))
    response = client.get("/audit/")
    if persona in LOG_READERS:
        assert response.status_code == 200
        assert "integration.rotate_key" in response.content.decode()
    else:
        assert response.status_code == 403
        assert b"integration.rotate_key" not in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_menu_offers_the_audit_log_to_those_who_may_read_it(client, request, persona,
                                                                incident):
    client.force_login(_persona(request, persona))
    page = client.get(f"/incidents/{incident.pk}/verify/" if persona != "outsider"
                      else "/accounts/settings/").content.decode()
    assert ('href="/audit/"' in page) == (persona in LOG_READERS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_evidence_only_for_log_readers_who_see_the_incident(client, request, persona,
                                                            restricted_incident, incident):
    client.force_login(_persona(request, persona))
    for target in (incident, restricted_incident):
        for url in (f"/incidents/{target.pk}/evidence.json", f"/incidents/{target.pk}/evidence/"):
            status = client.get(url).status_code
            assert status == (200 if persona in LOG_READERS else 403), (url, status)
    assert AuditEntry.objects.filter(action="evidence.export").count() == (
        4 if persona in LOG_READERS else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_record_follows_the_incident_s_visibility(client, request, persona,
                                                      restricted_incident, incident):
    client.force_login(_persona(request, persona))
    sees_open = persona != "outsider"
    sees_restricted = persona in LOG_READERS or persona == "commander"  # commander declared it
    assert client.get(f"/incidents/{incident.pk}/verify/").status_code == (
        200 if sees_open else 404)
    assert client.get(f"/incidents/{restricted_incident.pk}/verify/").status_code == (
        200 if sees_restricted else 404)


def test_the_record_offers_evidence_only_to_log_readers(client, incident, responder, auditor):
    client.force_login(responder)
    assert b"evidence.json" not in client.get(f"/incidents/{incident.pk}/verify/").content
    client.force_login(auditor)
    assert b"evidence.json" in client.get(f"/incidents/{incident.pk}/verify/").content


# --- the log -----------------------------------------------------------------------------------

def _rows(response) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="audit-(\d+)"', response.content.decode())]


def test_each_row_says_when_who_where_what_and_the_change(client, auditor, history):
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    rename = history["rename"]
    row = page[page.index(f'id="audit-{rename.seq}"'):]
    row = row[:row.index("</tr>")]
    assert "admin" in row and "Admin" in row and "198.51.100.4" in row
    assert "service.update" in row and "incidents.service" in row
    assert "<del>Checkout API</del> → <ins>Checkout API (EU)</ins>" in row
    assert re.search(r"<time datetime=\"[^\"]+\"", row)


def test_secrets_show_only_as_changed(client, auditor, history):
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    rotate = history["rotate"]
    row = page[page.index(f'id="audit-{rotate.seq}"'):]
    row = row[:row.index("</tr>")]
    assert re.search(r'<span class="field">key_hash</span>: <em>changed</em>', row)
    assert "203.0.113.7" in row and "Portal" in row
    assert rotate.before["key_prefix"] in row and rotate.after["key_prefix"] in row
    assert "key_hash" not in rotate.before  # a secret's marker never differs: only its name
    assert audit.SECRET not in row


def test_rows_link_to_their_incident(client, auditor, incident):
    with audit.origin(AuditSource.WEB):
        audit.log("incident.grant", incident, actor=auditor, incident=incident,
                  after={"granted": "payments"})
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert f'href="/incidents/{incident.pk}/"' in page


def test_filters_narrow_the_log(client, auditor, history, commander):
    client.force_login(auditor)
    rotate, rename = history["rotate"].seq, history["rename"].seq
    assert _rows(client.get("/audit/", {"actor": "COMMANDER"})) == [rotate]
    created = AuditEntry.objects.get(action="integration.create").seq
    assert _rows(client.get("/audit/", {"action": "integration."})) == [rotate, created]
    assert _rows(client.get("/audit/", {"action": "service"})) == [rename]
    assert _rows(client.get("/audit/", {"object_type": "incidents.service"})) == [rename]
    assert _rows(client.get("/audit/", {"source": "web"})) == [rotate]
    assert _rows(client.get("/audit/", {"q": "(eu)"})) == [rename]
    assert _rows(client.get("/audit/", {"q": "nothing like it"})) == []
    assert _rows(client.get("/audit/", {"source": "admin", "actor": "commander"})) == []


def test_days_are_the_reader_s_days(client, auditor, monkeypatch, service, admin_user):
    # 23:30 UTC on 10 March is already 11 March in Berlin (UTC+1).
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: late)
    entry = _rename_service(service, admin_user, "Checkout")
    monkeypatch.undo()
    client.force_login(auditor)
    on_the_11th = {"start": "2026-03-11", "end": "2026-03-11"}
    assert _rows(client.get("/audit/", on_the_11th)) == []  # a UTC reader: the 10th
    assert _rows(client.get("/audit/", {"start": "2026-03-10", "end": "2026-03-10"})) == [
        entry.seq]
    client.cookies["relay_tz_choice"] = "Europe/Berlin"
    assert _rows(client.get("/audit/", on_the_11th)) == [entry.seq]
    assert _rows(client.get("/audit/", {"end": "2026-03-10"})) == []


@pytest.mark.parametrize("query", [
    {"start": "2026-03-12", "end": "2026-03-11"},
    {"start": "not a day"},
    {"start": "0001-01-01"},
    {"source": "carrier-pigeon"},
    {"object_type": "incidents.nothing"},
    {"q": "nul\x00byte"},
    {"actor": "x" * 151},
])
def test_bad_filters_answer_400_with_the_form(client, auditor, history, query):
    client.force_login(auditor)
    response = client.get("/audit/", query)
    assert response.status_code == 400
    assert b'class="errorlist' in response.content
    assert _rows(response) == []


@pytest.mark.parametrize("cursor", ["x", "-1", "9" * 40, "1e9", ""])
def test_odd_page_cursors_show_the_first_page(client, auditor, history, cursor):
    client.force_login(auditor)
    for name in ("before", "after"):
        response = client.get("/audit/", {name: cursor})
        assert response.status_code == 200
        newest = list(AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[:50])
        assert {history["rename"].seq, history["rotate"].seq} <= set(newest)
        assert _rows(response) == newest


def _log_many(n, by):
    with audit.origin(AuditSource.COMMAND):
        for i in range(n):
            audit.log("rule.update", actor=by, object_type="incidents.alertrule",
                      object_id=str(i), object_repr=f"rule {i}",
                      before={"priority": i}, after={"priority": i + 1})


def test_pages_go_back_and_forth_newest_first(client, auditor, commander):
    client.force_login(auditor)
    base = audit.head()[0]  # the personas' own entries (user.create, user.groups, user.login)
    _log_many(120, commander)

    def seqs(high, low):
        return list(range(base + high, base + low, -1))

    first = client.get("/audit/", {"action": "rule."})
    assert _rows(first) == seqs(120, 70)
    assert b'id="audit-newer"' not in first.content
    older = client.get("/audit/", {"action": "rule.", "before": base + 71})
    assert _rows(older) == seqs(70, 20)
    last = client.get("/audit/", {"action": "rule.", "before": base + 21})
    assert _rows(last) == seqs(20, 0)
    assert b'id="audit-older"' not in last.content
    assert f'href="?action=rule.&amp;after={base + 20}"' in last.content.decode()
    back = client.get("/audit/", {"action": "rule.", "after": base + 20})
    assert _rows(back) == seqs(70, 20)


def _queries(client, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/audit/", params).status_code == 200
    return len(captured)


def test_a_page_costs_the_same_queries_however_long_the_log(client, auditor, commander):
    client.force_login(auditor)
    _log_many(5, commander)
    client.get("/audit/")  # the session and the user's permissions, once
    few = _queries(client, {})
    _log_many(200, commander)
    assert _queries(client, {}) == few
    assert _queries(client, {"before": 120}) == few
    assert _queries(client, {"after": 20, "action": "rule.", "q": "rule"}) == few
    assert few <= 12


def test_the_verdict_line_says_intact_then_covered(client, auditor, history):
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    n = audit.head()[0]
    assert f"Intact: {n} entries" in page
    assert f"Not yet covered by a checkpoint: entries #1–#{n}" in page
    assert checkpoints.write().checkpoint is not None
    page = client.get("/audit/", {"recheck": "1"}).content.decode()
    assert "as checkpoint 1" in page and "Every entry is covered" in page


def test_the_verdict_is_kept_a_while_and_checked_again_on_demand(client, auditor, history,
                                                                  commander):
    client.force_login(auditor)
    n = audit.head()[0]
    assert f"Intact: {n} entries" in client.get("/audit/").content.decode()
    _log_many(1, commander)
    page = client.get("/audit/").content.decode()
    assert f"Intact: {n} entries" in page and 'id="audit-checked"' in page
    assert 'href="?recheck=1"' in page
    rechecked = client.get("/audit/", {"recheck": "1"}).content.decode()
    assert f"Intact: {n + 1} entries" in rechecked
    assert f"Intact: {n + 1} entries" in client.get("/audit/").content.decode()


def test_the_verdict_line_names_a_broken_checkpoint(client, auditor, history, settings):
    checkpoints.write()
    path = next(settings.RELAY_CHECKPOINT_DIR.glob("checkpoint-*.json"))
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"full": true', b'"full": false'))
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert "The checkpoints themselves do not hold" in page
    assert "its signature does not hold" in page


# --- an incident's record ------------------------------------------------------------------------

def test_the_record_shows_every_entry_and_the_verdict(client, auditor, incident, commander):
    incident_services.acknowledge(incident=incident, by=commander)
    incident.refresh_from_db()
    client.force_login(auditor)
    page = client.get(f"/incidents/{incident.pk}/verify/").content.decode()
    assert f"Intact: {incident.timeline_seq} entries" in page
    assert f"Not yet covered by a checkpoint: entries #1–#{incident.timeline_seq}" in page
    assert page.count("signature valid") == incident.timeline_seq
    for entry in incident.timeline.all():
        assert f'id="record-{entry.seq}"' in page and entry.hash[:16] in page
    assert "agrees" in page and "differs" not in page
    checkpoints.write()
    page = client.get(f"/incidents/{incident.pk}/verify/").content.decode()
    assert f"up to #{incident.timeline_seq} as checkpoint 1" in page


def test_the_record_names_what_disagrees(client, auditor, incident):
    # The row changed without its timeline (as a direct UPDATE would).
    type(incident).objects.filter(pk=incident.pk).update(severity="P4")
    client.force_login(auditor)
    page = client.get(f"/incidents/{incident.pk}/verify/").content.decode()
    assert "the incident row disagrees with its timeline: its severity is &#x27;P4&#x27;" in page
    assert "<strong>differs</strong>" in page


# --- the evidence bundle -------------------------------------------------------------------------

@pytest.fixture
def full_incident(incident, commander, csm, auditor):
    message = messages.draft(incident, by=csm, phase="investigating",
                             subject="Checkout errors", body="We are looking into failed payments.")
    with audit.origin(AuditSource.WEB, "192.0.2.10"):
        audit.log("message.update", message, actor=csm,
                  before={"subject": "Checkout"}, after={"subject": "Checkout errors"})
    postmortem = drafting.start(incident, by=commander)
    with audit.origin(AuditSource.API, "192.0.2.11"):
        audit.log("postmortem.update", postmortem, actor=commander,
                  before={"summary": ""}, after={"summary": "Pool exhausted"})
    return {"incident": incident, "message": message, "postmortem": postmortem}


def _download(client, incident):
    response = client.get(f"/incidents/{incident.pk}/evidence.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="INC-{incident.pk}-evidence.json"')
    assert response["Content-Type"] == "application/json"
    return response.content


def test_the_bundle_holds_every_part(client, auditor, full_incident):
    incident = full_incident["incident"]
    client.force_login(auditor)
    bundle = json.loads(_download(client, incident))["bundle"]
    incident.refresh_from_db()
    assert bundle["incident"]["number"] == incident.pk
    assert bundle["incident"]["title"] == "Checkout returns 502"
    assert bundle["incident"]["services"] == ["checkout-api"]
    assert bundle["incident"]["declared_by"] == "commander"
    assert [e["seq"] for e in bundle["timeline"]] == list(range(1, incident.timeline_seq + 1))
    for entry, row in zip(bundle["timeline"], incident.timeline.order_by("seq"), strict=True):
        assert (entry["prev_hash"], entry["hash"], entry["signature"]) == (
            row.prev_hash, row.hash, row.signature)
    [message] = bundle["customer_messages"]
    assert message["id"] == full_incident["message"].pk
    assert (message["state"], message["author"]) == ("draft", "csm")
    assert bundle["postmortem"]["id"] == full_incident["postmortem"].pk
    assert "summary" in bundle["postmortem"]["sections"]
    actions = [e["action"] for e in bundle["audit_entries"]]
    assert actions == ["message.update", "postmortem.update", "evidence.export"]
    assert bundle["audit_entries"][-1]["actor_label"] == "auditor"
    assert bundle["verification"]["intact"] is True
    assert bundle["verification"]["replay"]["disagreements"] == []
    assert bundle["generated_by"] == "auditor"


def test_the_bundle_leaves_out_other_incidents_audit_entries(client, auditor, incident,
                                                             commander):
    other = declare(by=commander, title="Search is slow")
    with audit.origin(AuditSource.WEB):
        audit.log("incident.grant", other, actor=commander, incident=other, after={"to": "x"})
    client.force_login(auditor)
    bundle = json.loads(_download(client, incident))["bundle"]
    assert [e["action"] for e in bundle["audit_entries"]] == ["evidence.export"]


def test_exporting_is_audited(client, admin_user, restricted_incident):
    client.force_login(admin_user)
    _download(client, restricted_incident)
    entry = AuditEntry.objects.get(action="evidence.export")
    assert entry.incident_id == restricted_incident.pk
    assert (entry.actor_id, entry.source) == (admin_user.pk, AuditSource.WEB)


def test_the_signature_holds_and_breaks_with_one_changed_byte(client, auditor, full_incident,
                                                             tmp_path):
    client.force_login(auditor)
    raw = _download(client, full_incident["incident"])
    document = json.loads(raw)
    assert document["key_id"] == signing.key_id()
    assert document["public_key"] == signing.public_key_b64()
    key = evidence.public_key(document["public_key"])
    digest, key_id = evidence.check(document, [key])
    assert key_id == signing.key_id()
    # Offline, with nothing but the public key: the canonical JSON of "bundle" is what is signed.
    message = json.dumps(document["bundle"], sort_keys=True, separators=(",", ":")).encode()
    key.verify(base64.b64decode(document["signature"]), message)

    good = tmp_path / "INC-evidence.json"
    good.write_bytes(raw)
    out = StringIO()
    call_command("verify_evidence", str(good), "--public-key", document["public_key"],
                 stdout=out)
    assert "the signature holds" in out.getvalue() and digest in out.getvalue()

    at = raw.index(b"Checkout returns 502")
    bad = tmp_path / "changed.json"
    bad.write_bytes(raw[:at] + b"c" + raw[at + 1:])  # one byte: "checkout returns 502"
    with pytest.raises(evidence.BadDocument):
        evidence.check(json.loads(bad.read_bytes()), [key])
    with pytest.raises(CommandError, match="signature does not hold"):
        call_command("verify_evidence", str(bad), stdout=StringIO())


def test_a_bundle_signed_by_another_key_is_refused(client, auditor, incident, tmp_path):
    client.force_login(auditor)
    document = json.loads(_download(client, incident))
    forger = Ed25519PrivateKey.generate()
    document["bundle"]["incident"]["title"] = "Nothing happened"
    document["signature"] = base64.b64encode(
        forger.sign(evidence.canonical(document["bundle"]))).decode()
    document["public_key"] = base64.b64encode(signing.public_bytes(forger.public_key())).decode()
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="signature does not hold"):
        call_command("verify_evidence", str(path), stdout=StringIO())


@pytest.mark.parametrize("content", [b"", b"not json", b"[]", b'{"bundle": {}, "signature": "x"}'])
def test_verify_evidence_refuses_what_is_not_a_bundle(tmp_path, content):
    path = tmp_path / "junk.json"
    path.write_bytes(content)
    with pytest.raises(CommandError):
        call_command("verify_evidence", str(path), stdout=StringIO())


def test_the_printable_page_matches_its_own_json(client, auditor, full_incident):
    incident = full_incident["incident"]
    client.force_login(auditor)
    response = client.get(f"/incidents/{incident.pk}/evidence/")
    page = response.content.decode()
    digest = re.search(r'Bundle SHA-256 <code class="hash">([0-9a-f]{64})</code>', page)[1]
    assert f"<code>{signing.key_id()}</code>" in page
    link = re.search(r'href="data:application/json;base64,([^"]+)" download="INC-\d+-evidence'
                     r'\.json"', page)[1]
    document = json.loads(base64.b64decode(link))
    assert evidence.check(document, signing.trusted_keys())[0] == digest
    for text in ("Checkout returns 502", "We are looking into failed payments.",
                 "Customer messages (1)", "Post-mortem", "message.update", "evidence.export",
                 "signature valid"):
        assert text in page, text
    # The audit entries carry what they changed, as on /audit/ (the JSON has before and after).
    assert ('<span class="field">subject</span>: <del>Checkout</del> → <ins>Checkout errors</ins>'
            in page)
    assert "<span class=\"field\">summary</span>: <del>—</del> → <ins>Pool exhausted</ins>" in page


# --- Exporting the log: what /audit/'s filters keep, oldest first, as CSV (a spreadsheet) and as
# JSON Lines (hashes and signatures); only for its readers; itself logged.


def _csv(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _jsonl(response) -> list[dict]:
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    return [json.loads(line) for line in
            b"".join(response.streaming_content).decode().splitlines()]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_only_log_readers_export(client, request, persona, fmt, history):
    client.force_login(_persona(request, persona))
    before = AuditEntry.objects.count()
    response = client.get(f"/audit/export.{fmt}")
    if persona in LOG_READERS:
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith('attachment; filename="relay-audit-')
        assert response["Cache-Control"] == "no-store"
        b"".join(response.streaming_content)
    else:
        assert response.status_code == 403
        assert AuditEntry.objects.count() == before  # a refusal exports and logs nothing


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/audit/export.csv")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_csv_rows_follow_the_filters_oldest_first_with_changes_as_text(client, auditor, history):
    client.force_login(auditor)
    rows = _csv(client.get("/audit/export.csv", {"action": "service."}))
    rename = history["rename"]
    assert [int(row["seq"]) for row in rows] == list(
        AuditEntry.objects.filter(action__startswith="service.").order_by("seq")
        .values_list("seq", flat=True))
    row = next(r for r in rows if int(r["seq"]) == rename.seq)
    assert (row["actor"], row["source"], row["ip"]) == ("admin", "admin", "198.51.100.4")
    assert "name: Checkout API → Checkout API (EU)" in row["changes"]
    assert row["at"] == rename.at.isoformat() and row["hash"] == rename.hash
    assert row["signature"] == rename.signature


def test_secrets_are_only_named_and_formulas_defused(client, auditor, history, commander):
    audit.log("rule.update", actor=commander, object_type="incidents.alertrule",
              object_repr='=HYPERLINK("http://evil.example","x")', note="+1 sneaky",
              after={"name": "@SUM(A1)"})
    client.force_login(auditor)
    response = client.get("/audit/export.csv")
    rows = _csv(response)
    rotate = next(r for r in rows if r["action"] == "integration.rotate_key")
    assert "key_hash: changed (a secret, never stored)" in rotate["changes"]
    assert audit.SECRET not in rotate["changes"]
    evil = next(r for r in rows if r["action"] == "rule.update")
    assert evil["object_repr"] == '\'=HYPERLINK("http://evil.example","x")'
    assert evil["note"] == "'+1 sneaky" and "name: — → @SUM(A1)" in evil["changes"]


def test_jsonl_carries_each_entry_as_the_evidence_does_and_the_chain_checks_out(
        client, auditor, history, commander):
    _log_many(30, commander)
    client.force_login(auditor)
    lines = _jsonl(client.get("/audit/export.jsonl"))
    stored = list(AuditEntry.objects.order_by("seq"))
    # Everything up to the export's own entry, which is logged before the rows are read.
    assert lines == [evidence.audit_data(entry) for entry in stored]
    assert lines[-1]["action"] == "audit.export"
    for previous, entry in zip(lines, lines[1:]):
        assert entry["prev_hash"] == previous["hash"]
    for entry in lines:
        message = signing.entry_message(audit.CHAIN, entry["hash"])
        assert signing.verify(message, entry["signature"]), entry["seq"]
    assert timeline.CHAIN != audit.CHAIN


def test_the_export_is_logged_with_its_filters(client, auditor):
    client.force_login(auditor)
    b"".join(client.get("/audit/export.jsonl", {"action": "rule.", "source": "command"},
                        REMOTE_ADDR="192.0.2.44").streaming_content)
    entry = AuditEntry.objects.get(action="audit.export")
    assert entry.actor_label == "auditor" and entry.ip == "192.0.2.44"
    assert entry.after == {"format": "jsonl", "filters": {"action": "rule.",
                                                          "source": "command"}}


@pytest.mark.parametrize("query", [{"start": "2026-13-01"}, {"source": "carrier-pigeon"},
                                   {"start": "2026-05-02", "end": "2026-05-01"},
                                   {"q": "x" * 500}, {"actor": "a\x00b"}])
def test_bad_filters_are_a_400_that_exports_and_logs_nothing(client, auditor, query):
    client.force_login(auditor)
    before = AuditEntry.objects.count()
    response = client.get("/audit/export.csv", query)
    assert response.status_code == 400
    assert response.content.decode().startswith("The filters do not hold up:")
    assert AuditEntry.objects.count() == before


def test_the_export_reads_the_log_in_chunks_not_entry_by_entry(client, auditor, commander):
    client.force_login(auditor)
    client.get("/audit/")  # the session and the user's permissions, once

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            b"".join(client.get("/audit/export.csv").streaming_content)
        return len(captured)

    _log_many(5, commander)
    few = queries()
    _log_many(300, commander)
    assert queries() == few


def test_the_log_page_links_its_filters_to_the_export(client, auditor, history):
    client.force_login(auditor)
    page = client.get("/audit/", {"action": "service."}).content.decode()
    assert 'href="/audit/export.csv?action=service." id="audit-export-csv"' in page
    assert 'href="/audit/export.jsonl?action=service." id="audit-export-jsonl"' in page
    assert "the entries these filters keep" in page
