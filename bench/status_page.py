"""Status page throughput against a bare Django endpoint, and how soon a publication shows.

    .venv/bin/python bench/status_page.py            # 20 s per endpoint
    .venv/bin/python bench/status_page.py --quick    # 6 s per endpoint

Production shape: PostgreSQL (DATABASE_URL, default relay_bench_status; created if missing and
migrated on every run, nothing is dropped), Redis as the default cache (REDIS_URL, default
redis://127.0.0.1:6379/5: the cache generation and rendered pages are shared there), gunicorn
(config.wsgi with bench/status_settings.py, which adds the baseline URL) with gthread workers,
so clients keep their connections alive.

Seeds a group of components, two of them on a service with an open P2 incident and a published
status-page message. Then C client threads (one keep-alive connection each) fetch, in
alternating slices so a drift of the machine weighs on all alike:
(a) /bench/baseline/: a constant JSON body, no database; (b) the HTML page /status/;
(c) /status/api/v2/summary.json, each asking for gzip as browsers do. Meanwhile a publisher
in this process publishes a new status-page message every ~3 s through comms.messages.services
and polls summary.json until it shows; stale_after_publish_s is the longest wait. Prints tables;
the last line is JSON.
"""

import argparse
import gzip
import http.client
import json
import os
import threading
import time
import uuid

import _common as common

PAGE = "/status/"
SUMMARY = "/status/api/v2/summary.json"
BASELINE = "/bench/baseline/"
PUBLISH_EVERY = 3.0
GIVE_UP = 30.0  # a publication not shown after this long counts as this stale
# As a browser asks: the bytes on the wire (and the table's) are gzipped where the server does.
HEADERS = {"Host": "127.0.0.1", "Accept-Encoding": "gzip"}


