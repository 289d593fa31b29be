"""A database outage while alerts stream in, with real parts: `manage.py serve` talks to the test
database through a TCP proxy on loopback, and the proxy is cut (every connection closed, new ones
refused) for a few seconds, as a PostgreSQL restart would, without restarting the cluster other
tests share. Senders get 503 with Retry-After, never 500; the same server answers again once the
database is back; every alert answered 202 is stored."""

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
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from incidents.models import Alert, Service
from tests.incidents.conftest import make_integration

ROOT = Path(__file__).resolve().parents[3]
SENDERS = 4
OUTAGE_SECONDS = 5

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="PostgreSQL only (CI runs the suite on both)")


class CuttableProxy:
    """Forwards loopback TCP connections to PostgreSQL; `cut()` closes every connection and
    refuses new ones (the port is closed), `restore()` listens again on the same port."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.port = 0
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            doomed, self.sockets = self.sockets, set()
        listener.close()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # cut while connecting
                    client.close()
                    upstream.close()
                    return
                self.sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self.listener is not None:
            self.cut()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(port: int) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@127.0.0.1:{port}/{db['NAME']}"


def _server_environment(database_url: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    return {**environment, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,  # so it reads the test's sessions
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0", "DATABASE_URL": database_url, "Q_WORKERS": "1",
            "Q_CLUSTER_NAME": f"relay-outage-{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "WARNING",
            "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


@pytest.fixture
def proxy():
    proxy = CuttableProxy((connection.settings_dict["HOST"] or "127.0.0.1",
                           int(connection.settings_dict["PORT"] or 5432)))
    yield proxy
    proxy.close()


@pytest.fixture
def served(proxy, tmp_path):
    """`manage.py serve` (gunicorn and a worker) reaching the test database only through the
    proxy; yields its base URL and log."""
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT,
            env=_server_environment(_database_url(proxy.port)), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                if _post(f"{base}/integrations/generic/no-such-key/", {})[0] == 404:
                    break
            assert time.monotonic() < deadline, "not serving after 30 s:\n" + log.read_text()
            time.sleep(0.2)
        yield base, process, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _stream(url: str, sender: int, stop: threading.Event, answers: list) -> None:
    for n in range(100_000):
        if stop.is_set():
            return
        dedup_key = f"outage-{sender}-{n}"
        body = {"summary": f"Checkout latency above SLO (sender {sender}, #{n})",
                "dedup_key": dedup_key, "severity": "warning",
                "details": {"p99_ms": 870 + n, "region": "eu-west-1"}}
        try:
            status, headers = _post(url, body)
        except OSError as error:  # no HTTP answer at all
            status, headers = None, {"error": repr(error)}
        answers.append((time.monotonic(), dedup_key, status, headers))
        time.sleep(0.02)


def _browse(base: str, cookie: str, stop: threading.Event, answers: list) -> None:
    """A person's dashboard and the API, logged in by session: the session is read from the
    database on every request."""
    for n in range(100_000):
        if stop.is_set():
            return
        path = ("/", "/api/v1/incidents/")[n % 2]
        request = urllib.request.Request(base + path, headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status, headers, body = response.status, dict(response.headers), b""
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, dict(error.headers), error.read()
        except OSError as error:
            status, headers, body = None, {"error": repr(error)}, b""
        answers.append((time.monotonic(), path, status, headers, body))
        time.sleep(0.1)


def _session_cookie(user) -> str:
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), "_auth_user_hash":
                    user.get_session_auth_hash(),
                    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
    session.create()
    return f"sessionid={session.session_key}"


@pytest.mark.django_db(transaction=True)
def test_alerts_during_a_database_outage_get_503_and_nothing_answered_202_is_lost(
        proxy, served, commander):
    base, process, log = served
    service = Service.objects.create(name="Checkout API", slug="checkout-api")
    _, key = make_integration(service)
    url = f"{base}/integrations/generic/{key}/"
    stop, answers, pages = threading.Event(), [], []
    senders = [threading.Thread(target=_stream, args=(url, i, stop, answers))
               for i in range(SENDERS)]
    senders.append(threading.Thread(target=_browse,
                                    args=(base, _session_cookie(commander), stop, pages)))
    for sender in senders:
        sender.start()
    try:
        time.sleep(3)
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        restored_at = time.monotonic()
        time.sleep(6)
    finally:
        stop.set()
        for sender in senders:
            sender.join(30)

    statuses = [status for _, _, status, _ in answers]
    assert statuses.count(500) == 0 and None not in statuses, \
        sorted({(s, h.get("error")) for _, _, s, h in answers if s in (500, None)})
    assert set(statuses) <= {202, 503}, set(statuses)
    during = [a for a in answers if cut_at + 1 < a[0] < restored_at]
    assert during and all(status == 503 for _, _, status, _ in during)
    assert all(headers.get("Retry-After", "").isdigit()
               for _, _, status, headers in answers if status == 503)
    # The same server process answers again once the database is back.
    assert process.poll() is None, log.read_text()
    recovered = [status for at, _, status, _ in answers if at > restored_at + 3]
    assert recovered and set(recovered) == {202}, recovered
    accepted = {dedup_key for _, dedup_key, status, _ in answers if status == 202}
    stored = set(Alert.objects.filter(dedup_key__startswith="outage-")
                 .values_list("dedup_key", flat=True))
    assert accepted <= stored, sorted(accepted - stored)[:10]
    # People get a small page, API clients JSON; both are told when to come back.
    page_statuses = [status for _, _, status, _, _ in pages]
    assert set(page_statuses) <= {200, 503} and 503 in page_statuses, page_statuses
    for _, path, status, headers, body in pages:
        if status == 503:
            assert headers["Retry-After"].isdigit()
            if path.startswith("/api/"):
                assert "error" in json.loads(body)
            else:
                assert headers["Content-Type"].startswith("text/html") and b"unavailable" in body
    assert {status for at, _, status, _, _ in pages if at > restored_at + 3} == {200}
    # An outage is a warning in the log, not a traceback per request.
    text = log.read_text()
    assert "Internal Server Error" not in text, text[-3000:]
    assert 1 <= text.count("Database unavailable") <= 2, text[-3000:]
