"""Insights page latency and queries at scale, and the time to draft a long post-mortem.

    .venv/bin/python bench/insights.py            # 100,000 incidents (pages.py's seed)
    .venv/bin/python bench/insights.py --quick    # 5,000 incidents

Seeds its own PostgreSQL database (DATABASE_URL; default relay_bench_insights, or
relay_bench_insights_quick) with bench/_seed.py's incidents and timelines, then adds with COPY
what the insights page reads and that seed has none of: alerts, pages, SLA clocks, post-mortems
and action items (a few per incident, see add_extras). Both are kept for the next run.

Measures, with gunicorn (2 sync workers) and one sequential client as pages.py does, the
server-side p95 (Server-Timing) of GET /insights/ for the default 90 days, 365 days and one
team; counts the page's queries in-process for ranges from 30 days to two years (as many
queries for 36× the rows: `insights_queries`); and times postmortems.facts.gather plus
postmortems.document.markdown for an incident with 2,000 timeline entries, built in a
transaction that is rolled back afterwards (`draft_ms`, median of 5). The last line is JSON.
"""

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from datetime import date, timedelta

import _common as common
import pages
from _seed import FULL, QUICK, _columns, _copy_lines, bench_user

TARGET_P95_MS = 1000.0
TARGET_DRAFT_MS = 500.0
DRAFT_ENTRIES = 2000
REQUESTS = {"full": 60, "quick": 30}  # per URL


# --- the rows the insights page reads ------------------------------------------------------------

ALERT_COLUMNS = ["integration_id", "service_id", "incident_id", "dedup_key", "status",
                 "severity", "summary", "details", "raw", "count", "first_seen", "last_seen",
                 "resolved_at", "processed"]
PAGE_COLUMNS = ["incident_id", "purpose", "step", "round", "user_id", "channel", "address",
                "status", "due_at", "created_at", "sent_at", "finished_at"]
CLOCK_COLUMNS = ["incident_id", "kind", "key", "tier_id", "severity", "source",
                 "target_minutes", "state", "started_at", "due_at", "stopped_at", "breached_at",
                 "created_at"]
POSTMORTEM_COLUMNS = ["incident_id", "level", "state", "facts", "created_at", "updated_at"]
ITEM_COLUMNS = ["postmortem_id", "incident_id", "title", "description", "owner_id", "due_on",
                "priority", "kind", "status", "created_at", "updated_at", "finished_at"]


def has_extras() -> bool:
    from incidents.models import Page

    return Page.objects.filter(purpose="page").exists()


