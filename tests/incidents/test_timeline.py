"""The timeline: numbering, hash chain, append-only enforced by the database, tamper detection."""

import hashlib
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from incidents import services, timeline
from incidents.history_guard import allow_purge
from incidents.models import EntryKind, Incident, Severity, Status, TimelineEntry
from incidents.timeline import GENESIS_HASH, canonical_content, entry_hash, record, verify_chain
from tests.conftest import declare

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only (CI runs the suite on both)")


def allow_tampering() -> None:
    """Switch off the append-only triggers of incidents_timelineentry for the rest of the current
    transaction (DDL is transactional on both databases: the test's rollback restores them)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            check_deferred_constraints_now()
            cursor.execute(
                "ALTER TABLE incidents_timelineentry DISABLE TRIGGER timeline_append_only")
        else:
            cursor.execute("DROP TRIGGER timeline_no_update")
            cursor.execute("DROP TRIGGER timeline_no_delete")


def check_deferred_constraints_now() -> None:
    """PostgreSQL refuses ALTER TABLE and TRUNCATE while the transaction still owes deferred
    foreign-key checks (Django's FKs are DEFERRABLE INITIALLY DEFERRED): run them first."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def raw(sql: str, *params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def with_entries(incident, count: int):
    """The incident with `count` entries in all (the declaration plus notes)."""
    for n in range(2, count + 1):
        services.add_note(incident, text=f"note {n}", by=incident.declared_by)
    incident.refresh_from_db()
    assert incident.timeline_seq == count
    return incident


# --- numbering and chain -----------------------------------------------------------------------

def test_entries_are_numbered_from_one_without_gaps(incident, commander, responder):
    services.acknowledge(incident, by=commander)
    services.add_note(incident, text="Looking at the load balancer", by=responder)
    services.change_severity(incident, severity=Severity.P1, by=commander)
    services.transition(incident, to=Status.RESOLVED, by=commander)

    seqs = list(incident.timeline.order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5, 6]  # acknowledging with no commander also names one
    incident.refresh_from_db()
    assert incident.timeline_seq == 6


def test_numbering_is_per_incident(commander):
    first, second = declare(by=commander), declare(by=commander)
    services.add_note(first, text="a", by=commander)
    services.add_note(second, text="b", by=commander)
    services.add_note(first, text="c", by=commander)
    assert list(first.timeline.values_list("seq", "note")) == [
        (1, first.title), (2, "a"), (3, "c")]
    assert list(second.timeline.values_list("seq", "note")) == [(1, second.title), (2, "b")]


def test_each_entry_links_to_the_previous_hash(incident):
    with_entries(incident, 5)
    chain = list(incident.timeline.order_by("seq"))
    assert chain[0].prev_hash == GENESIS_HASH
    for previous, entry in zip(chain, chain[1:], strict=False):
        assert entry.prev_hash == previous.hash
    assert len({e.hash for e in chain}) == 5


def test_entry_hash_is_sha256_of_previous_hash_and_canonical_content(incident, responder):
    entry = services.add_note(incident, text="Zoë says: ünïcode survives", by=responder)
    stored = TimelineEntry.objects.get(pk=entry.pk)
    expected = hashlib.sha256((stored.prev_hash + canonical_content(stored)).encode()).hexdigest()
    assert stored.hash == expected == entry.hash
    assert '"note":"Zoë says: ünïcode survives"' in canonical_content(stored)


def test_reading_a_timeline_does_not_join_the_incident_table(incident):
    """The live poll reads `incident.timeline` on every tick; its default ordering must not drag
    incidents_incident into the query (ordering by the FK orders by Incident.Meta.ordering)."""
    with_entries(incident, 3)
    with CaptureQueriesContext(connection) as queries:
        seqs = [e.seq for e in incident.timeline.filter(seq__gt=1)]
        last = incident.timeline.last()
    assert (seqs, last.seq) == ([2, 3], 3)
    assert not [q["sql"] for q in queries if "incidents_incident" in q["sql"]]


def test_verify_chain_reports_intact_chain(incident):
    with_entries(incident, 4)
    report = verify_chain(incident.pk, batch_size=2)
    assert report.intact
    assert (report.entries, report.first_bad_seq, report.reason) == (4, None, "")
    assert report.head_hash == incident.timeline.get(seq=4).hash


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_record_outside_a_transaction_raises(commander):
    incident = declare(by=commander)
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record(incident, EntryKind.NOTE, commander, note="orphan")
    incident.refresh_from_db()
    assert incident.timeline_seq == 1
    assert list(incident.timeline.values_list("kind", flat=True)) == [EntryKind.DECLARED]


# --- append-only, enforced by the database -----------------------------------------------------

def test_database_rejects_update_of_an_entry(incident):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE incidents_timelineentry SET note = %s WHERE incident_id = %s",
            "rewritten", incident.pk)
    assert incident.timeline.get().note == incident.title


