"""`manage.py serve --port 8123` gives its children SITE_URL (links in pages and emails) for the
port it serves, unless SITE_URL was set; it prints what it serves and the links' base.
Children are stand-ins here: tests/incidents/test_serve.py starts the real ones."""

import io

import pytest
from django.core.management import call_command

from incidents.management.commands import serve


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "http://127.0.0.1:8123"),
    ({"SITE_URL": ""}, "http://127.0.0.1:8123"),
    ({"SITE_URL": "https://relay.example.test/"}, "https://relay.example.test"),
])
def test_site_url_defaults_to_the_address_served(environ, expected):
    assert serve.use_site_url(environ, "127.0.0.1", 8123) == expected
    assert environ["SITE_URL"].rstrip("/") == expected


class StoppedChild:
    """A child process that has already exited on its own, remembering the SITE_URL it got."""

    seen: list = []

    def __init__(self, args, **kwargs):
        StoppedChild.seen.append(serve.os.environ.get("SITE_URL"))
        self.returncode = 0

    def poll(self):
        return 0

    def wait(self, timeout=None):
        return 0


@pytest.fixture
def children(monkeypatch):
    StoppedChild.seen = []
    monkeypatch.setattr(serve.subprocess, "Popen", StoppedChild)
    return StoppedChild.seen


def run_serve(port):
    out = io.StringIO()
    with pytest.raises(SystemExit):  # the stand-ins "stopped on their own"
        call_command("serve", "--port", str(port), stdout=out)
    return out.getvalue()


def test_children_get_the_port_served_when_site_url_is_unset(children, monkeypatch):
    monkeypatch.setenv("SITE_URL", "")  # so that what serve sets is undone after the test
    monkeypatch.delenv("SITE_URL")
    printed = run_serve(8123)
    assert children == ["http://127.0.0.1:8123", "http://127.0.0.1:8123"]
    assert "Relay on http://127.0.0.1:8123/" in printed
    assert "SITE_URL" not in printed  # the same address: said once


def test_a_site_url_from_the_environment_is_kept_and_printed(children, monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://relay.example.test")
    printed = run_serve(8123)
    assert children == ["https://relay.example.test", "https://relay.example.test"]
    assert "Relay on http://127.0.0.1:8123/" in printed
    assert "Links in pages and emails use SITE_URL: https://relay.example.test/" in printed
