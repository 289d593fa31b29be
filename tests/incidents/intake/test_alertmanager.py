"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on loopback delivers to Relay
through its webhook receiver and through its PagerDuty receiver: firing declares one incident per
path, resolved resolves it."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from incidents.models import Incident, Service, Status
from tests.incidents.conftest import make_integration

ALERTMANAGER = shutil.which("prometheus-alertmanager")

CONFIG = """
route:
  receiver: hook
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {{receiver: hook, continue: true}}
    - {{receiver: pd, continue: true}}
receivers:
  - name: hook
    webhook_configs: [{{url: '{base}/integrations/alertmanager/{hook_key}/', send_resolved: true}}]
  - name: pd
    pagerduty_configs:
      - routing_key: '{pd_key}'
        url: '{base}/integrations/pagerduty/v2/enqueue'
        send_resolved: true
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def push(port: int, ends_at: datetime | None = None) -> None:
    alert = {"labels": {"alertname": "DBDown", "instance": "db-1", "severity": "critical"},
             "annotations": {"summary": "Primary DB unreachable", "description": "pg down"}}
    if ends_at:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/alerts",
                                     data=json.dumps([alert]).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def wait_for(condition, timeout=30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


@pytest.fixture
def alertmanager(tmp_path):
    """Start Alertmanager with a config written by the test; stop it afterwards."""
    if ALERTMANAGER is None:
        pytest.skip("prometheus-alertmanager is not installed (.ci/run installs it)")
    processes = []

    def start(config: str) -> int:
        port = free_port()
        (tmp_path / "am.yml").write_text(config)
        log = (tmp_path / "am.log").open("w")
        process = subprocess.Popen([
            ALERTMANAGER, f"--config.file={tmp_path / 'am.yml'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            f"--storage.path={tmp_path / 'data'}"], stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        ready = wait_for(lambda: _answers(port), 20)
        assert ready, (tmp_path / "am.log").read_text()
        return port

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_real_alertmanager_fires_and_resolves_through_webhook_and_pagerduty(
        live_server, alertmanager, team):
    if connection.vendor != "postgresql":
        # Both receivers deliver at once; the live server shares one in-memory SQLite
        # connection between its threads, so parallel transactions would interleave on it.
        pytest.skip("parallel deliveries need PostgreSQL (CI runs the suite on both)")
    hook_service = Service.objects.create(name="DB via webhook", slug="db-hook", team=team)
    pd_service = Service.objects.create(name="DB via PagerDuty", slug="db-pd", team=team)
    _, hook_key = make_integration(hook_service, "alertmanager")
    _, pd_key = make_integration(pd_service, "pagerduty")
    port = alertmanager(CONFIG.format(base=live_server.url, hook_key=hook_key, pd_key=pd_key))

    push(port)
    both = (hook_service, pd_service)
    assert wait_for(lambda: all(Incident.objects.filter(services=s).exists() for s in both))
    time.sleep(3)  # further notifications of the same group must not declare again
    for service in both:
        incidents = list(Incident.objects.filter(services=service))
        assert len(incidents) == 1
        assert incidents[0].status == Status.TRIGGERED
    hook_incident = Incident.objects.get(services=hook_service)
    assert hook_incident.title == "Primary DB unreachable"
    assert hook_incident.severity == "P1"
    assert Incident.objects.get(services=pd_service).title.startswith("[FIRING:1] DBDown")

    push(port, ends_at=datetime.now(UTC) - timedelta(seconds=1))
    assert wait_for(lambda: all(
        Incident.objects.get(services=s).status == Status.RESOLVED for s in both)), [
        (i.title, i.status) for i in Incident.objects.all()]
    assert Incident.objects.count() == 2
