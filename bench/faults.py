"""Faults: PostgreSQL restarted under a stream of alerts, and a worker killed mid-delivery.

    .venv/bin/python bench/faults.py                       # both scenarios
    .venv/bin/python bench/faults.py --scenario restart    # only the PostgreSQL restart
    .venv/bin/python bench/faults.py --scenario kill       # only the killed worker

WARNING: the restart scenario restarts the LOCAL PostgreSQL CLUSTER (`pg_ctlcluster <version>
main restart`, as root or the postgres user): every other program using it loses its
connections for a few seconds. Do not run it on a shared machine while others use the cluster.

restart: `manage.py serve` (gunicorn and a worker) on a free port; `--senders` client threads,
each with a pooled keep-alive connection, post generic JSON alerts (each its own dedup key) for
`--before` seconds, the cluster is restarted, and they go on for `--after` seconds. Counted:
every answer by status (202 accepted, 503 with and without Retry-After, 500, other, no answer),
then which accepted alerts are in the database (`stored`, by dedup key) and how long the senders
saw anything but 202.

kill: people each reached by a webhook on a slow receiver on loopback (it holds each request
`--hold` seconds); incidents page them (rows first, an outbox delivered by django-q2 tasks); a
`manage.py qcluster` delivers them and is killed with SIGKILL (its whole process group) while
pages are in flight, then a new one is started. The receiver records each page by its id (the
`page` field of the payload). `pages_missing`: page rows never delivered or never received;
`pages_duplicated`: page ids received more than once. A page whose send the kill interrupted is
sent again once its claim goes stale (RELAY_PAGE_CLAIM_STALE_SECONDS, 20 s): the outbox repeats
an ambiguous send rather than risk silence, and the repeat carries the same `Idempotency-Key`
header (and page id), so a receiver can drop it; `duplicates_in_flight_at_kill` says how many of
the duplicates were such sends, `pages_shown_twice_with_idempotency_key` how many a receiver that
drops repeated keys would still show twice.

Database: DATABASE_URL names the server; the script uses its own database `relay_bench_faults`
(created, then dropped). The ORM broker (no REDIS_URL), as `make run` uses. The last line is JSON
with `accepted`, `stored`, `http_500`, `pages_missing`, `pages_duplicated` and the details.
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, urlunsplit

import _common as common
import requests

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/relay"
DATABASE = "relay_bench_faults"


# --- plumbing ------------------------------------------------------------------------------------


def environment(database_url: str) -> dict[str, str]:
    env = common.bench_env(database_url)
    env.pop("REDIS_URL", None)
    env.update(Q_CLUSTER_NAME=f"relay-faults-{uuid.uuid4().hex[:8]}", Q_WORKERS="2",
               RELAY_OUTBOUND_ALLOW="127.0.0.0/8", SITE_URL="http://127.0.0.1:8000")
    return env


def start(command: list[str], env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen([common.PYTHON, "manage.py", *command], cwd=common.ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen, sig=signal.SIGINT) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition, timeout: float, poll: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()


def restart_cluster() -> float:
    """`pg_ctlcluster <version> main restart` of the cluster on port 5432; its duration."""
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                              check=True).stdout.split("\n")
    version = next(line.split()[0] for line in clusters if line.split()[2:3] == ["5432"])
    started = time.monotonic()
    subprocess.run(["pg_ctlcluster", version, "main", "restart"], check=True)
    return time.monotonic() - started


# --- restart -------------------------------------------------------------------------------------


def send_alerts(url: str, sender: int, stop_event: threading.Event, answers: list) -> None:
    session = requests.Session()
    n = 0
    while not stop_event.is_set():
        n += 1
        dedup_key = f"faults-{sender}-{n}"
        body = {"summary": f"Checkout latency above SLO (sender {sender}, #{n})",
                "dedup_key": dedup_key, "severity": "warning",
                "details": {"p99_ms": 800 + n % 400, "region": "eu-west-1"}}
        try:
            answer = session.post(url, json=body, timeout=30)
            status, retry_after = answer.status_code, answer.headers.get("Retry-After")
        except requests.RequestException:
            status, retry_after = None, None
        answers.append((time.monotonic(), dedup_key, status, retry_after))
        if status != 202:
            time.sleep(0.2)  # a real sender backs off (Retry-After says 5 s; 0.2 s is harsher)


def restart_scenario(args, env, log) -> dict:
    from django.db import connections

    from incidents.intake import services as intake
    from incidents.models import Alert, Service

    service = Service.objects.create(name="Checkout API", slug="checkout-api")
    _, key = intake.create_integration(by=None, service=service, format="generic")
    port = common.free_port()
    connections.close_all()
    served = start(["serve", "--port", str(port)], env, log)
    try:
        if not wait_for(lambda: _answers(port), 60):
            raise SystemExit("manage.py serve did not answer within 60 s")
        url = f"http://127.0.0.1:{port}/integrations/generic/{key}/"
        stop_event, answers = threading.Event(), []
        senders = [threading.Thread(target=send_alerts, args=(url, i, stop_event, answers))
                   for i in range(args.senders)]
        for sender in senders:
            sender.start()
        time.sleep(args.before)
        restart_at = time.monotonic()
        restart_s = restart_cluster()
        time.sleep(args.after)
        stop_event.set()
        for sender in senders:
            sender.join()
        alive = served.poll() is None
    finally:
        stop(served)
    connections.close_all()  # ours died with the restart
    accepted = {key for _, key, status, _ in answers if status == 202}
    stored = set(Alert.objects.filter(dedup_key__in=accepted).values_list("dedup_key", flat=True))
    statuses = Counter(status for _, _, status, _ in answers)
    failing = [at for at, _, status, _ in answers if status != 202 and at >= restart_at]
    return {
        "alerts_sent": len(answers), "accepted": len(accepted), "stored": len(stored),
        "accepted_not_stored": len(accepted - stored),
        "http_503": statuses[503],
        "http_503_without_retry_after": sum(1 for _, _, s, r in answers if s == 503 and not r),
        "http_500": statuses[500], "no_answer": statuses[None],
        "other_status": sum(c for s, c in statuses.items() if s not in (202, 503, 500, None)),
        "restart_s": round(restart_s, 2),
        "not_202_for_s": round(max(failing) - min(failing), 2) if failing else 0.0,
        "server_survived": alive,
    }


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError):
        return common.get(port, "/accounts/login/", timeout=5).status == 200
    return False


# --- kill ----------------------------------------------------------------------------------------


class SlowReceiver:
    """Webhook endpoint on loopback that records each page id, then holds the request."""

    def __init__(self, hold: float):
        self.hold = hold
        self.lock = threading.Lock()
        self.received: Counter = Counter()
        self.keys: dict[int, set[str]] = {}  # page → the Idempotency-Keys it came under
        self.in_flight: set[int] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                pages = [item["page"] for item in body.get("items", [body])
                         if item.get("purpose") == "page"]
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.received.update(pages)
                    receiver.in_flight.update(pages)
                    for page in pages:
                        receiver.keys.setdefault(page, set()).add(key)
                time.sleep(receiver.hold)
                with receiver.lock:
                    receiver.in_flight.difference_update(pages)
                with contextlib.suppress(OSError):  # the sender may have died meanwhile
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        return Handler

    def snapshot(self) -> tuple[Counter, set[int]]:
        with self.lock:
            return Counter(self.received), set(self.in_flight)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def page_people(receiver_url: str, incidents: int, people: int) -> list[int]:
    """Each incident pages its own `people` people, each on their own webhook (no throttle
    bundles pages for one address)."""
    from django.contrib.auth.models import User

    from incidents import services
    from oncall.models import ContactMethod, EscalationPolicy, EscalationStep

    numbers = []
    for i in range(incidents):
        policy = EscalationPolicy.objects.create(name=f"Faults {i}")
        step = EscalationStep.objects.create(policy=policy, position=0, delay_minutes=5)
        for p in range(people):
            user = User.objects.create_user(f"p{i}x{p}", f"p{i}x{p}@example.test")
            ContactMethod.objects.create(user=user, kind="webhook",
                                         address=f"{receiver_url}/{user.username}")
            step.users.add(user)
        numbers.append(services.declare(title=f"Checkout down in region {i}", severity="P1",
                                        escalation_policy=policy).pk)
    return numbers


def kill_scenario(args, env, log) -> dict:
    from django.db import close_old_connections

    from incidents.models import Page, PagePurpose, PageStatus

    delivered = (PageStatus.DELIVERED, PageStatus.SENT)
    receiver = SlowReceiver(args.hold)
    try:
        numbers = page_people(receiver.url, args.incidents, args.people)
        # The rows are written by the escalation task in the worker, not by declare().
        pages = Page.objects.filter(incident_id__in=numbers, purpose=PagePurpose.PAGE)
        expected = args.incidents * args.people
        cluster = start(["qcluster"], env, log)
        try:
            if not wait_for(lambda: receiver.snapshot()[1], 60, poll=0.05):
                raise SystemExit("no page reached the receiver within 60 s")
            time.sleep(args.hold / 2)  # mid-delivery
            in_flight = receiver.snapshot()[1]
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
            killed_at = time.monotonic()
            cluster = start(["qcluster"], env, log)

            def all_delivered():
                close_old_connections()
                return pages.filter(status__in=delivered).count() >= expected

            wait_for(all_delivered, args.timeout, poll=0.5)
            recovered_s = time.monotonic() - killed_at
            time.sleep(args.settle)  # a repeat would arrive in this time too
        finally:
            stop(cluster, signal.SIGTERM)
        received, _ = receiver.snapshot()
        with receiver.lock:
            keys = {page: set(found) for page, found in receiver.keys.items()}
    finally:
        receiver.stop()
    page_ids = set(pages.values_list("pk", flat=True))
    undelivered = set(pages.exclude(status__in=delivered).values_list("pk", flat=True))
    duplicated = {pk for pk, count in received.items() if count > 1}
    return {
        "pages": len(page_ids), "pages_expected": expected, "in_flight_at_kill": len(in_flight),
        "pages_missing": (len(undelivered | (page_ids - set(received)))
                          + max(0, expected - len(page_ids))),
        "pages_duplicated": len(duplicated),
        "duplicates_in_flight_at_kill": len(duplicated & in_flight),
        # A receiver that drops a repeated Idempotency-Key shows these pages twice: a repeat
        # whose bundle gained pages meanwhile comes under a new key.
        "pages_shown_twice_with_idempotency_key": sum(
            1 for pk in duplicated if len(keys.get(pk, ())) > 1 or "" in keys.get(pk, ())),
        "all_delivered_after_kill_s": round(recovered_s, 1),
    }


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=["both", "restart", "kill"], default="both")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--before", type=float, default=5, help="seconds before the restart")
    parser.add_argument("--after", type=float, default=15, help="seconds after the restart")
    parser.add_argument("--incidents", type=int, default=4)
    parser.add_argument("--people", type=int, default=10, help="paged per incident")
    parser.add_argument("--hold", type=float, default=1.0, help="receiver's seconds per request")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--settle", type=float, default=5)
    parser.add_argument("--log", default=os.devnull, help="file for the servers' output")
    args = parser.parse_args()
    common.handle_signals()
    server = os.environ.get("DATABASE_URL", DEFAULT_SERVER)
    database_url = urlunsplit(urlsplit(server)._replace(path=f"/{DATABASE}"))
    env = environment(database_url)
    common.ensure_database(database_url, drop_first=True)
    result = {}
    with open(args.log, "a") as log:
        try:
            common.migrate(env)
            common.setup_django(env)
            if args.scenario in ("both", "restart"):
                print("restart: alerts stream in; the PostgreSQL cluster restarts…", flush=True)
                result.update(restart_scenario(args, env, log))
            if args.scenario in ("both", "kill"):
                print("kill: pages in flight; the qcluster is killed and restarted…", flush=True)
                result.update(kill_scenario(args, env, log))
        finally:
            from django.db import connections

            connections.close_all()
            _drop(database_url)
    width = max(len(key) for key in result)
    print("\n".join(f"{key.ljust(width)}  {value}" for key, value in result.items()))
    print(json.dumps(result))


def _drop(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(common.database_name(database_url))))


if __name__ == "__main__":
    main()
