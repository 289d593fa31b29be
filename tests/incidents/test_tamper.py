"""The tamper table: what the database's owner can do to the record, and how each is refused or
detected. Tampering runs as the owner does (the test connection, triggers switched off where the
row says so); the last tests run as the least-privilege runtime role of `manage.py db_roles`.

| tampering                                                | outcome                          |
| -------------------------------------------------------- | -------------------------------- |
| UPDATE, DELETE, TRUNCATE of timeline or audit entries     | refused by triggers              |
| session_replication_role = replica, then UPDATE           | refused (triggers ENABLE ALWAYS) |
| DISABLE TRIGGER, then DELETE a middle entry               | detected: the chain breaks       |
| rewrite an entry and recompute every later hash           | detected: signatures, checkpoint |
| delete the last entries and lower the counter             | detected: checkpoint             |
| erase a whole timeline, counter to 0                      | detected: checkpoint             |
| append a forged entry with a valid hash, counter + 1      | detected: no valid signature     |
| UPDATE the incident row (title, severity, status)          | detected: timeline replay        |
| the same against the audit log                            | refused or detected              |
| edit, remove or reorder a checkpoint file                  | detected: signature, links       |
| as the runtime role: any UPDATE/DELETE/TRUNCATE, DISABLE   | refused: no privilege, no owner  |
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from incidents import audit, checkpoints, services, signing
from incidents.models import AuditEntry, EntryKind, Incident, Severity, Status, TimelineEntry
from incidents.timeline import entry_hash
from tests.incidents.test_timeline import (
    allow_tampering,
    check_deferred_constraints_now,
    on_postgresql,
    raw,
    with_entries,
)


def allow_audit_tampering() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            check_deferred_constraints_now()
            cursor.execute("ALTER TABLE incidents_auditentry DISABLE TRIGGER audit_append_only")
        else:
            cursor.execute("DROP TRIGGER audit_no_update")
            cursor.execute("DROP TRIGGER audit_no_delete")


def problems(incident) -> list[str]:
    incident = Incident.objects.get(pk=incident.pk)
    return checkpoints.verify_incident(incident).problems


def checkpointed(incident, entries=5):
    """An incident with `entries` entries, all covered by a fresh checkpoint."""
    with_entries(incident, entries)
    written = checkpoints.write()
    assert written.refused == []
    assert written.checkpoint.timelines[incident.pk][0] == entries
    assert problems(incident) == []
    return incident


# --- refused ------------------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE incidents_timelineentry SET note = 'x'",
    "DELETE FROM incidents_timelineentry",
    "UPDATE incidents_auditentry SET note = 'x'",
    "DELETE FROM incidents_auditentry",
])
def test_updates_and_deletes_of_history_are_refused(statement, incident):
    audit.log("test.thing", incident, after={"a": 1})
    audited = AuditEntry.objects.count()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw(statement)
    assert TimelineEntry.objects.count() == 1 and AuditEntry.objects.count() == audited


@on_postgresql
@pytest.mark.parametrize("table", ["incidents_timelineentry", "incidents_auditentry"])
def test_truncate_of_history_is_refused(table, incident):
    audit.log("test.thing", incident, after={"a": 1})
    audited = AuditEntry.objects.count()
    check_deferred_constraints_now()
    with pytest.raises(DatabaseError, match="TRUNCATE .*append-only"), transaction.atomic():
        raw(f"TRUNCATE {table} CASCADE")
    assert TimelineEntry.objects.count() == 1 and AuditEntry.objects.count() == audited


@on_postgresql
@pytest.mark.parametrize("table", ["incidents_timelineentry", "incidents_auditentry"])
def test_replica_mode_does_not_switch_the_triggers_off(table, incident):
    audit.log("test.thing", incident, after={"a": 1})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("SET LOCAL session_replication_role = replica")
        raw(f"UPDATE {table} SET note = 'rewritten'")
    assert not TimelineEntry.objects.filter(note="rewritten").exists()
    assert not AuditEntry.objects.filter(note="rewritten").exists()


# --- detected -----------------------------------------------------------------------------------

def test_a_deleted_middle_entry_is_detected(incident):
    checkpointed(incident)
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 3", incident.pk)

    assert problems(incident)[0] == (
        "entry #3: expected entry #3 but found #4 (an entry is missing)")


def _rewrite_from(incident, seq: int, note: str, signature=None) -> None:
    """Change entry `seq` and recompute every later hash and link, as the owner could."""
    entries = list(incident.timeline.order_by("seq"))
    prev = entries[seq - 2].hash if seq > 1 else "0" * 64
    for entry in entries[seq - 1:]:
        if entry.seq == seq:
            entry.note = note
        entry.prev_hash = prev
        entry.hash = entry_hash(entry)
        prev = entry.hash
        raw("UPDATE incidents_timelineentry SET note = %s, prev_hash = %s, hash = %s, "
            "signature = %s WHERE id = %s", entry.note, entry.prev_hash, entry.hash,
            signature(entry) if signature else entry.signature, entry.pk)


def test_a_consistent_rewrite_fails_the_signatures(incident):
    checkpointed(incident)
    allow_tampering()
    _rewrite_from(incident, 2, "nothing to see here")

    found = problems(incident)
    assert found[0].startswith("entry #2: its signature does not hold")


def test_a_consistent_rewrite_with_signatures_stripped_disagrees_with_the_checkpoint(incident):
    checkpointed(incident)
    allow_tampering()
    _rewrite_from(incident, 2, "nothing to see here", signature=lambda entry: None)

    found = problems(incident)
    assert found == ["entry #5 is not the one checkpoint 1 vouches for: the history up to it "
                     "was rewritten"]


def test_a_consistent_rewrite_signed_with_another_key_fails(incident):
    checkpointed(incident)
    forger = Ed25519PrivateKey.generate()
    allow_tampering()
    _rewrite_from(incident, 2, "nothing to see here", signature=lambda entry: base64.b64encode(
        forger.sign(signing.entry_message("timeline", entry.hash))).decode())

    assert problems(incident)[0].startswith("entry #2: its signature does not hold")


def test_a_truncated_tail_with_a_lowered_counter_is_detected(incident):
    checkpointed(incident)
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq > 3", incident.pk)
    raw("UPDATE incidents_incident SET timeline_seq = 3 WHERE id = %s", incident.pk)

    assert problems(incident) == [
        "checkpoint 1 vouches for 5 entries but the chain ends at #3 (entries after #3 were "
        "removed)"]


def test_an_erased_timeline_is_detected(incident):
    checkpointed(incident)
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s", incident.pk)
    raw("UPDATE incidents_incident SET timeline_seq = 0 WHERE id = %s", incident.pk)

    assert problems(incident) == [
        "checkpoint 1 vouches for 5 entries but the chain was erased (entries after #0 were "
        "removed)"]


def test_an_incident_gone_altogether_is_detected(incident):
    checkpointed(incident)
    known = checkpoints.coverage()
    # As if its row had been deleted with the triggers off: the checkpoint still names it.
    known.timelines[incident.pk + 1000] = (7, "a" * 64, 1)

    missing = checkpoints.missing_incidents(known)
    assert [(v.name, v.problems) for v in missing] == [(f"INC-{incident.pk + 1000}", [
        "checkpoint 1 vouches for 7 entries but the incident is gone"])]


@pytest.mark.parametrize("forged_signature", ["none", "garbage", "another key"])
def test_a_forged_append_with_a_valid_hash_is_detected(forged_signature, incident):
    checkpointed(incident)
    last = incident.timeline.get(seq=5)
    forged = TimelineEntry(incident_id=incident.pk, seq=6, kind=EntryKind.NOTE,
                           actor_label="", created_at=timezone.now(), note="all clear",
                           data={}, prev_hash=last.hash)
    forged.hash = entry_hash(forged)
    forged.signature = {
        "none": None,
        "garbage": base64.b64encode(b"x" * 64).decode(),
        "another key": base64.b64encode(Ed25519PrivateKey.generate().sign(
            signing.entry_message("timeline", forged.hash))).decode(),
    }[forged_signature]
    forged.save(force_insert=True)
    raw("UPDATE incidents_incident SET timeline_seq = 6 WHERE id = %s", incident.pk)

    found = problems(incident)
    if forged_signature == "none":
        assert found == ["entry #6 is not signed and no checkpoint covers it (added outside "
                         "Relay)"]
    else:
        assert found[0].startswith("entry #6: its signature does not hold")
    # And the next checkpoint will not vouch for it.
    written = checkpoints.write()
    assert written.refused and written.refused[0].startswith(f"INC-{incident.pk}: ")
    assert checkpoints.coverage().timelines[incident.pk][0] == 5


@pytest.mark.parametrize(("column", "value", "sentence"), [
    ("title", "Routine maintenance", "its title is 'Routine maintenance' but its timeline says "
                                     "'Checkout returns 502'"),
    ("severity", "P4", "its severity is 'P4' but its timeline says 'P1'"),
    ("status", "resolved", "its status is 'resolved' but its timeline says 'investigating'"),
    ("restricted", True, "its restriction is true but its timeline says false"),
])
def test_an_updated_incident_row_disagrees_with_its_timeline(column, value, sentence, incident,
                                                             commander):
    services.change_severity(incident, severity=Severity.P1, by=commander)
    services.transition(incident, to=Status.INVESTIGATING, by=commander)
    assert problems(incident) == []
    raw(f"UPDATE incidents_incident SET {column} = %s WHERE id = %s", value, incident.pk)

    assert problems(incident) == [f"the incident row disagrees with its timeline: {sentence}"]


def test_roles_are_replayed_too(incident, commander, responder):
    services.assign_roles(incident, by=commander, comms_lead=responder, responders=[commander])
    assert problems(incident) == []
    raw("UPDATE incidents_incident SET comms_lead_id = NULL WHERE id = %s", incident.pk)
    raw("DELETE FROM incidents_incident_responders WHERE incident_id = %s", incident.pk)

    assert problems(incident) == [
        "the incident row disagrees with its timeline: its comms lead is nobody but its "
        "timeline says 'responder'",
        "the incident row disagrees with its timeline: its responders is nobody but its "
        "timeline says commander"]


def _audit_entries(n=4):
    for i in range(n):
        audit.log("test.change", object_type="test", object_id=str(i), after={"n": i})


def test_a_truncated_audit_log_is_detected(db):
    _audit_entries()
    assert checkpoints.write().refused == []
    allow_audit_tampering()
    raw("DELETE FROM incidents_auditentry WHERE seq > 2")
    raw("UPDATE incidents_audithead SET seq = 2")

    verdict = checkpoints.verify_audit()
    assert verdict.problems == [
        "checkpoint 1 vouches for 4 entries but the chain ends at #2 (entries after #2 were "
        "removed)"]


def test_a_rewritten_audit_entry_is_detected(db):
    _audit_entries()
    allow_audit_tampering()
    entry = AuditEntry.objects.get(seq=3)
    entry.after = {"n": 300}
    entry.hash = audit.entry_hash(entry)
    raw("UPDATE incidents_auditentry SET after = %s, hash = %s WHERE id = %s",
        json.dumps(entry.after), entry.hash, entry.pk)

    assert checkpoints.verify_audit().problems[0].startswith(
        "entry #3: its signature does not hold")


# --- the checkpoints themselves ------------------------------------------------------------------

def _two_checkpoints(incident, commander):
    checkpointed(incident, 3)
    services.add_note(incident, text="more", by=commander)
    second = checkpoints.write().checkpoint
    assert (second.number, second.full, second.timelines) == (
        2, False, {incident.pk: (4, incident.timeline.get(seq=4).hash)})
    return second


def test_checkpoints_chain_and_skip_when_nothing_changed(incident, commander, settings):
    second = _two_checkpoints(incident, commander)
    assert checkpoints.write().checkpoint is None
    files = sorted(Path(settings.RELAY_CHECKPOINT_DIR).glob("checkpoint-*.json"))
    assert [f.name for f in files] == ["checkpoint-0000000001.json", "checkpoint-0000000002.json"]
    first = json.loads(files[0].read_bytes())["checkpoint"]
    body = json.loads(files[1].read_bytes())["checkpoint"]
    assert body["previous"] == hashlib.sha256(files[0].read_bytes()).hexdigest()
    assert first["previous"] == "" and first["full"] is True
    assert body["public_key"] == signing.public_key_b64()
    assert second.key_id == signing.key_id()
    with pytest.raises(FileExistsError):  # written once, never overwritten
        os.open(files[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL)


def test_an_edited_checkpoint_is_refused(incident, commander, settings):
    second = _two_checkpoints(incident, commander)
    document = json.loads(second.path.read_bytes())
    document["checkpoint"]["timelines"][str(incident.pk)] = [2, "0" * 64]
    second.path.chmod(0o644)
    second.path.write_text(json.dumps(document))

    with pytest.raises(checkpoints.CheckpointError, match="signature does not hold"):
        checkpoints.coverage()
    with pytest.raises(CommandError, match="The checkpoints do not hold: .*signature"):
        call_command("verify_timeline")


def test_a_removed_checkpoint_breaks_the_chain_of_checkpoints(incident, commander, settings):
    second = _two_checkpoints(incident, commander)
    services.add_note(incident, text="even more", by=commander)
    checkpoints.write()
    second.path.unlink()

    with pytest.raises(checkpoints.CheckpointError, match="checkpoint 3 does not follow "
                                                          "checkpoint 1"):
        checkpoints.coverage()


def test_every_hundredth_checkpoint_is_full_and_reading_stops_there(incident, commander,
                                                                    monkeypatch):
    monkeypatch.setattr(checkpoints, "FULL_EVERY", 3)
    other = services.declare(title="Other", severity="P3", by=commander)
    for n in range(5):
        services.add_note(incident if n % 2 else other, text=f"n{n}", by=commander)
        checkpoints.write()
    known = checkpoints.coverage()
    # 1 (full), 2, 3, 4 (full: 4 % 3 == 1), 5: reading goes back to 4 only.
    assert (known.latest.number, known.read) == (5, 2)
    assert set(known.timelines) == {incident.pk, other.pk}


def test_the_checkpoint_goes_to_the_witness(incident, http_receiver, settings):
    settings.RELAY_CHECKPOINT_WITNESS_URL = http_receiver.url
    written = checkpoints.write()

    assert written.witness_error == ""
    [hit] = http_receiver.hits
    assert hit["body"] == written.checkpoint.path.read_bytes()
    assert hit["headers"]["X-Relay-Checkpoint"] == signing.key_id()


def test_a_witness_that_refuses_is_reported_and_the_checkpoint_kept(incident, http_receiver,
                                                                   settings):
    settings.RELAY_CHECKPOINT_WITNESS_URL = http_receiver.url
    http_receiver.status = 503
    out, err = _run_command("timeline_checkpoint")
    assert out.startswith("Wrote full checkpoint 1 ")
    assert err == "The witness did not take it: HTTP 503\n"
    assert checkpoints.coverage().latest.number == 1


def _run_command(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, no_color=True)
    return out.getvalue(), err.getvalue()


def test_the_scheduled_checkpoint_is_registered():
    from config.schedules import SCHEDULES
    assert any(s.func == "incidents.checkpoints.scheduled" for s in SCHEDULES)


def test_a_bad_signing_key_is_a_sentence(settings):
    from django.core.exceptions import ImproperlyConfigured
    settings.RELAY_SIGNING_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured, match="RELAY_SIGNING_KEY is not an Ed25519 private "
                                                   "key"):
        signing.private_key()


def test_without_a_key_one_is_created_once_with_owner_only_permissions(settings, tmp_path):
    settings.RELAY_SIGNING_KEY = ""
    settings.RELAY_SIGNING_KEY_FILE = tmp_path / "key"
    first = signing.key_id()
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    assert signing.key_id() == first


# --- as the runtime role of `manage.py db_roles` (PostgreSQL) ------------------------------------

OWNER, RUNTIME = "relay_test_owner", "relay_test_app"


@pytest.fixture
def runtime_role(transactional_db):
    call_command("db_roles", "--owner", OWNER, "--runtime", RUNTIME, "--apply",
                 stdout=StringIO())
    import psycopg
    settings_dict = connection.settings_dict
    conn = psycopg.connect(host=settings_dict["HOST"] or "127.0.0.1",
                           port=settings_dict["PORT"] or 5432, dbname=settings_dict["NAME"],
                           user=RUNTIME, autocommit=True)
    yield conn
    conn.close()


def _refused(conn, statement: str, message: str) -> None:
    import psycopg
    with pytest.raises(psycopg.Error, match=message):
        conn.execute(statement)


@on_postgresql
def test_the_runtime_role_cannot_rewrite_history(runtime_role, commander):
    incident = services.declare(title="Checkout returns 502", severity="P2", by=commander)
    audit.log("test.thing", incident, after={"a": 1})
    audited = AuditEntry.objects.count()
    conn = runtime_role
    assert conn.execute("SELECT count(*) FROM incidents_timelineentry").fetchone() == (1,)
    for table in ("incidents_timelineentry", "incidents_auditentry"):
        _refused(conn, f"UPDATE {table} SET note = 'x'", "permission denied")
        _refused(conn, f"DELETE FROM {table}", "permission denied")
        _refused(conn, f"TRUNCATE {table}", "permission denied")
        _refused(conn, f"ALTER TABLE {table} DISABLE TRIGGER ALL", "must be owner")
        _refused(conn, f"ALTER TABLE {table} OWNER TO {RUNTIME}", "must be owner")
    _refused(conn, "DELETE FROM incidents_incident", "permission denied")
    _refused(conn, "TRUNCATE incidents_incident", "permission denied")
    _refused(conn, "SET session_replication_role = replica", "permission denied")
    _refused(conn, "DROP TRIGGER timeline_append_only ON incidents_timelineentry",
             "must be owner")
    _refused(conn, "CREATE TABLE sneaky (id int)", "permission denied")
    # What the application needs it may do, and what it may do to the row is detected.
    conn.execute("UPDATE incidents_incident SET severity = 'P4' WHERE id = %s", [incident.pk])
    assert problems(incident) == ["the incident row disagrees with its timeline: its severity "
                                  "is 'P4' but its timeline says 'P2'"]
    assert TimelineEntry.objects.count() == 1 and AuditEntry.objects.count() == audited


@on_postgresql
def test_relay_runs_as_the_runtime_role(runtime_role, commander, settings, tmp_path):
    """A real process connected as the runtime role declares, notes, checkpoints and verifies."""
    settings_dict = connection.settings_dict
    host, port = settings_dict["HOST"] or "127.0.0.1", settings_dict["PORT"] or 5432
    env = {**os.environ,
           "DATABASE_URL": f"postgres://{RUNTIME}@{host}:{port}/{settings_dict['NAME']}",
           "DJANGO_SETTINGS_MODULE": "config.test_settings",
           "RELAY_CHECKPOINT_DIR": str(tmp_path)}

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], env=env, text=True,
                              capture_output=True, timeout=120, check=False)

    declared = manage("declare", "--title", "Search is slow", "--severity", "P3",
                      "--user", commander.username)
    assert declared.returncode == 0, declared.stderr
    written = manage("timeline_checkpoint")
    assert written.returncode == 0, written.stderr
    assert "Wrote full checkpoint 1" in written.stdout
    verified = manage("verify_timeline")
    assert verified.returncode == 0, verified.stderr
    assert "all chains intact" in verified.stdout


def test_check_deploy_warns_without_a_configured_signing_key(settings):
    from django.core.checks import run_checks
    settings.RELAY_SIGNING_KEY = ""
    settings.RELAY_SIGNING_KEY_FILE_CONFIGURED = False
    assert "relay.W001" in [m.id for m in run_checks(include_deployment_checks=True)]
    settings.RELAY_SIGNING_KEY = base64.b64encode(b"k" * 32).decode()
    assert "relay.W001" not in [m.id for m in run_checks(include_deployment_checks=True)]