def test_database_rejects_delete_of_an_entry(incident):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s", incident.pk)
    assert incident.timeline.count() == 1


def test_database_rejects_delete_of_an_incident(incident):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("DELETE FROM incidents_incident WHERE id = %s", incident.pk)
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_database_rejects_orm_update_and_delete_too(incident):
    entry = incident.timeline.get()
    entry.note = "rewritten"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.save()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        TimelineEntry.objects.filter(pk=entry.pk).delete()
    assert TimelineEntry.objects.get(pk=entry.pk).note == incident.title


@on_postgresql
@pytest.mark.parametrize("table", ["incidents_timelineentry", "incidents_incident"])
def test_database_rejects_truncate(table, incident):
    check_deferred_constraints_now()
    with pytest.raises(DatabaseError, match="TRUNCATE .*append-only"), transaction.atomic():
        raw(f"TRUNCATE {table} CASCADE")
    assert Incident.objects.filter(pk=incident.pk).exists()
    assert incident.timeline.count() == 1


def test_purge_permission_ends_with_its_block(incident):
    with allow_purge(connection):
        pass
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s", incident.pk)
    assert incident.timeline.count() == 1


class _Rollback(Exception):
    pass


def test_tampering_switch_is_undone_by_rollback(incident):
    with pytest.raises(_Rollback), transaction.atomic():
        allow_tampering()
        assert raw("UPDATE incidents_timelineentry SET note = 'x' WHERE incident_id = %s",
                   incident.pk) == 1
        raise _Rollback
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        raw("UPDATE incidents_timelineentry SET note = 'x' WHERE incident_id = %s", incident.pk)
    assert incident.timeline.get().note == incident.title


# --- tampering is detected by the chain --------------------------------------------------------

def test_altered_entry_is_named_by_verify_chain(incident):
    with_entries(incident, 4)
    bystander = with_entries(declare(by=incident.declared_by), 3)
    allow_tampering()
    raw("UPDATE incidents_timelineentry SET note = %s WHERE incident_id = %s AND seq = 2",
        "nothing happened", incident.pk)

    report = verify_chain(incident.pk)

    assert not report.intact
    assert report.first_bad_seq == 2
    assert report.reason == "its content does not match its hash (it was altered)"
    assert verify_chain(bystander.pk).intact


def test_altered_actor_is_detected(incident, responder):
    with_entries(incident, 3)
    allow_tampering()
    raw("UPDATE incidents_timelineentry SET actor_id = %s WHERE incident_id = %s AND seq = 3",
        responder.pk, incident.pk)
    report = verify_chain(incident.pk)
    assert (report.first_bad_seq, report.reason) == (
        3, "its content does not match its hash (it was altered)")


def test_deleted_middle_entry_is_named_as_a_gap(incident):
    with_entries(incident, 5)
    allow_tampering()
    assert raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 3",
               incident.pk) == 1

    report = verify_chain(incident.pk)

    assert report.first_bad_seq == 3
    assert report.reason == "expected entry #3 but found #4 (an entry is missing)"


def test_deleted_last_entry_is_detected_through_the_incident_counter(incident):
    with_entries(incident, 4)
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 4", incident.pk)

    report = verify_chain(incident.pk)

    assert (report.entries, report.first_bad_seq) == (3, 4)
    assert report.reason == "the incident records 4 entries but 3 remain (entries were removed)"


