"""Alert ingest throughput: Relay's PagerDuty-compatible endpoint against a bare one-insert Django
endpoint, with the same load generator in the same run, then an alert storm.

    .venv/bin/python bench/ingest.py            # 20 s per phase, storm of 10,000 alerts
    .venv/bin/python bench/ingest.py --quick    # 5 s per phase, storm of 2,000 alerts

Starts gunicorn (config.wsgi with bench/ingest_settings.py, which adds the baseline URL) on
PostgreSQL (DATABASE_URL, default relay_intake; migrated on every run, nothing is dropped).
(a) baseline: POST /bench/baseline/ parses the JSON and inserts one row;
(b) Relay: POST /integrations/pagerduty/v2/enqueue with a storm-like mixed stream: 90 % repeats of
    open alerts, 7 % new alerts grouped into the open incident, 3 % resolves of those new alerts;
(c) storm: N distinct alerts for one fresh service, as fast as the generator sends them →
    incidents declared for that service (target 1).
(a) and (b) run in alternating slices (a b, b a, …; --rounds) so a drift of the machine weighs on
both alike. Each phase: C client threads, one fresh connection per request (gunicorn's sync
workers close them). Prints tables; the last line is JSON.
"""

import argparse
import http.client
import json
import os
import random
import threading
import time
import uuid

import _common as common

OPEN_KEYS = 50
WARMUP_REQUESTS = 300


def post(port: int, path: str, body: dict) -> common.Sample:
    data = json.dumps(body).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        started = time.perf_counter()
        conn.request("POST", path, body=data, headers={
            "Host": "127.0.0.1", "Content-Type": "application/json", "Connection": "close"})
        response = conn.getresponse()
        payload = response.read()
        client_ms = (time.perf_counter() - started) * 1000
        timing = common.server_timing_ms(response.getheader("Server-Timing"))
        return common.Sample(response.status, timing, client_ms, len(payload))
    except OSError:
        return common.Sample(0, None, (time.perf_counter() - started) * 1000, 0)
    finally:
        conn.close()


def pd_event(key: str, dedup_key: str, action: str = "trigger") -> dict:
    event = {"routing_key": key, "dedup_key": dedup_key, "event_action": action}
    if action == "trigger":
        event["payload"] = {"summary": f"High error rate on {dedup_key}",
                            "source": "bench-host", "severity": "error",
                            "custom_details": {"error_rate": "7.5%", "region": "eu-1"}}
    return event


class MixedStream:
    """Per client thread: mostly repeats of open alerts, some new ones, some resolves."""

    def __init__(self, key: str, seed: int):
        self.key = key
        self.random = random.Random(seed)
        self.new_keys: list[str] = []

    def __call__(self) -> dict:
        roll = self.random.random()
        if roll < 0.90 or (roll >= 0.97 and not self.new_keys):
            return pd_event(self.key, f"open-{self.random.randrange(OPEN_KEYS)}")
        if roll < 0.97:
            self.new_keys.append(f"new-{uuid.uuid4().hex}")
            return pd_event(self.key, self.new_keys[-1])
        return pd_event(self.key, self.new_keys.pop(0), "resolve")


def run_phase(port: int, path: str, streams: list, seconds: float | None = None,
              total: int | None = None) -> tuple[list[common.Sample], float]:
    """C threads send until the deadline (or until `total` requests are sent)."""
    samples: list[common.Sample] = []
    lock = threading.Lock()
    remaining = [total]
    deadline = time.monotonic() + (seconds or 3600)

    def take() -> bool:
        with lock:
            if remaining[0] is None:
                return True
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def client(stream):
        mine = []
        while time.monotonic() < deadline and take():
            mine.append(post(port, path, stream()))
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(s,)) for s in streams]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - started


def prepare(env: dict) -> dict:
    """Baseline table, a fresh service for the stream and one for the storm, their keys."""
    common.setup_django(env)
    from django.db import connection
    from ingest_urls import TABLE

    from incidents.intake import services as intake_services
    from incidents.models import Service

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, "
                       "body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        cursor.execute(f"TRUNCATE {TABLE}")
    stamp = time.strftime("%Y%m%d%H%M%S")
    keys = {}
    for name in ("stream", "storm"):
        service = Service.objects.create(name=f"Bench {name} {stamp}",
                                         slug=f"bench-{name}-{stamp}")
        _, key = intake_services.create_integration(
            by=None, service=service, format="pagerduty", rate_limit_per_minute=10**9)
        keys[name] = (service.pk, key)
    return keys


def count_storm(service_id: int) -> tuple[int, int, int]:
    from incidents.models import Alert, Incident

    return (Incident.objects.filter(services=service_id).count(),
            Alert.objects.filter(service_id=service_id).count(),
            Alert.objects.filter(service_id=service_id, incident__isnull=True).count())


