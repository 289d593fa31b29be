"""SLA warnings and breaches with real `qcluster` processes: each threshold announced once and
on time.

    .venv/bin/python bench/sla.py                  # 1,000 incidents, 2 qcluster processes
    .venv/bin/python bench/sla.py --quick          # 100 incidents
    .venv/bin/python bench/sla.py --processes 4

N incidents are declared for an Enterprise tier whose P2 response target is RESPONSE_MINUTES
(24×7, amber at 50 % left, red at 20 %), so every incident's response clock comes due for amber,
red and breach over the next few minutes, while the incidents are still being declared. The
timer engine's ticker (config/timers.py, a thread in each django-q2 worker; two clusters race
for its lock) announces them through comms.sla's source. Lateness is how long after its due time
each threshold was announced (`late_ms` on the SLA_WARNING/SLA_BREACH entry); duplicates and
missing announcements are counted per (clock, threshold) from the timeline.

Needs PostgreSQL (DATABASE_URL names the server; the script uses its own database
`<name>_slabench`, created and dropped here) and Redis (REDIS_URL, default
redis://127.0.0.1:6379/0). The last line is JSON.
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import _common as common
import escalation

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/relay_sla"
RESPONSE_MINUTES = 4
THRESHOLDS = ("amber", "red", "breach")


def bench_url(server_url: str) -> str:
    parts = urlsplit(server_url)
    name = (parts.path.lstrip("/") or "relay") + "_slabench"
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def make_tier():
    from django.contrib.auth.models import User

    from comms.models import SlaTarget, TierPolicy
    from incidents.models import CustomerTier

    tier = CustomerTier.objects.create(name="Enterprise", slug="enterprise", rank=1)
    TierPolicy.objects.create(tier=tier, amber_percent_left=50, red_percent_left=20)
    SlaTarget.objects.create(tier=tier, severity="P2", response_minutes=RESPONSE_MINUTES,
                             resolution_minutes=24 * 60)
    # Notices go to the commander; without a contact method the timeline says so, which keeps
    # page deliveries out of the measurement.
    return tier, User.objects.create_user("ann", "ann@example.test")


def declare_many(tier, commander, count: int) -> list[int]:
    from incidents import services

    return [services.declare(title=f"SLA bench {i}", severity="P2", customer_tiers=[tier],
                             commander=commander, by=commander, page=False).pk
            for i in range(count)]


def announcements(numbers: list[int]) -> Counter:
    from incidents.models import EntryKind, TimelineEntry

    data = TimelineEntry.objects.filter(
        incident__in=numbers, kind__in=[EntryKind.SLA_WARNING, EntryKind.SLA_BREACH]
    ).values_list("data", flat=True)
    return Counter((d["clock"], d["threshold"]) for d in data)


def lateness_by_threshold(numbers: list[int]) -> dict:
    """p50/p99 per threshold: amber comes due alone, red and breach overlap (a busier stretch)."""
    from incidents.models import EntryKind, TimelineEntry

    data = TimelineEntry.objects.filter(
        incident__in=numbers, kind__in=[EntryKind.SLA_WARNING, EntryKind.SLA_BREACH]
    ).values_list("data", flat=True)
    late: dict[str, list[float]] = {t: [] for t in THRESHOLDS}
    for d in data:
        late[d["threshold"]].append(d["late_ms"] / 1000)
    return {t: {"p50_s": round(escalation.percentile(v, 50), 3),
                "p99_s": round(escalation.percentile(v, 99), 3),
                "over_5s": sum(1 for x in v if x > 5)} for t, v in late.items()}


def expected(numbers: list[int]) -> set:
    from comms.models import SlaClock

    clocks = SlaClock.objects.filter(incident__in=numbers, kind="response",
                                     replaced_at=None).values_list("pk", flat=True)
    return {(pk, threshold) for pk in clocks for threshold in THRESHOLDS}


def run(args, env) -> dict:
    from django.utils import timezone

    from comms.sla.timers import lateness

    tier, commander = make_tier()
    since = timezone.now()
    clusters = escalation.Clusters(env, args.processes, args.log)
    clusters.start()
    try:
        started = time.monotonic()
        numbers = declare_many(tier, commander, args.incidents)
        declared_s = time.monotonic() - started
        wanted = expected(numbers)
        escalation.wait_for(lambda: wanted <= set(announcements(numbers)),
                            timeout=RESPONSE_MINUTES * 60 + 120, poll=2)
        time.sleep(args.settle)  # anything announced twice shows up in this time too
    finally:
        clusters.stop()
    counts = announcements(numbers)
    late = lateness(since)
    return {
        "incidents": len(numbers), "qcluster_processes": args.processes,
        "workers_per_process": args.workers, "declare_s": round(declared_s, 1),
        "thresholds_expected": len(wanted), "announced": sum(counts.values()),
        "sla_lateness_p50_s": round(escalation.percentile(late, 50), 3),
        "sla_lateness_p99_s": round(escalation.percentile(late, 99), 3),
        "sla_lateness_max_s": round(max(late, default=math.nan), 3),
        "by_threshold": lateness_by_threshold(numbers),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "duplicate_warnings": sum(c - 1 for c in counts.values() if c > 1),
        "missing_warnings": len(wanted - set(counts)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--processes", type=int, default=2, help="qcluster processes")
    parser.add_argument("--workers", type=int, default=2, help="workers per qcluster")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait for duplicates")
    parser.add_argument("--quick", action="store_true", help="100 incidents")
    parser.add_argument("--log", type=argparse.FileType("w"), default=subprocess.DEVNULL,
                        help="file for the qcluster processes' output")
    args = parser.parse_args()
    if args.incidents is None:
        args.incidents = 100 if args.quick else 1000
    db_url = bench_url(os.environ.get("DATABASE_URL", DEFAULT_SERVER))
    env = escalation.environment(db_url, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                                 args.workers, receiver="")
    common.ensure_database(db_url, drop_first=True)
    try:
        escalation.migrate(env)
        escalation.setup_django(env)
        result = run(args, env)
    finally:
        from django.db import connections

        connections.close_all()
        escalation.drop_database(db_url)
    print(escalation.table(result))
    print(json.dumps(result))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    main()
