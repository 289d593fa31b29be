"""manage.py declare and manage.py verify_timeline."""

from io import StringIO

import pytest
from django.core.management import base as management_base
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import (
    EntryKind,
    Incident,
    IncidentUserObjectPermission,
    Service,
    Severity,
    TimelineEntry,
)
from tests.conftest import declare, make_user
from tests.incidents.test_timeline import allow_tampering, raw


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO(), no_color=True)
    return out.getvalue()


def run_cli(name: str, *args: str, capsys, monkeypatch) -> tuple[int, str, str]:
    """As `manage.py NAME ARGS` would: exit status, stdout, stderr. The command's final
    close_all() is disabled so the test transaction survives."""
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)
    command = load_command_class("incidents", name)
    try:
        command.run_from_argv(["manage.py", name, "--skip-checks", "--no-color", *args])
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def nothing_written():
    return not Incident.objects.exists() and not TimelineEntry.objects.exists()


# --- declare -----------------------------------------------------------------------------------

def test_declare_command_declares_and_prints_reference(service, tier):
    output = run("declare", "--title", " Checkout returns 502 ", "--severity", "P2",
                 "--description", "Card payments fail", "--service", "checkout-api",
                 "--tier", "enterprise")

    incident = Incident.objects.get()
    assert output == f"Declared INC-{incident.pk}: Checkout returns 502 (P2)\n"
    assert (incident.title, incident.severity, incident.description) == (
        "Checkout returns 502", Severity.P2, "Card payments fail")
    assert list(incident.services.all()) == [service]
    assert list(incident.customer_tiers.all()) == [tier]
    assert (incident.declared_by, incident.restricted) == (None, False)
    entry, lead_notice = incident.timeline.order_by("seq")
    assert (entry.kind, entry.actor, entry.actor_label) == (
        EntryKind.DECLARED, None, "manage.py declare")
    assert lead_notice.new_value == "lead:declared"  # the owning team's lead hears of it


def test_declare_command_acts_as_named_user(commander):
    run("declare", "--title", "Login loop", "--severity", "P3", "--user", "commander")
    incident = Incident.objects.get()
    assert incident.declared_by == commander
    entry = incident.timeline.get()
    assert (entry.actor, entry.actor_label) == (commander, "")


def test_declare_command_restricted_grants_the_declarer(commander):
    run("declare", "--title", "Leaked key", "--severity", "P1", "--restricted",
        "--user", "commander")
    incident = Incident.objects.get()
    assert incident.restricted
    assert IncidentUserObjectPermission.objects.filter(
        content_object=incident, user=commander, permission__codename="view_incident").exists()


def test_declare_command_takes_several_services_either_way(service):
    Service.objects.create(name="Search", slug="search")
    Service.objects.create(name="Billing", slug="billing")
    run("declare", "--title", "A", "--severity", "P4", "--service", "checkout-api", "search",
        "--service", "billing")
    slugs = Incident.objects.get().services.values_list("slug", flat=True)
    assert sorted(slugs) == ["billing", "checkout-api", "search"]


def test_declare_command_accepts_lowercase_severity(db):
    output = run("declare", "--title", "Slow search", "--severity", "p4")
    assert output.endswith("Slow search (P4)\n")
    assert Incident.objects.get().severity == Severity.P4


@pytest.mark.parametrize(("args", "message"), [
    (["--title", "A", "--severity", "P7"],
     "Cannot declare the incident: severity: Unknown severity 'P7'; choose one of P1, P2, P3, "
     "P4."),
    (["--title", "", "--severity", "P2"],
     "Cannot declare the incident: title: This field is required."),
    (["--title", "   ", "--severity", "P2"],
     "Cannot declare the incident: title: This field is required."),
    (["--title", "x" * 201, "--severity", "P2"],
     "Cannot declare the incident: title: Ensure this value has at most 200 characters "
     "(it has 201)."),
    (["--title", "A", "--severity", "P2", "--service", "checkout-api", "nope", "gone"],
     "Unknown service slug: 'nope', 'gone'."),
    (["--title", "A", "--severity", "P2", "--tier", "platinum"],
     "Unknown customer tier slug: 'platinum'."),
    (["--title", "A", "--severity", "P2", "--user", "ghost"],
     "There is no user named 'ghost'."),
    (["--severity", "P2"],
     "Error: the following arguments are required: --title"),
])
def test_declare_command_rejects_bad_input_with_a_sentence(args, message, service, tier):
    with pytest.raises(CommandError) as raised:
        run("declare", *args)
    assert str(raised.value) == message
    assert nothing_written()


