"""What tamper evidence costs: signing on every write, checkpoints and verification at scale.

    .venv/bin/python bench/integrity.py          # 2,000 incidents × 25 entries, 5,000 audit
    .venv/bin/python bench/integrity.py --quick  # 200 incidents × 25 entries, 500 audit

Uses its own PostgreSQL database (DATABASE_URL, default relay_bench_integrity), dropped and
recreated each run, and a temporary checkpoint directory. Measures, in-process:
- one Ed25519 signature and one verification (µs, median of 2,000);
- `record()` through services.add_note, which now signs each entry (ms per entry, p50/p95);
- the first (full) checkpoint, which verifies every chain from genesis, and an incremental one
  after 10 % of the incidents gained an entry (s);
- `verify_timeline`'s work over everything (chains, signatures, checkpoints, row replay, the
  audit log) in entries per second.
The last line is JSON.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import _common as common

SIZES = {"full": (2000, 25, 5000), "quick": (200, 25, 500)}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 incidents instead of 2,000")
    return parser.parse_args(argv)


def micro_us(fn, n=2000) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times)


def main(argv=None) -> None:
    args = parse_args(argv)
    common.handle_signals()
    incidents_n, entries_n, audit_n = SIZES["quick" if args.quick else "full"]
    database_url = os.environ.get("DATABASE_URL") or common.DEFAULT_DATABASE_URL + "_integrity"
    env = common.bench_env(database_url)
    env["RELAY_CHECKPOINT_DIR"] = tempfile.mkdtemp(prefix="relay-bench-checkpoints-")
    env.setdefault("RELAY_SIGNING_KEY", "YmVuY2gtb25seS1zaWduaW5nLWtleS0zMi1ieXRlcyE=")
    os.environ["RELAY_CHECKPOINT_DIR"] = env["RELAY_CHECKPOINT_DIR"]
    os.environ["RELAY_SIGNING_KEY"] = env["RELAY_SIGNING_KEY"]
    print(f"bench/integrity.py: {incidents_n:,} incidents × {entries_n} entries, {audit_n:,} "
          f"audit entries, against {common.database_name(database_url)}")
    common.ensure_database(database_url, drop_first=True)
    common.migrate(env)
    common.setup_django(env)

    from django.contrib.auth.models import User

    from incidents import audit, checkpoints, services, signing
    from incidents.management.commands.verify_timeline import _incident_ids
    from incidents.models import Incident

    message = b"relay:timeline:" + b"a" * 64
    signature = signing.sign(message)
    sign_us = micro_us(lambda: signing.sign(message))
    verify_us = micro_us(lambda: signing.verify(message, signature))

    user = User.objects.create_user("bench-integrity")
    record_ms = []
    incidents = []
    seed_start = time.perf_counter()
    for n in range(incidents_n):
        incident = services.declare(title=f"Bench incident {n}", severity="P3", by=user)
        incidents.append(incident)
        for k in range(entries_n - 1):
            start = time.perf_counter()
            services.add_note(incident, text=f"note {k}", by=user)
            record_ms.append((time.perf_counter() - start) * 1000)
    for n in range(audit_n):
        audit.log("bench.change", object_type="bench", object_id=str(n), after={"n": n})
    seed_s = time.perf_counter() - seed_start
    print(f"seeded in {seed_s:.1f} s")

    start = time.perf_counter()
    first = checkpoints.write()
    full_s = time.perf_counter() - start
    assert not first.refused, first.refused
    for incident in incidents[::10]:
        services.add_note(incident, text="later", by=user)
    start = time.perf_counter()
    second = checkpoints.write()
    incremental_s = time.perf_counter() - start
    assert not second.refused and len(second.checkpoint.timelines) == len(incidents[::10])

    start = time.perf_counter()
    known = checkpoints.coverage()
    entries = problems = 0
    for incident_id in _incident_ids(500):
        verdict = checkpoints.verify_incident(
            Incident.objects.select_related("commander", "comms_lead").get(pk=incident_id), known)
        entries += verdict.entries
        problems += len(verdict.problems)
    audit_verdict = checkpoints.verify_audit(known)
    entries += audit_verdict.entries
    problems += len(audit_verdict.problems)
    verify_s = time.perf_counter() - start

    p50 = statistics.median(record_ms)
    p95 = common.percentile(record_ms, 95)
    rows = [
        ["Ed25519 sign", f"{sign_us:.0f} µs", "median of 2,000"],
        ["Ed25519 verify", f"{verify_us:.0f} µs", "median of 2,000"],
        ["add_note (record + sign)", f"{p50:.2f} / {p95:.2f} ms",
         f"p50 / p95 of {len(record_ms):,}"],
        ["first checkpoint (full)", f"{full_s:.2f} s", f"verifies {len(incidents):,} chains"],
        ["next checkpoint", f"{incremental_s:.2f} s", f"{len(incidents[::10]):,} changed chains"],
        ["verify everything", f"{verify_s:.2f} s", f"{entries:,} entries, "
                                                   f"{entries / verify_s:,.0f}/s, "
                                                   f"{problems} problems"],
    ]
    print()
    print(common.table(["what", "time", "note"], rows, align="lrl"))
    print(json.dumps({
        "incidents": len(incidents), "entries": entries, "sign_us": round(sign_us, 1),
        "verify_us": round(verify_us, 1), "record_p50_ms": round(p50, 2),
        "record_p95_ms": round(p95, 2), "checkpoint_full_s": round(full_s, 2),
        "checkpoint_incremental_s": round(incremental_s, 2), "verify_s": round(verify_s, 2),
        "verify_entries_per_s": round(entries / verify_s), "problems": problems,
    }))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