def _copy(model, known: list[str], rows: list[list]) -> None:
    from django.db import connection

    columns, suffix = _columns(model, known)
    with connection.connection.cursor() as cursor, cursor.copy(
            f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(_copy_lines(rows, suffix).encode())


def add_extras(rng: random.Random) -> float:
    """Per incident: 1–3 alerts (1–60 events each) on its first service, 0–4 pages of on-call
    people a few minutes apart, a response clock per customer tier (met, breached or, when
    open, running); per resolved P1/P2: a post-mortem and 1–3 action items (done, accepted,
    open, in progress; some overdue)."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from comms.models import SlaClock
    from incidents.models import Alert, Incident, Integration, Page, Service
    from postmortems.models import ActionItem, Postmortem

    started = time.perf_counter()
    integrations = {s.pk: Integration.objects.get_or_create(
        service=s, name="Prometheus", defaults={
            "format": "generic", "key_prefix": "bench",
            "key_hash": hashlib.sha256(f"bench-{s.pk}".encode()).hexdigest()})[0].pk
        for s in Service.objects.all()}
    people = list(User.objects.filter(username__startswith="oncall")
                  .values_list("pk", "username"))
    first_service, tiers = {}, {}
    for incident_id, service_id in Incident.services.through.objects.order_by(
            "incident_id", "service_id").values_list("incident_id", "service_id"):
        first_service.setdefault(incident_id, service_id)
    for incident_id, tier_id in Incident.customer_tiers.through.objects.values_list(
            "incident_id", "customertier_id"):
        tiers.setdefault(incident_id, []).append(tier_id)
    incidents = list(Incident.objects.values_list("pk", "severity", "status", "started_at",
                                                  "acknowledged_at", "resolved_at"))
    alerts, page_rows, clocks, pm_rows, finished = [], [], [], [], {}
    for pk, severity, status, start, acked, resolved in incidents:
        service = first_service.get(pk)
        for k in range(rng.randint(1, 3) if service else 0):
            seen = start - timedelta(seconds=rng.randint(0, 300))
            alerts.append([integrations[service], service, pk, f"bench-{pk}-{k}", "resolved",
                           severity, "Error rate above threshold", "{}", "{}",
                           min(60, int(rng.lognormvariate(1.2, 1.1)) + 1), seen, seen,
                           resolved or seen, True])
        for step, (user_id, username) in enumerate(rng.sample(people, rng.choice([0, 1, 1, 2,
                                                                                   2, 3, 4]))):
            at = start + timedelta(minutes=5 * step + rng.randint(0, 4))
            page_rows.append([pk, "page", step, 0, user_id, "email",
                              f"{username}@example.com", "delivered", at, at, at, at])
        for tier_id in tiers.get(pk, []):
            state = ("running" if resolved is None and acked is None else "breached"
                     if acked is None or (acked - start) > timedelta(minutes=60) else "met")
            breached = start + timedelta(minutes=60) if state == "breached" else None
            clocks.append([pk, "response", f"tier:{tier_id}", tier_id, severity, "tier", 60,
                           state, start, start + timedelta(minutes=60),
                           acked if state != "running" else None, breached, start])
        if status == "resolved" and severity in ("P1", "P2"):
            pm_rows.append([pk, "full", rng.choice(["draft", "in_review", "published"]), "{}",
                            resolved, resolved])
            finished[pk] = resolved
    with transaction.atomic():
        _copy(Alert, ALERT_COLUMNS, alerts)
        _copy(Page, PAGE_COLUMNS, page_rows)
        _copy(SlaClock, CLOCK_COLUMNS, clocks)
        _copy(Postmortem, POSTMORTEM_COLUMNS, pm_rows)
        items = []
        for pm_id, pk in Postmortem.objects.values_list("pk", "incident_id"):
            created = finished[pk] + timedelta(days=1)
            for _ in range(rng.randint(1, 3)):
                status = rng.choice(["done", "done", "accepted", "open", "in_progress"])
                items.append([pm_id, pk, "Add an alert on the pool", "", rng.choice(people)[0],
                              (created + timedelta(days=14)).date(), "medium", "detect",
                              status, created, created,
                              created + timedelta(days=5) if status in ("done", "accepted")
                              else None])
        _copy(ActionItem, ITEM_COLUMNS, items)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  added {len(alerts):,} alerts, {len(page_rows):,} pages, {len(clocks):,} SLA "
          f"clocks, {len(pm_rows):,} post-mortems, {len(items):,} action items")
    return time.perf_counter() - started


# --- measuring -----------------------------------------------------------------------------------


def urls(today: date) -> dict[str, str]:
    from oncall.models import Team

    team = Team.objects.get(slug="payments")
    return {"90 days (default)": "/insights/",
            "365 days": f"/insights/?start={today - timedelta(days=364)}&end={today}",
            "90 days, one team": f"/insights/?team={team.pk}"}


def measure(port: int, cookie: str, targets: dict[str, str], requests: int, warmup: int):
    samples: dict[str, list[common.Sample]] = {}
    for label, path in targets.items():
        for _ in range(warmup):
            common.get(port, path, cookie=cookie)
        samples[label] = [common.get(port, path, cookie=cookie, timeout=60)
                          for _ in range(requests)]
        print(f"  {label}: {requests} requests")
    return samples


def count_queries(today: date) -> dict[str, int]:
    """Queries of the page in-process for growing ranges (about 36× the rows from the first
    to the last) and for a team."""
    import warnings

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    warnings.filterwarnings("ignore", message="No directory at")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(bench_user())
    client.get("/insights/")
    counts = {}
    for days in (30, 90, 365, 730):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/insights/?start={today - timedelta(days=days - 1)}"
                                  f"&end={today}")
        assert response.status_code == 200, response.status_code
        counts[f"{days} days"] = len(queries)
    with CaptureQueriesContext(connection) as queries:
        client.get(urls(today)["90 days, one team"])
    counts["90 days, one team"] = len(queries)
    return counts


class _Rollback(Exception):
    pass


def draft_ms(repeat: int = 5) -> dict:
    """gather() + markdown() for an incident with DRAFT_ENTRIES timeline entries, built (with
    incidents.timeline.record, like every change) in a transaction rolled back at the end."""
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone

    from incidents.models import CustomerTier, EntryKind, Incident, Service
    from incidents.timeline import record
    from postmortems import document, facts
    from postmortems.models import Postmortem

    people = list(User.objects.filter(username__startswith="oncall")[:8])
    now = timezone.now()
    start = now - timedelta(hours=6)
    times: list[float] = []
    built = 0.0
    try:
        with transaction.atomic():
            t0 = time.perf_counter()
            incident = Incident.objects.create(
                title="Checkout down in eu-west-1", severity="P1", status="resolved",
                commander=people[0], started_at=start, detected_at=start + timedelta(minutes=2),
                acknowledged_at=start + timedelta(minutes=6),
                mitigated_at=start + timedelta(hours=4), resolved_at=start + timedelta(hours=5),
                closed_at=start + timedelta(hours=5))
            incident.services.set(Service.objects.all()[:2])
            incident.customer_tiers.set(CustomerTier.objects.all()[:2])
            incident.responders.set(people[1:6])
            record(incident, EntryKind.DECLARED, people[0], new="P1", note=incident.title)
            for n in range(DRAFT_ENTRIES - 1):
                who = people[n % len(people)]
                if n % 100 == 50:
                    record(incident, EntryKind.STATUS, who, old="investigating",
                           new="identified" if n % 200 == 50 else "investigating")
                else:
                    record(incident, EntryKind.NOTE, who,
                           note=f"Step {n}: checked the pool on db-{n % 7}, **{n % 13}** errors.")
            postmortem, _ = Postmortem.objects.get_or_create(incident=incident)
            built = time.perf_counter() - t0
            for _ in range(repeat):
                t1 = time.perf_counter()
                postmortem.facts = facts.gather(incident, now=now)
                text = document.markdown(postmortem)
                times.append((time.perf_counter() - t1) * 1000)
            raise _Rollback
    except _Rollback:
        pass
    return {"draft_ms": round(statistics.median(times), 1), "draft_max_ms": round(max(times), 1),
            "draft_build_s": round(built, 1), "draft_markdown_kib": round(len(text) / 1024, 1)}


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK.incidents:,} incidents instead of {FULL.incidents:,}")
    parser.add_argument("--reseed", action="store_true", help="drop and rebuild the database")
    parser.add_argument("--requests", type=int, help="requests per URL (after warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests per URL")
    parser.add_argument("--seed", type=int, default=20241123, help="random seed of the data")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                        help="worker processes building rows while seeding")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    common.handle_signals()
    size = QUICK if args.quick else FULL
    requests = args.requests or REQUESTS["quick" if args.quick else "full"]
    default_url = common.DEFAULT_DATABASE_URL + "_insights" + ("_quick" if args.quick else "")
    database_url = os.environ.get("DATABASE_URL") or default_url
    env = common.bench_env(database_url)
    print(f"bench/insights.py: {'quick' if args.quick else 'full'} run against "
          f"{common.database_name(database_url)}")
    seeding = pages.prepare(args, size, database_url, env)
    extras_s = None
    if not has_extras():
        print("adding alerts, pages, SLA clocks, post-mortems and action items…")
        extras_s = add_extras(random.Random(args.seed + 7))
    from django.utils import timezone

    today = timezone.now().date()
    targets = urls(today)
    cookie = common.session_cookie(bench_user())
    print(f"\ngunicorn -w 2 --threads 1, one sequential client, {requests} requests per URL "
          f"after {args.warmup} warm-up requests")
    with common.Gunicorn(env, workers=2, threads=1) as server, common.CpuWatch() as cpu:
        samples = measure(server.port, cookie, targets, requests, args.warmup)
    print(f"gunicorn stopped; machine during the measurement: {cpu.note()}")
    queries = count_queries(today)
    draft = draft_ms()

    rows, every = [], []
    for label, found in samples.items():
        server = [s.server_ms for s in found if s.server_ms is not None]
        every += server
        rows.append([label, len(found), sum(s.status != 200 for s in found),
                     *(common.fmt_ms(common.percentile(server, p)) for p in (50, 95, 100)),
                     f"{sum(s.size for s in found) / len(found) / 1024:.0f}"])
    print("\nGET /insights/, server time (Server-Timing app;dur), ms\n")
    print(common.table(["variant", "n", "errors", "p50", "p95", "max", "KiB"], rows,
                       align="lrrrrrr"))
    print("\nQueries of the page, in-process\n")
    print(common.table(["range", "queries"], [[k, v] for k, v in queries.items()], align="lr"))
    print(f"\nDraft of an incident with {DRAFT_ENTRIES:,} entries: gather + markdown "
          f"median {draft['draft_ms']} ms, max {draft['draft_max_ms']} ms (target < "
          f"{TARGET_DRAFT_MS:.0f}); {draft['draft_markdown_kib']} KiB of Markdown")

    p95 = common.percentile(every, 95)
    per_variant = {label: round(common.percentile([s.server_ms for s in found], 95), 2)
                   for label, found in samples.items()}
    # The same page over 36× the rows: the count must not move. (A team filter is another
    # variant of the page, with its own constant count: the team's lookup.)
    by_range = [count for label, count in queries.items() if "team" not in label]
    constant = len(set(by_range)) == 1
    data = {
        "insights_p95_ms": round(p95, 2),
        "insights_queries": by_range[0] if constant else max(by_range),
        "queries_constant": constant,
        "insights_queries_team": queries["90 days, one team"],
        **draft,
        "insights_p95_by_variant_ms": per_variant,
        "targets_met": p95 < TARGET_P95_MS and constant and draft["draft_ms"] < TARGET_DRAFT_MS,
        "errors": sum(r[2] for r in rows),
        "incidents": size.incidents, "requests_per_url": requests,
        "seed_seconds": seeding["seed_seconds"] and round(seeding["seed_seconds"], 1),
        "extras_seconds": extras_s and round(extras_s, 1),
        "cpus_busy": cpu.busy and round(cpu.busy, 2),
    }
    print(json.dumps(data))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
