"""Escalation timers and paging exactness with real `qcluster` processes on the Redis broker.

    .venv/bin/python bench/escalation.py                  # 1,000 incidents, 2 qcluster processes
    .venv/bin/python bench/escalation.py --processes 4
    .venv/bin/python bench/escalation.py --quick          # 100 incidents, about 90 s
    .venv/bin/python bench/escalation.py --scenario sigkill

Steady scenario: two people with a webhook each, a policy of two steps one minute apart. N
incidents are declared; a real HTTP receiver on loopback records every page it gets. Lateness is
how long after its due time each step was paged (from the `late_ms` the run writes on the
timeline); `lateness_by_source` gives such figures for every source registered with the timer
engine (config/timers.py) that can measure itself (escalation runs, page deliveries, …).
Duplicates and missing pages are counted per (incident, step, round, person, channel) at the
receiver.

SIGKILL scenario: a page's webhook request is held open, the worker sending it is killed with
SIGKILL (its whole qcluster), the cluster is restarted, and the script measures how long after
the restart the page is delivered, and checks that no other page arrived twice.

Needs PostgreSQL (DATABASE_URL names the server; the script uses its own database
`<name>_escbench`, created and dropped here) and Redis (REDIS_URL, default
redis://127.0.0.1:6379/0; a unique cluster name keeps its queue apart). The last line is JSON.
"""

import argparse
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = str(ROOT / ".venv" / "bin" / "python")
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/relay_oncall"


# --- plumbing ------------------------------------------------------------------------------------

def bench_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    name = (parts.path.lstrip("/") or "relay") + "_escbench"
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    assert name.endswith("_escbench"), name  # never drop anything else
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def environment(db_url: str, redis_url: str, workers: int, receiver: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0", SECRET_KEY="escalation-bench", SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0", CSRF_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
        Q_CLUSTER_NAME=f"relay-escbench-{uuid.uuid4().hex[:8]}", Q_WORKERS=str(workers),
        Q_SYNC="0", SITE_URL="http://127.0.0.1:8000", RECEIVER_URL=receiver,
        # The receiver is on loopback, which config.outbound refuses unless allowed.
        RELAY_OUTBOUND_ALLOW="127.0.0.0/8",
        STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage",
    )
    return env


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