def test_rehashed_entry_fails_its_own_signature(incident):
    with_entries(incident, 4)
    forged = incident.timeline.get(seq=2)
    forged.note = "nothing happened"
    forged.hash = entry_hash(forged)
    allow_tampering()
    raw("UPDATE incidents_timelineentry SET note = %s, hash = %s WHERE id = %s",
        forged.note, forged.hash, forged.pk)

    report = verify_chain(incident.pk)

    # Its hash is consistent with its new content, but nobody without the key can sign it.
    assert report.first_bad_seq == 2
    assert report.reason.startswith("its signature does not hold")


def test_reordered_entries_are_detected(incident):
    with_entries(incident, 4)
    allow_tampering()
    for old, new in ((2, 100), (3, 2), (100, 3)):
        raw("UPDATE incidents_timelineentry SET seq = %s WHERE incident_id = %s AND seq = %s",
            new, incident.pk, old)
    report = verify_chain(incident.pk)
    assert report.first_bad_seq == 2
    assert report.reason == "its link to the previous entry does not match"


def test_entry_appended_outside_record_is_named(incident):
    """INSERT is not blocked by the triggers: a well-chained forged tail entry must be named as
    itself, not as a missing entry after it."""
    with_entries(incident, 3)
    last = incident.timeline.get(seq=3)
    forged = TimelineEntry(incident_id=incident.pk, seq=4, kind=EntryKind.NOTE,
                           created_at=last.created_at, note="all clear", data={},
                           prev_hash=last.hash)
    forged.hash = entry_hash(forged)
    forged.save(force_insert=True)

    report = verify_chain(incident.pk)

    assert not report.intact
    assert report.first_bad_seq == 4
    assert "removed" not in report.reason


def test_verify_chain_is_not_fooled_by_a_write_during_the_scan(incident, monkeypatch):
    """A responder adds a note after verify_chain has read the entries but before it reads the
    incident's counter (a live system, or the auditor page on an open incident). The chain it
    read is intact and must be reported so."""
    with_entries(incident, 3)
    real_hash = timeline.entry_hash
    writes = []

    def hash_while_someone_writes(entry):
        if not writes:
            monkeypatch.setattr(timeline, "entry_hash", real_hash)  # the writer hashes normally
            writes.append(services.add_note(Incident.objects.get(pk=incident.pk),
                                            text="meanwhile", actor_label="responder"))
        return real_hash(entry)

    monkeypatch.setattr(timeline, "entry_hash", hash_while_someone_writes)
    report = verify_chain(incident.pk)

    assert [w.seq for w in writes] == [4]
    assert report.intact, report.reason
    assert report.entries in (3, 4)


# --- concurrency (PostgreSQL: real row locks between real connections) -------------------------

def _in_threads(count: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(n: int) -> None:
        try:
            start.wait(timeout=30)
            work(n)
        except BaseException as error:  # reported to the test thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_notes_get_unique_gapless_seq_and_intact_chain(commander):
    incident = declare(by=commander)
    per_thread = 5

    def add_notes(n: int) -> None:
        for i in range(per_thread):
            services.add_note(Incident.objects.get(pk=incident.pk), text=f"thread {n} note {i}",
                              by=commander)

    assert _in_threads(8, add_notes) == []

    total = 1 + 8 * per_thread
    assert list(incident.timeline.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1))
    assert incident.timeline.filter(kind=EntryKind.NOTE).count() == 8 * per_thread
    incident.refresh_from_db()
    assert incident.timeline_seq == total
    report = verify_chain(incident.pk)
    assert (report.intact, report.entries) == (True, total)


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_record_calls_without_prior_lock_still_chain(commander):
    """record() alone (no select_for_update by the caller) must serialise on the incident row."""
    incident = declare(by=commander)

    def append(n: int) -> None:
        for i in range(3):
            with transaction.atomic():
                record(Incident(pk=incident.pk), EntryKind.NOTE, note=f"{n}-{i}")

    assert _in_threads(8, append) == []

    report = verify_chain(incident.pk)
    assert (report.intact, report.entries) == (True, 25)