def summarise(name: str, samples: list[common.Sample], seconds: float) -> dict:
    ok = [s for s in samples if s.status == 202]
    client = [s.client_ms for s in ok]
    server = [s.server_ms for s in ok if s.server_ms is not None]
    return {
        "name": name, "requests": len(samples), "errors": len(samples) - len(ok),
        "per_s": len(ok) / seconds if seconds else 0.0,
        "p50": common.percentile(client, 50), "p99": common.percentile(client, 99),
        "server_p50": common.percentile(server, 50), "server_p99": common.percentile(server, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--storm", type=int)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternating slices of (a) and (b); each gets seconds/rounds")
    args = parser.parse_args()
    seconds = args.seconds or (5 if args.quick else 20)
    storm_size = args.storm or (2_000 if args.quick else 10_000)
    common.handle_signals()

    database_url = os.environ.get("DATABASE_URL",
                                  "postgres://postgres@127.0.0.1:5432/relay_intake")
    env = common.bench_env(database_url)
    env["DJANGO_SETTINGS_MODULE"] = "ingest_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(common.ROOT / "bench"), str(common.ROOT)])
    common.ensure_database(database_url)
    common.migrate(env)
    keys = prepare(env)
    stream_key, storm_key = keys["stream"][1], keys["storm"][1]
    enqueue = "/integrations/pagerduty/v2/enqueue"

    with common.Gunicorn(env, workers=args.workers) as server, common.CpuWatch() as cpu:
        port = server.port
        for i in range(OPEN_KEYS):  # the open alerts the stream repeats
            post(port, enqueue, pd_event(stream_key, f"open-{i}"))
        baseline_stream = [lambda: pd_event(stream_key, "open-0")] * args.clients
        run_phase(port, "/bench/baseline/", baseline_stream, total=WARMUP_REQUESTS)
        run_phase(port, enqueue, baseline_stream, total=WARMUP_REQUESTS)

        # (a) and (b) alternate in short slices (a b, b a, …) so that a drift of the machine
        # (a checkpoint, autovacuum, another process) weighs on both alike.
        print(f"(a) baseline and (b) Relay PagerDuty enqueue (mixed stream), {args.clients} "
              f"clients, {seconds:.0f} s each in {args.rounds} alternating slices …")
        streams = [MixedStream(stream_key, seed) for seed in range(args.clients)]
        phases = {"a": ("/bench/baseline/", baseline_stream), "b": (enqueue, streams)}
        taken = {"a": ([], 0.0), "b": ([], 0.0)}
        for round_number in range(args.rounds):
            for phase in ("ab" if round_number % 2 == 0 else "ba"):
                samples, elapsed = run_phase(port, *phases[phase], seconds / args.rounds)
                taken[phase] = (taken[phase][0] + samples, taken[phase][1] + elapsed)
        baseline = summarise("baseline (parse + 1 insert)", *taken["a"])
        relay = summarise("Relay enqueue (mixed)", *taken["b"])

        print(f"(c) storm: {storm_size:,} distinct alerts for one service …")
        counter = iter(range(storm_size))
        lock = threading.Lock()

        def storm_event():
            with lock:
                n = next(counter, storm_size)
            return pd_event(storm_key, f"storm-{n}")

        storm_samples, storm_seconds = run_phase(port, enqueue, [storm_event] * args.clients,
                                                 total=storm_size)
        storm = summarise("storm (new alerts)", storm_samples, storm_seconds)
    incidents, alerts, ungrouped = count_storm(keys["storm"][0])

    rows = [[r["name"], str(r["requests"]), str(r["errors"]), f"{r['per_s']:.0f}",
             common.fmt_ms(r["p50"]), common.fmt_ms(r["p99"]), common.fmt_ms(r["server_p50"]),
             common.fmt_ms(r["server_p99"])] for r in (baseline, relay, storm)]
    print()
    print(common.table(["phase", "requests", "errors", "req/s", "p50 ms", "p99 ms",
                        "server p50", "server p99"], rows))
    ratio = relay["per_s"] / baseline["per_s"] if baseline["per_s"] else 0.0
    print(f"\nratio (b)/(a): {ratio:.2f}   storm: {storm_size:,} alerts in {storm_seconds:.1f} s "
          f"→ {incidents} incident(s), {alerts:,} alerts stored, {ungrouped} ungrouped")
    print(f"machine: {cpu.note()}")
    print(json.dumps({
        "baseline_per_s": round(baseline["per_s"], 1),
        "events_per_s": round(relay["per_s"], 1),
        "ratio": round(ratio, 3),
        "p50_ms": round(relay["p50"] or 0, 2),
        "p99_ms": round(relay["p99"] or 0, 2),
        "errors": baseline["errors"] + relay["errors"] + storm["errors"],
        "storm_incidents": incidents,
        "storm_alerts": alerts,
        "storm_seconds": round(storm_seconds, 1),
        "storm_p99_ms": round(storm["p99"] or 0, 2),
    }))


if __name__ == "__main__":
    main()