class Receiver:
    """A webhook endpoint on loopback that records what arrives. With `hold` set it keeps the
    first page for `hold_user` open until released (for the SIGKILL scenario)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pages: list[tuple] = []  # (incident, step, round, user, channel, arrival time)
        self.hold_user = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.record(body)
                try:
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender died while we held the request

            def log_message(self, *args):
                pass

        return Handler

    def record(self, body: dict) -> None:
        """A message is one page or a bundle of several (`items`); count each page in it."""
        keys = [(item["number"], item["step"], item["round"], item["user"], item["channel"])
                for item in body.get("items", [body]) if item.get("purpose") == "page"]
        with self.lock:
            self.pages += [(*key, time.time()) for key in keys]
        if any(key[3] == self.hold_user for key in keys) and not self.held.is_set():
            self.held.set()
            self.release.wait(60)

    def counts(self) -> Counter:
        with self.lock:
            return Counter(page[:5] for page in self.pages)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Clusters:
    """`manage.py qcluster` processes, each in its own process group."""

    def __init__(self, env: dict, count: int, log=subprocess.DEVNULL):
        self.env, self.count, self.procs, self.log = env, count, [], log

    def start(self) -> None:
        for _ in range(self.count):
            self.procs.append(subprocess.Popen(
                [PYTHON, "manage.py", "qcluster"], cwd=ROOT, env=self.env,
                stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True))

    def kill(self) -> None:
        """SIGKILL every process of every cluster: workers die mid-task."""
        for proc in self.procs:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        self.procs = []

    def stop(self) -> None:
        for proc in self.procs:
            _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self.procs = []


def _signal_group(proc, sig) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def migrate(env: dict) -> None:
    result = subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("manage.py migrate failed")


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


# --- the scenarios -------------------------------------------------------------------------------

def make_policy(receiver_url: str, people=("ann", "bob")):
    """One step per person, a minute apart, each person reached by webhook."""
    from django.contrib.auth.models import User

    from oncall.models import ContactMethod, EscalationPolicy, EscalationStep

    policy = EscalationPolicy.objects.create(name="Bench " + "+".join(people))
    for position, name in enumerate(people):
        user = User.objects.create_user(name, f"{name}@example.test")
        # Each person's own URL: throttles apply per address.
        ContactMethod.objects.create(user=user, kind="webhook", address=f"{receiver_url}/{name}")
        step = EscalationStep.objects.create(policy=policy, position=position, delay_minutes=1)
        step.users.add(user)
    return policy


def declare_many(policy, count: int, prefix: str = "Bench") -> list[int]:
    from incidents import services

    return [services.declare(title=f"{prefix} {i}", severity="P2", escalation_policy=policy).pk
            for i in range(count)]


def wait_for(condition, timeout: float, poll: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()


def lateness(numbers: list[int]) -> list[float]:
    from incidents.models import EntryKind, TimelineEntry

    data = TimelineEntry.objects.filter(incident__in=numbers, kind=EntryKind.ESCALATION,
                                        data__action="paged").values_list("data", flat=True)
    return [d["late_ms"] / 1000 for d in data if "late_ms" in d]


def lateness_by_source(since) -> dict:
    """Every registered timer source that can measure itself: how late its work was done."""
    from config import timers

    figures = {}
    for source in timers.sources():
        if source.lateness is None:
            continue
        late = source.lateness(since)
        figures[source.name] = {
            "count": len(late), "p50_s": round(percentile(late, 50), 3),
            "p99_s": round(percentile(late, 99), 3),
            "max_s": round(max(late, default=math.nan), 3)}
    return figures


def expected_keys(numbers: list[int], people=("ann", "bob")) -> set:
    return {(n, step, 1, user, "webhook") for n in numbers
            for step, user in enumerate(people, 1)}


def steady(args, env, receiver) -> dict:
    from django.utils import timezone

    policy = make_policy(receiver.url)
    since = timezone.now()
    clusters = Clusters(env, args.processes, args.log)
    clusters.start()
    try:
        started = time.monotonic()
        numbers = declare_many(policy, args.incidents)
        declared_s = time.monotonic() - started
        wanted = expected_keys(numbers)
        # Throttled to a message a minute per method, the rest arrives in bundles: allow for
        # the step delay, the declaring, and a few bundles per person.
        wait_for(lambda: wanted <= set(receiver.counts()), timeout=60 + declared_s + 300)
        time.sleep(args.settle)  # anything sent twice arrives in this time too
    finally:
        clusters.stop()
    counts = receiver.counts()
    late = lateness(numbers)
    return {
        "incidents": len(numbers), "qcluster_processes": args.processes,
        "workers_per_process": args.workers, "declare_s": round(declared_s, 1),
        "steps_paged": len(late),
        "lateness_p50_s": round(percentile(late, 50), 3),
        "lateness_p99_s": round(percentile(late, 99), 3),
        "lateness_max_s": round(max(late, default=math.nan), 3),
        "lateness_by_source": lateness_by_source(since),
        "duplicate_pages": sum(c - 1 for c in counts.values() if c > 1),
        "missing_pages": len(wanted - set(counts)),
    }


def sigkill(args, env, receiver) -> dict:
    """Kill a cluster while one page is being sent; the others must not be sent twice."""
    from incidents.models import Page, PageStatus

    others = make_policy(receiver.url, ("ann",))
    held_policy = make_policy(receiver.url, ("cat",))
    clusters = Clusters(env, args.processes, args.log)
    clusters.start()
    try:
        numbers = declare_many(others, args.incidents, "Before")
        wait_for(lambda: expected_keys(numbers, ("ann",)) & set(receiver.counts()), timeout=60)
        receiver.hold_user = "cat"  # before declaring: the page may arrive at once
        [held] = declare_many(held_policy, 1, "Held")
        if not receiver.held.wait(30):
            raise SystemExit("the held page never arrived")
        clusters.kill()  # the worker sending the held page dies mid-send
        receiver.release.set()
        restarted = time.monotonic()
        clusters.start()
        page = Page.objects.get(incident_id=held, purpose="page")
        delivered = wait_for(lambda: Page.objects.filter(
            pk=page.pk, status=PageStatus.DELIVERED).exists(), timeout=120, poll=0.1)
        redelivery = time.monotonic() - restarted if delivered else math.nan
        wanted = expected_keys(numbers, ("ann",)) | expected_keys([held], ("cat",))
        wait_for(lambda: wanted <= set(receiver.counts()), timeout=150)
        time.sleep(args.settle)
    finally:
        clusters.stop()
    counts = receiver.counts()
    held_key = (held, 1, 1, "cat", "webhook")
    return {
        "incidents": len(numbers) + 1, "qcluster_processes": args.processes,
        "redelivered_after_restart_s": round(redelivery, 2),
        "held_page_received": counts[held_key],
        "other_duplicate_pages": sum(c - 1 for k, c in counts.items() if c > 1 and k != held_key),
        "missing_pages": len(wanted - set(counts)),
    }


def table(result: dict) -> str:
    rows = dict(_flat(result))
    width = max(len(k) for k in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows.items())


def _flat(result: dict, prefix: str = ""):
    """Nested figures as dotted rows of the table (lateness_by_source.page-deliveries.p99_s)."""
    for key, value in result.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["steady", "sigkill"], default="steady")
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--processes", type=int, default=2, help="qcluster processes")
    parser.add_argument("--workers", type=int, default=2, help="workers per qcluster")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait for duplicates")
    parser.add_argument("--quick", action="store_true", help="100 incidents")
    parser.add_argument("--log", type=argparse.FileType("w"), default=subprocess.DEVNULL,
                        help="file for the qcluster processes' output")
    args = parser.parse_args()
    if args.incidents is None:
        args.incidents = {"steady": 100 if args.quick else 1000, "sigkill": 20}[args.scenario]
    db_url = bench_url(os.environ.get("DATABASE_URL", DEFAULT_SERVER))
    receiver = Receiver()
    env = environment(db_url, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                      args.workers, receiver.url)
    recreate_database(db_url)
    try:
        migrate(env)
        setup_django(env)
        result = (steady if args.scenario == "steady" else sigkill)(args, env, receiver)
    finally:
        receiver.stop()
        from django.db import connections

        connections.close_all()
        drop_database(db_url)
    print(table(result))
    print(json.dumps(result))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    main()