def test_declare_command_rejects_inactive_user(db):
    make_user("left-the-company", "Responders", is_active=False)
    with pytest.raises(CommandError, match="'left-the-company' is inactive"):
        run("declare", "--title", "A", "--severity", "P2", "--user", "left-the-company")
    assert nothing_written()


def test_declare_command_refuses_user_without_declare_permission(csm):
    with pytest.raises(CommandError) as raised:
        run("declare", "--title", "A", "--severity", "P2", "--user", "csm")
    assert str(raised.value) == "The user 'csm' may not declare incidents."
    assert nothing_written()


def test_declare_command_exits_non_zero_without_traceback(db, capsys, monkeypatch):
    status, out, err = run_cli("declare", "--title", "A", "--severity", "P0",
                               capsys=capsys, monkeypatch=monkeypatch)
    assert status == 1
    assert out == ""
    assert err == ("CommandError: Cannot declare the incident: severity: Unknown severity 'P0'; "
                   "choose one of P1, P2, P3, P4.\n")
    assert nothing_written()


# --- verify_timeline ---------------------------------------------------------------------------

@pytest.fixture
def three_incidents(commander):
    incidents = [declare(by=commander) for _ in range(3)]
    for incident in incidents[1:]:
        services.add_note(incident, text="checking", by=commander)
    services.change_severity(incidents[2], severity=Severity.P1, by=commander)
    return incidents  # 1 + 2 + 3 = 6 entries


# The fixture's user wrote two audit entries: user.create and user.groups.
UNCOVERED = ("Checkpoints: no checkpoint yet; not yet covered: 6 timeline entries and 2 audit "
             "entries (manage.py timeline_checkpoint covers them).\n")
INTACT = ("Verified 3 incidents, 6 entries: all chains intact.\nAudit log: 2 entries, intact.\n"
          + UNCOVERED)


def test_verify_timeline_summarises_intact_chains(three_incidents):
    assert run("verify_timeline") == INTACT


def test_verify_timeline_after_a_checkpoint_says_everything_is_covered(three_incidents):
    assert run("timeline_checkpoint").startswith("Wrote full checkpoint 1 ")
    assert run("verify_timeline").splitlines()[-1].endswith("; it covers everything.")
    services.add_note(three_incidents[0], text="later", by=three_incidents[0].declared_by)
    assert run("verify_timeline").splitlines()[-1].endswith(
        "not yet covered: 1 timeline entry and 0 audit entries (manage.py timeline_checkpoint "
        "covers them).")


def test_verify_timeline_on_empty_database(db):
    assert run("verify_timeline") == (
        "Verified 0 incidents, 0 entries: all chains intact.\nAudit log: 0 entries, intact.\n"
        "Checkpoints: no checkpoint yet; it covers everything.\n")


@pytest.mark.parametrize("batch", ["1", "2", "3", "500"])
def test_verify_timeline_visits_every_incident_once_whatever_the_batch(batch, three_incidents,
                                                                       django_assert_num_queries):
    with CaptureQueriesContext(connection) as one:
        run("verify_timeline", "--incident", str(three_incidents[2].pk))
    with CaptureQueriesContext(connection) as none:
        run("verify_timeline", "--incident", str(three_incidents[2].pk), "--batch-size", "9")
    per_incident = len(one) - 1  # the one-incident run also checks that the incident exists
    assert len(none) == len(one)
    ids_queries = 3 // int(batch) + 1  # keyset pages, the last one short
    audit_queries = 3  # the log's counter, its entries (none), and the counter again
    with django_assert_num_queries(ids_queries + 3 * per_incident + 1 + audit_queries):
        output = run("verify_timeline", "--batch-size", batch)
    assert output == INTACT


