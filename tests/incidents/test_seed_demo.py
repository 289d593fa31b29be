"""seed_demo is what `make run` shows a newcomer: every role can log in, incidents have history,
alerts came through the real pipeline, and running it again changes nothing."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from incidents.models import Alert, Incident, Integration
from incidents.timeline import verify_chain


def test_seed_demo_builds_a_usable_portal_and_is_idempotent(db, capsys):
    call_command("seed_demo", "--force")
    out = capsys.readouterr().out
    for username, password in (("commander", "relay-commander"), ("auditor", "relay-auditor"),
                               ("csm", "relay-csm"), ("responder", "relay-responder"),
                               ("admin", "relay-admin")):
        assert f"{username:<10} password {password}" in out
        # Login throttling (django-axes) checks every authenticate() against its request.
        assert authenticate(HttpRequest(), username=username, password=password) is not None
    keys = [line.split("key ")[1].split()[0] for line in out.splitlines() if "(shown once)" in line]
    assert len(keys) == Integration.objects.count() == 2
    timeouts = Alert.objects.get(summary="Card processor timeouts above 5%")
    assert timeouts.count == 2
    assert Alert.objects.filter(incident=timeouts.incident).count() == 2  # grouped
    assert all(verify_chain(pk).intact for pk in Incident.objects.values_list("pk", flat=True))
    before = (Incident.objects.count(), Alert.objects.count(), Integration.objects.count())

    call_command("seed_demo", "--force")
    assert "(shown once)" not in capsys.readouterr().out
    assert (Incident.objects.count(), Alert.objects.count(), Integration.objects.count()) == before


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo")