class Client:
    """One keep-alive connection. A reused connection the server closed while idle is reopened
    once, as browsers do; any other failure is an error sample (status 0)."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, *, decode: bool = False) -> tuple[common.Sample, bytes]:
        """The sample and the body (gunzipped when `decode`: the load itself does not pay
        for that, a browser would do it on another machine)."""
        for attempt in range(2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=HEADERS)
                response = self.conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 0:
                    continue
                return common.Sample(0, None, (time.perf_counter() - started) * 1000, 0), b""
            except OSError:
                self.close()
                return common.Sample(0, None, (time.perf_counter() - started) * 1000, 0), b""
            client_ms = (time.perf_counter() - started) * 1000
            if response.will_close:
                self.close()
            timing = common.server_timing_ms(response.getheader("Server-Timing"))
            sample = common.Sample(response.status, timing, client_ms, len(body))
            if decode and response.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return sample, body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_phase(port: int, path: str, clients: int, seconds: float):
    """`clients` threads fetch `path` until the deadline; (samples, elapsed seconds)."""
    samples: list[common.Sample] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client():
        mine, connection = [], Client(port)
        while time.monotonic() < deadline:
            mine.append(connection.get(path)[0])
        connection.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - started


def seed():
    """Users, a service, a group of components and an open incident shown on the page."""
    from django.contrib.auth.models import Group, User

    from comms.messages import services as messages
    from comms.models import Component, ComponentGroup, Phase
    from incidents import services
    from incidents.models import OPEN_STATUSES, Incident, Service, Severity, Status

    def user(name, role):
        person, _ = User.objects.get_or_create(username=name)
        person.groups.add(Group.objects.get(name=role))
        return person

    csm, commander = user("bench-csm", "Communications"), user("bench-commander", "Responders")
    service, _ = Service.objects.get_or_create(slug="bench-checkout",
                                               defaults={"name": "Bench checkout"})
    group, _ = ComponentGroup.objects.get_or_create(name="Bench payments")
    for position, name in enumerate(["Checkout", "Card payments", "Refunds", "Dashboard",
                                     "Public API"]):
        component, _ = Component.objects.get_or_create(
            name=f"Bench {name}", defaults={"group": group, "position": position})
        if position < 2:
            component.services.add(service)
    for old in Incident.objects.filter(services=service, status__in=OPEN_STATUSES):
        services.transition(old, to=Status.RESOLVED, by=commander)
    incident = services.declare(title="Bench: checkout errors", severity=Severity.P2,
                                services=[service], by=commander)
    message = messages.draft(incident, by=csm, phase=Phase.INVESTIGATING,
                             subject="Checkout errors", body="Some payments fail.",
                             to_customers=False, to_status_page=True)
    messages.publish(message, by=csm)
    return incident, csm


def publisher(port: int, incident, by, stop: threading.Event, waits: list[float]) -> None:
    """Publish every PUBLISH_EVERY seconds; how long until summary.json shows each one."""
    from django.db import connection

    from comms.messages import services as messages
    from comms.models import Phase

    reader = Client(port)
    try:
        while not stop.wait(PUBLISH_EVERY):
            token = f"bench-{uuid.uuid4().hex}"
            message = messages.draft(incident, by=by, phase=Phase.IDENTIFIED,
                                     subject="Checkout errors", body=f"Update {token}.",
                                     to_customers=False, to_status_page=True)
            messages.publish(message, by=by)
            published = time.monotonic()
            while token.encode() not in reader.get(SUMMARY, decode=True)[1]:
                if time.monotonic() - published > GIVE_UP:
                    break
                time.sleep(0.02)
            waits.append(min(time.monotonic() - published, GIVE_UP))
    finally:
        reader.close()
        connection.close()


def summarise(name: str, samples: list[common.Sample], seconds: float) -> dict:
    ok = [s for s in samples if s.status == 200]
    client = [s.client_ms for s in ok]
    server = [s.server_ms for s in ok if s.server_ms is not None]
    return {
        "name": name, "requests": len(samples), "errors": len(samples) - len(ok),
        "per_s": len(ok) / seconds if seconds else 0.0, "bytes": ok[0].size if ok else 0,
        "p50": common.percentile(client, 50), "p99": common.percentile(client, 99),
        "server_p50": common.percentile(server, 50), "server_p99": common.percentile(server, 99),
        "client_ms": client,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, help="per endpoint, over all slices")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    seconds = args.seconds or (6 if args.quick else 20)
    common.handle_signals()

    database_url = os.environ.get("DATABASE_URL",
                                  "postgres://postgres@127.0.0.1:5432/relay_bench_status")
    env = common.bench_env(database_url)
    env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    env["CACHE_KEY_PREFIX"] = "relay-bench-status"
    env["DJANGO_SETTINGS_MODULE"] = "status_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(common.ROOT / "bench"), str(common.ROOT)])
    common.ensure_database(database_url)
    common.migrate(env)
    os.environ["REDIS_URL"], os.environ["CACHE_KEY_PREFIX"] = env["REDIS_URL"], "relay-bench-status"
    common.setup_django(env)
    incident, csm = seed()

    waits: list[float] = []
    stop = threading.Event()
    with (common.Gunicorn(env, workers=args.workers, threads=args.threads) as server,
          common.CpuWatch() as cpu):
        port = server.port
        for path in (BASELINE, PAGE, SUMMARY):  # warm every worker's copy
            run_phase(port, path, args.clients, 1.0)
        pub = threading.Thread(target=publisher, args=(port, incident, csm, stop, waits))
        pub.start()
        print(f"{args.clients} clients, {seconds:.0f} s per endpoint in {args.rounds} "
              f"alternating slices; a publication every {PUBLISH_EVERY:.0f} s …")
        phases = {"baseline": BASELINE, "page": PAGE, "summary": SUMMARY}
        taken = {name: ([], 0.0) for name in phases}
        try:
            for round_number in range(args.rounds):
                order = list(phases) if round_number % 2 == 0 else list(reversed(phases))
                for name in order:
                    samples, elapsed = run_phase(port, phases[name], args.clients,
                                                 seconds / args.rounds)
                    taken[name] = (taken[name][0] + samples, taken[name][1] + elapsed)
        finally:
            stop.set()
            pub.join()
    results = {name: summarise(name, *taken[name]) for name in phases}

    rows = [[r["name"], str(r["requests"]), str(r["errors"]), f"{r['per_s']:.0f}",
             str(r["bytes"]), common.fmt_ms(r["p50"]), common.fmt_ms(r["p99"]),
             common.fmt_ms(r["server_p50"]), common.fmt_ms(r["server_p99"])]
            for r in results.values()]
    print()
    print(common.table(["endpoint", "requests", "errors", "req/s", "bytes", "p50 ms", "p99 ms",
                        "server p50", "server p99"], rows))
    page, summary, baseline = results["page"], results["summary"], results["baseline"]
    ratio = min(page["per_s"], summary["per_s"]) / baseline["per_s"] if baseline["per_s"] else 0
    p99 = common.percentile(page["client_ms"] + summary["client_ms"], 99) or 0.0
    stale = max(waits) if waits else None
    print(f"\nratio min(page, summary)/baseline: {ratio:.2f}   publications: {len(waits)}, "
          f"shown after {', '.join(f'{w:.2f}' for w in waits)} s")
    # 50 clients saturate the machine by design: every CPU busy is the bench itself.
    print(f"machine: {cpu.note(expected=os.cpu_count() or 1)} (clients and server share it)")
    print(json.dumps({
        "page_per_s": round(page["per_s"], 1),
        "summary_per_s": round(summary["per_s"], 1),
        "baseline_per_s": round(baseline["per_s"], 1),
        "ratio": round(ratio, 3),
        "p99_ms": round(p99, 2),
        "errors": page["errors"] + summary["errors"] + baseline["errors"],
        "stale_after_publish_s": round(stale, 2) if stale is not None else None,
        "publications": len(waits),
        "clients": args.clients,
        "cpus_busy": round(cpu.busy, 2) if cpu.busy is not None else None,
    }))


if __name__ == "__main__":
    main()
