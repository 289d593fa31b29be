"""The per-integration rate limit with real parts: two web server processes counting in one
Redis, and a Redis that does not answer (intake then accepts, uncounted)."""

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.test import override_settings

from incidents.intake import keys
from incidents.models import Alert, Service
from tests.incidents.conftest import make_integration

ROOT = Path(__file__).resolve().parents[3]
REDIS_DB = 11  # apart from django-q's broker (db 0 in bench/escalation.py)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The test database this process uses, for server processes to share it."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return (f"postgres://{quote(db['USER'])}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def _server_environment(prefix: str) -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0",
            "SECRET_KEY": "relay-rate-test", "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0", "DATABASE_URL": _database_url(),
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}", "CACHE_KEY_PREFIX": prefix,
            "Q_CLUSTER_NAME": prefix,
            "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def _wait_until_serving(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        try:
            if _post(f"http://127.0.0.1:{port}/integrations/generic/no-such-key/", {})[0] == 404:
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server on port {port} did not answer within 30 s")


@pytest.fixture
def two_servers(transactional_db):
    """Two gunicorn processes, each with one worker, on the shared test database and Redis."""
    prefix = f"relay-rate-test-{uuid.uuid4().hex[:8]}"
    ports = [_free_port(), _free_port()]
    processes = [subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--workers", "1",
         "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=_server_environment(prefix),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for port in ports]
    try:
        for process, port in zip(processes, ports, strict=True):
            _wait_until_serving(process, port)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
            process.stderr.close()
        store = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
        for key in store.scan_iter(match=f"*{prefix}*"):
            store.delete(key)


def _start_of_a_fresh_minute() -> None:
    """The 12 requests must fall in one fixed window."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.1)


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="server processes share the test database: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_two_web_processes_share_one_rate_limit_through_redis(team, two_servers):
    service = Service.objects.create(name="Storefront", slug="storefront", team=team)
    _, key = make_integration(service, rate_limit_per_minute=10)
    _start_of_a_fresh_minute()
    answers = [_post(f"{two_servers[i % 2]}/integrations/generic/{key}/",
                     {"summary": f"alert {i}", "dedup_key": f"alert-{i}"}) for i in range(12)]
    statuses = [status for status, _ in answers]
    assert statuses.count(202) == 10, statuses
    assert statuses.count(429) == 2, statuses
    assert all(1 <= int(headers["Retry-After"]) <= 61
               for status, headers in answers if status == 429)
    assert Alert.objects.count() == 10


def test_settings_use_redis_with_a_key_prefix_when_redis_url_is_set():
    script = ("import django; django.setup(); from django.conf import settings; import json; "
              "print(json.dumps(settings.CACHES))")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
                         "DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/3",
                         "CACHE_KEY_PREFIX": "relay-eu"})
    caches = json.loads(result.stdout.strip().splitlines()[-1])
    assert caches["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert caches["default"]["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert caches["default"]["KEY_PREFIX"] == "relay-eu"
    assert caches["timeline"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_settings_keep_a_per_process_cache_without_redis_url():
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    script = ("import django; django.setup(); from django.conf import settings; "
              "print(settings.CACHES['default']['BACKEND'])")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True, env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings",
                         "DEBUG": "1"})
    assert result.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"


@pytest.mark.django_db
def test_unreachable_redis_accepts_the_alert_uncounted_and_warns(client, service, caplog):
    _, key = make_integration(service, rate_limit_per_minute=1)
    keys._uncounted_warned.clear()  # integration ids repeat between tests
    closed = f"redis://127.0.0.1:{_free_port()}/0"
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                               "LOCATION": closed, "OPTIONS": {"socket_connect_timeout": 1}}}
    with override_settings(CACHES=unreachable), caplog.at_level(logging.WARNING):
        statuses = [client.post(f"/integrations/generic/{key}/", content_type="application/json",
                                data={"summary": f"disk full {i}", "dedup_key": f"d{i}"})
                    .status_code for i in range(2)]
    assert statuses == [202, 202]  # over the limit of 1, but nothing could count it
    assert Alert.objects.count() == 2
    warnings = [r for r in caplog.records if "not counted" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a request
