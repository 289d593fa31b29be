"""incidents.audit: one signed hash chain, only what changed, never a secret, and where each
change came from."""

import json

import pytest
from django.db import connection, transaction
from django.test import RequestFactory

from incidents import audit, checkpoints, signing
from incidents.models import AuditEntry, AuditSource, Service
from tests.concurrency import race

pytestmark = pytest.mark.django_db


def seq_now() -> int:
    """Fixtures' users already wrote entries (user.create, user.groups): count from here."""
    return audit.head()[0]


def test_entries_form_one_signed_chain(commander):
    start, start_hash = audit.head()
    first = audit.log("service.create", object_type="x", object_id="1", after={"a": 1},
                      actor=commander)
    second = audit.log("service.update", object_type="x", object_id="1", before={"a": 1},
                       after={"a": 2}, actor=commander)

    assert (first.seq, second.seq) == (start + 1, start + 2)
    assert first.prev_hash == start_hash and second.prev_hash == first.hash
    assert second.hash == audit.entry_hash(second)
    assert signing.verify(signing.entry_message("audit", second.hash), second.signature)
    assert (second.actor, second.actor_label, second.source) == (commander, "commander",
                                                                  AuditSource.SYSTEM)
    report = audit.verify_log()
    assert (report.intact, report.head_seq, report.head_hash) == (True, start + 2, second.hash)


def test_only_changed_fields_are_kept_and_a_no_op_writes_nothing(service):
    start = seq_now()
    before = audit.snapshot(service)
    assert audit.log("service.update", service, before=before, after=audit.snapshot(service)) \
        is None
    service.name = "Checkout API v2"
    entry = audit.log("service.update", service, before=before, after=audit.snapshot(service))

    assert (entry.before, entry.after) == ({"name": "Checkout API"},
                                           {"name": "Checkout API v2"})
    assert (entry.object_type, entry.object_id, entry.object_repr) == (
        "incidents.service", str(service.pk), str(service))
    assert seq_now() == start + 1


def test_secrets_are_a_marker_and_only_their_names_are_logged(service):
    assert audit.snapshot(service, secrets=["name"])["name"] == audit.SECRET
    before = {"url": "https://hooks.example.com/a", "secret": audit.SECRET}
    after = {"url": "https://hooks.example.com/b", "secret": audit.SECRET}
    entry = audit.log("webhook.update", object_type="t", object_id="1", before=before,
                      after=after, secrets_changed=["secret"])

    assert (entry.before, entry.after, entry.secrets_changed) == (
        {"url": "https://hooks.example.com/a"}, {"url": "https://hooks.example.com/b"},
        ["secret"])
    only_rotated = audit.log("integration.rotate_key", service, secrets_changed=["key"])
    assert (only_rotated.before, only_rotated.after, only_rotated.secrets_changed) == (
        None, None, ["key"])


def test_snapshots_are_json_with_many_to_many_as_sorted_ids(incident, service):
    snap = audit.snapshot(incident, fields=["title", "services", "started_at"])
    assert snap == {"title": incident.title, "services": [service.pk],
                    "started_at": incident.started_at.isoformat()}
    json.dumps(audit.snapshot(incident))


def test_a_failed_change_rolls_its_entry_back(service):
    start = seq_now()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.log("service.update", service, before={"a": 1}, after={"a": 2})
        raise RuntimeError("the change failed")
    assert seq_now() == start
    assert audit.log("service.update", service, before={"a": 1}, after={"a": 2}).seq == start + 1


@pytest.mark.parametrize(("path", "source"), [
    ("/services/", AuditSource.WEB), ("/api/v1/services/", AuditSource.API),
    ("/admin/incidents/service/", AuditSource.ADMIN)])
def test_the_origin_is_the_request_its_user_and_address(path, source, commander, service):
    request = RequestFactory().post(path, REMOTE_ADDR="203.0.113.7")
    request.user = commander

    def view(request):
        return audit.log("service.update", service, before={"a": 1}, after={"a": 2})

    entry = audit.AuditOriginMiddleware(view)(request)
    assert (entry.source, entry.ip, entry.actor, entry.actor_label) == (
        source, "203.0.113.7", commander, "commander")
    assert audit.current_origin().source == AuditSource.SYSTEM  # reset after the request


def test_commands_say_so(service):
    with audit.origin(AuditSource.COMMAND):
        entry = audit.log("service.update", service, before={"a": 1}, after={"a": 2})
    assert (entry.source, entry.ip, entry.actor) == (AuditSource.COMMAND, None, None)


def test_the_audit_log_is_checkpointed_with_the_timelines(service):
    entry = audit.log("service.update", service, before={"a": 1}, after={"a": 2})
    point = checkpoints.write().checkpoint
    assert point.audit == (entry.seq, entry.hash)
    assert checkpoints.verify_audit().problems == []


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="PostgreSQL only (CI runs the suite on both)")
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_keep_one_unbroken_chain():
    Service.objects.create(name="S", slug="s")

    def write_five():
        for n in range(5):
            audit.log("test.parallel", object_type="t", object_id=str(n), after={"n": n})
        return True

    start = seq_now()
    assert race(write_five, times=6) == [True] * 6
    written = AuditEntry.objects.filter(action="test.parallel").order_by("seq")
    assert list(written.values_list("seq", flat=True)) == list(range(start + 1, start + 31))
    report = audit.verify_log()
    assert (report.intact, report.head_seq) == (True, start + 30)