def test_verify_timeline_names_first_bad_entry_of_a_tampered_chain(three_incidents):
    victim = three_incidents[1]
    allow_tampering()
    raw("UPDATE incidents_timelineentry SET note = 'all good' WHERE incident_id = %s AND seq = 2",
        victim.pk)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("verify_timeline", stdout=out, no_color=True)

    line = f"INC-{victim.pk}: entry #2: its content does not match its hash (it was altered)"
    assert str(raised.value) == f"1 problem in the record; the first: {line}"
    assert out.getvalue() == (f"{line}\nVerified 3 incidents, 6 entries: 1 broken.\n"
                              f"Audit log: 2 entries, intact.\n{UNCOVERED}")


def test_verify_timeline_lists_every_broken_chain(three_incidents):
    first, _, last = three_incidents
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 1", first.pk)
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 3", last.pk)
    out = StringIO()

    with pytest.raises(CommandError, match=f"3 problems in the record; the first: INC-{first.pk}: "
                                           "entry #1: the incident records 1 entries but 0 remain"):
        call_command("verify_timeline", stdout=out, no_color=True)

    lines = out.getvalue().splitlines()
    assert [line.split(":")[0:2] for line in lines[:2]] == [
        [f"INC-{first.pk}", " entry #1"], [f"INC-{last.pk}", " entry #3"]]
    # The severity change was the removed entry: the row's P1 has no timeline behind it.
    assert lines[2] == (f"INC-{last.pk}: the incident row disagrees with its timeline: its "
                        "severity is 'P1' but its timeline says 'P2'")
    assert lines[3].endswith(": 2 broken.")


def test_verify_timeline_exits_non_zero_on_broken_chain(three_incidents, capsys, monkeypatch):
    victim = three_incidents[2]
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 3", victim.pk)

    status, out, err = run_cli("verify_timeline", capsys=capsys, monkeypatch=monkeypatch)

    assert status == 1
    assert f"INC-{victim.pk}: entry #3: the incident records 3 entries but 2 remain" in out
    assert err.startswith(f"CommandError: 2 problems in the record; the first: INC-{victim.pk}: "
                          "entry #3")
    assert "Traceback" not in err


def test_verify_timeline_for_one_incident(three_incidents):
    first, second, _ = three_incidents
    allow_tampering()
    raw("DELETE FROM incidents_timelineentry WHERE incident_id = %s AND seq = 2", second.pk)

    assert run("verify_timeline", "--incident", str(first.pk)) == (
        "Verified 1 incident, 1 entry: all chains intact.\nCheckpoints: no checkpoint yet; not "
        "yet covered: 1 timeline entry (manage.py timeline_checkpoint covers them).\n")
    with pytest.raises(CommandError, match=f"the first: INC-{second.pk}: entry #2"):
        run("verify_timeline", "--incident", f"INC-{second.pk}")


@pytest.mark.parametrize(("value", "message"), [
    ("999999", "There is no incident INC-999999."),
    ("INC-999999", "There is no incident INC-999999."),
    ("abc", "Error: argument --incident: 'abc' is not an incident number (give 42 or INC-42)."),
])
def test_verify_timeline_rejects_unknown_incident(value, message, db):
    with pytest.raises(CommandError) as raised:
        run("verify_timeline", "--incident", value)
    assert str(raised.value) == message


def test_verify_timeline_rejects_zero_batch_size(db):
    with pytest.raises(CommandError, match="'0' is not a positive whole number"):
        run("verify_timeline", "--batch-size", "0")
