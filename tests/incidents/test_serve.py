"""`manage.py serve` as `make run` starts it: gunicorn and a django-q2 worker from one command.

The real command on a free port against its own database: a burst of 50 PagerDuty senders all get
an answer (runserver's backlog refused them), secrets in URLs stay out of the access log, static
files are served, Ctrl-C stops everything, and a child stopping on its own stops the rest."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.conf import settings
from django.core import signing

from incidents.paging import links

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 50


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A migrated database of its own: a file for SQLite, a scratch database on PostgreSQL."""
    configured = os.environ.get("DATABASE_URL")
    if not configured:
        yield f"sqlite:///{tmp_path_factory.mktemp('serve') / 'relay.sqlite3'}"
        return
    parts = dj_database_url.parse(configured)
    name = f"relay_serve_{os.getpid()}"
    with psycopg.connect(host=parts["HOST"], port=parts["PORT"] or 5432, user=parts["USER"],
                         password=parts["PASSWORD"] or None, dbname="postgres",
                         autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        yield configured.rsplit("/", 1)[0] + f"/{name}"
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def server_env(database_url, tmp_path_factory):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path_factory.mktemp("home")),
           "DEBUG": "1", "DATABASE_URL": database_url, "SECRET_KEY": settings.SECRET_KEY,
           "DJANGO_SETTINGS_MODULE": "config.settings", "Q_WORKERS": "1"}
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "shell", "-c", "from incidents.models import Service; "
           "Service.objects.create(name='Checkout API', slug='checkout-api')")
    return env


@pytest.fixture(scope="module")
def keys(server_env):
    return {fmt: manage(server_env, "create_integration", "checkout-api", fmt).stdout.strip()
            for fmt in ("pagerduty", "generic")}


def manage(env, *args):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve(server_env, tmp_path):
    """Start `manage.py serve` in its own process group (as a terminal would) until it answers."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT,
            env=server_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, log)
        yield process, base, log
    finally:
        # The whole group, even when serve itself has exited: a child that outlived it would
        # keep the test database open (and run on, orphaned, after the suite).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(base, process, log):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail("manage.py serve did not answer within 60 s:\n" + log.read_text())


def request(url, body=None, headers=None):
    """(status, None) for any HTTP answer, (None, error) for a connection failure."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError as error:
        return None, error


def pagerduty_event(key, n):
    return json.dumps({"routing_key": key, "event_action": "trigger", "dedup_key": f"burst-{n}",
                       "payload": {"summary": f"Checkout 5xx above 5% on web-{n}",
                                   "source": f"web-{n}", "severity": "critical"}})


def group_alive(pgid) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_group_to_end(pgid, seconds):
    deadline = time.monotonic() + seconds
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not group_alive(pgid)


def test_burst_of_pagerduty_senders_all_get_an_answer_and_ctrl_c_stops_both(serve, keys):
    process, base, log = serve
    start = threading.Barrier(SENDERS)

    def send(n):
        start.wait()
        return request(f"{base}/integrations/pagerduty/v2/enqueue",
                       pagerduty_event(keys["pagerduty"], n),
                       {"Content-Type": "application/json"})

    with ThreadPoolExecutor(SENDERS) as pool:
        results = list(pool.map(send, range(SENDERS)))
    assert [error for _, error in results if error] == [], log.read_text()[-3000:]
    assert [status for status, _ in results] == [202] * SENDERS, log.read_text()[-3000:]
    assert request(f"{base}/static/relay.css")[0] == 200

    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    assert wait_for_group_to_end(process.pid, 10), "gunicorn or qcluster outlived serve"


def test_access_log_carries_no_keys_or_tokens(serve, keys):
    process, base, log = serve
    page_token = signing.dumps({"p": 999999}, salt=links.SALT, compress=True)
    calendar_token = "calendar-s3cret-token"
    assert request(f"{base}/integrations/generic/{keys['generic']}/", "{not json",
                   {"Content-Type": "application/json"})[0] == 400
    assert request(f"{base}/pages/{page_token}/acknowledge/")[0] == 400
    assert request(f"{base}/oncall/schedules/1/calendar.ics?token={calendar_token}")[0] == 404

    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=20)
    logged = log.read_text()
    for secret in (keys["generic"], page_token, calendar_token):
        assert secret not in logged
    assert '"POST /integrations/generic/[redacted]/ HTTP/1.1" 400' in logged
    assert '"GET /pages/[redacted]/acknowledge/ HTTP/1.1" 400' in logged
    assert '"GET /oncall/schedules/1/calendar.ics?token=[redacted] HTTP/1.1" 404' in logged
    assert "Bad Request: /integrations/generic/[redacted]/" in logged  # Django's own log


def test_a_child_stopping_on_its_own_stops_serve_with_an_error(serve):
    process, _, log = serve
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    gunicorn = next(pid for pid in map(int, children)
                    if b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(gunicorn, signal.SIGTERM)  # gunicorn exits cleanly, but serve did not ask it to
    assert process.wait(timeout=30) != 0
    assert "stopped unexpectedly" in log.read_text()
    assert wait_for_group_to_end(process.pid, 10), "qcluster outlived serve"
