"""Page latency at scale: dashboard, incident page and idle timeline poll.

    .venv/bin/python bench/pages.py            # 100,000 incidents / 2,000,000 timeline entries
    .venv/bin/python bench/pages.py --quick    # 5,000 / 100,000, under a minute once seeded

Seeds a PostgreSQL database (DATABASE_URL; default relay_bench, relay_bench_quick for --quick)
with COPY, reusing it when it already holds that many rows; starts gunicorn (2 sync workers) and
times each page from one sequential client, reading the server's `Server-Timing: app;dur=` header;
counts queries per page in-process; prints tables and, last, one JSON line. The seeded database is
kept for the next run (--reseed drops and rebuilds it).
"""

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass

import _common as common
from _seed import (
    FULL,
    QUICK,
    Size,
    bench_user,
    check_chains,
    seed,
    seeded_counts,
)


def prepare(args, size: Size, database_url: str, env: dict[str, str]) -> dict:
    """Create/migrate the database, seed it unless it already holds this size; set Django up."""
    created = common.ensure_database(database_url, drop_first=args.reseed)
    common.migrate(env)
    common.setup_django(env)
    from django.db import connections

    incidents, entries, seq_sum = seeded_counts()
    wanted = (size.incidents, size.entries, size.entries)
    name = common.database_name(database_url)
    seconds = None
    if (incidents, entries, seq_sum) == wanted:
        print(f"database {name}: reusing {incidents:,} incidents, {entries:,} entries "
              "(--reseed rebuilds)")
    else:
        if incidents or entries:
            print(f"database {name} holds {incidents:,} incidents / {entries:,} entries, not "
                  f"{size.incidents:,} / {size.entries:,}: dropping and recreating it")
            connections.close_all()
            common.ensure_database(database_url, drop_first=True)
            common.migrate(env)
        elif created or args.reseed:
            print(f"database {name}: created")
        print(f"seeding {size.incidents:,} incidents and {size.entries:,} timeline entries…")
        seconds = seed(size, random.Random(args.seed), processes=args.processes, env=env)
        print(f"seeding took {seconds:.1f}s")
    return {"seed_seconds": seconds}


# --- what to request -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str  # a key of KINDS
    label: str  # variant shown in the breakdown
    path: str


# kind → (p95 target ms, expected status, share of --requests, what it is)
KINDS = {
    "dashboard": (150.0, 200, 1.0, "GET / and filtered variants"),
    "incident": (150.0, 200, 1.0, "GET /incidents/<n>/"),
    "poll": (15.0, 204, 1.0, "idle timeline poll of an open incident"),
    "dashboard_all": (150.0, 200, 1 / 3, "extra: dashboard with status=all (sorts every row)"),
}
CORE_KINDS = ("dashboard", "incident", "poll")  # the targets this bench answers for


def choose_targets(rng: random.Random) -> list[Target]:
    """Dashboard variants; incident pages of typical, open and long-history incidents; idle polls
    of open incidents (after = their last seq). Only incidents the bench user can see."""
    from incidents.models import OPEN_STATUSES as OPEN
    from incidents.models import Incident

    visible = Incident.objects.filter(restricted=False)
    largest = list(visible.order_by("-timeline_seq").values_list("pk", "timeline_seq")[:4])
    hundreds = list(visible.filter(timeline_seq__gte=200).values_list("pk", "timeline_seq"))
    typical = list(visible.exclude(status__in=OPEN).filter(timeline_seq__lt=50)
                   .values_list("pk", "timeline_seq")[:5000])
    open_rows = list(visible.filter(status__in=OPEN).values_list("pk", "timeline_seq"))
    open_large = [row for row in open_rows if row[1] >= 200]
    rng.shuffle(hundreds)
    dashboard = ["/", "/?severity=P1", "/?q=database", "/?page=2"]
    targets = [Target("dashboard", path, path) for path in dashboard]
    targets += [Target("dashboard_all", path, path) for path in ("/?status=all",
                                                                 "/?status=all&page=2")]
    chosen = {
        "closed, <50 entries": rng.sample(typical, min(10, len(typical))),
        "open": rng.sample(open_rows, min(8, len(open_rows))) + open_large[:2],
        "200+ entries": list(dict.fromkeys(largest + hundreds))[:10],
    }
    for label, rows in chosen.items():
        targets += [Target("incident", label, f"/incidents/{pk}/") for pk, _ in rows]
    polls = rng.sample(open_rows, min(8, len(open_rows))) + open_large[:2]
    targets += [Target("poll", "open, nothing new", f"/incidents/{pk}/timeline/?after={seq}")
                for pk, seq in polls]
    return targets


# --- measuring -----------------------------------------------------------------------------------


def measure(port: int, cookie: str, targets: list[Target], requests: int, warmup: int):
    """Per kind: warm every URL, then sequential GETs round-robin over its URLs."""
    series: dict[str, common.Series] = {}
    by_label: dict[tuple[str, str], list[common.Sample]] = {}
    for kind, (_, expected, share, _) in KINDS.items():
        urls = [t for t in targets if t.kind == kind]
        probe = common.get(port, urls[0].path, cookie=cookie)
        if probe.status == 404:
            print(f"  {kind}: {urls[0].path} answers 404 — not built yet, skipped")
            continue
        for index in range(max(warmup, 2 * len(urls))):
            common.get(port, urls[index % len(urls)].path, cookie=cookie)
        kind_series = series[kind] = common.Series(kind, expected)
        count = max(len(urls), round(requests * share))
        started = time.perf_counter()
        for index in range(count):
            target = urls[index % len(urls)]
            sample = common.get(port, target.path, cookie=cookie)
            kind_series.samples.append(sample)
            by_label.setdefault((kind, target.label), []).append(sample)
        print(f"  {kind}: {count} requests over {len(urls)} URLs in "
              f"{time.perf_counter() - started:.1f}s")
    return series, by_label


@dataclass
class Profiled:
    """One page requested in-process: its queries and where its server time went."""

    target: Target
    status: int
    queries: list[dict]
    server_ms: float  # Server-Timing of the in-process request
    sql_ms: float  # time spent executing its queries, seen from Django


class SqlTimer:
    """connection.execute_wrapper that adds up the time spent executing queries (finer than the
    millisecond-rounded times CaptureQueriesContext keeps)."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def count_queries(targets: list[Target], repeat: int = 3) -> list[Profiled]:
    """Queries per page in-process (django.test.Client + CaptureQueriesContext), same settings
    and database as the server; one poll URL is enough. Of `repeat` requests per URL the one
    with the median server time is kept."""
    import warnings

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    warnings.filterwarnings("ignore", message="No directory at")  # STATIC_ROOT is not collected
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(bench_user())
    results, seen = [], set()
    for target in targets:
        if target.kind == "poll" and "poll" in seen:
            continue
        if target.kind not in seen:
            client.get(target.path)  # warm this process, as the server's workers are
            seen.add(target.kind)
        runs = []
        for _ in range(repeat):
            timer = SqlTimer()
            with connection.execute_wrapper(timer), CaptureQueriesContext(connection) as ctx:
                response = client.get(target.path)
            runs.append(Profiled(target, response.status_code, list(ctx.captured_queries),
                                 common.server_timing_ms(response.get("Server-Timing")) or 0.0,
                                 timer.seconds * 1000))
        results.append(sorted(runs, key=lambda run: run.server_ms)[repeat // 2])
    return results


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def _execution_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.startswith(("Execution Time:", "Execution time:")):
            return float(line.split(":")[1].split()[0])
    return 0.0


# --- reporting -----------------------------------------------------------------------------------


def latency_table(series: dict[str, common.Series]) -> str:
    rows = []
    for kind, s in series.items():
        target = KINDS[kind][0]
        p95 = s.stat("server", 95)
        met = "yes" if p95 is not None and p95 < target else "NO"
        rows.append([kind, len(s.samples), s.errors,
                     *(common.fmt_ms(s.stat("server", p)) for p in (50, 95, 99, 100)),
                     *(common.fmt_ms(s.stat("client", p)) for p in (50, 95, 99, 100)),
                     f"< {target:.0f}", met])
    return common.table(
        ["page", "n", "errors", "srv p50", "srv p95", "srv p99", "srv max",
         "cli p50", "cli p95", "cli p99", "cli max", "p95 target", "met"], rows)


def breakdown_table(by_label) -> str:
    rows = []
    for (kind, label), samples in by_label.items():
        server = [s.server_ms for s in samples if s.server_ms is not None]
        statuses = ",".join(sorted({str(s.status) for s in samples}))
        rows.append([kind, label, len(samples), statuses,
                     *(common.fmt_ms(common.percentile(server, p)) for p in (50, 95, 100)),
                     f"{sum(s.size for s in samples) / len(samples) / 1024:.0f}"])
    return common.table(["page", "variant", "n", "status", "srv p50", "srv p95", "srv max",
                         "KiB"], rows, align="llrlrrrr")


def query_table(results: list[Profiled]) -> str:
    """One row per variant: URLs, statuses, queries (min–max), in-process server and SQL ms."""
    groups: dict[tuple[str, str], list[Profiled]] = {}
    for result in results:
        groups.setdefault((result.target.kind, result.target.label), []).append(result)
    rows = []
    for (kind, label), items in groups.items():
        counts = sorted(len(r.queries) for r in items)
        server = sorted(r.server_ms for r in items)[len(items) // 2]
        sql = sorted(r.sql_ms for r in items)[len(items) // 2]
        rows.append([kind, label, len(items), ",".join(sorted({str(r.status) for r in items})),
                     str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}–{counts[-1]}",
                     f"{server:.1f}", f"{sql:.1f}",
                     f"{100 * sql / server:.0f}%" if server else "—"])
    return common.table(["page", "variant", "urls", "status", "queries", "server ms",
                         "sql ms", "sql share"], rows, align="llrlrrrr")


def _planning_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.startswith("Planning Time:"):
            return float(line.split(":")[1].split()[0])
    return 0.0


def explain_slowest(results: list[Profiled], kinds, top: int = 3) -> None:
    """EXPLAIN ANALYZE every query of the slowest URL of each kind: one line each, then the full
    plans of the slowest (those over 1 ms, at least one)."""
    for kind in kinds:
        candidates = [r for r in results if r.target.kind == kind]
        if not candidates:
            continue
        worst = max(candidates, key=lambda r: r.server_ms)
        plans = sorted(((explain(q["sql"]), q["sql"]) for q in worst.queries),
                       key=lambda pair: -_execution_ms(pair[0]))
        execution = sum(_execution_ms(plan) for plan, _ in plans)
        planning = sum(_planning_ms(plan) for plan, _ in plans)
        print(f"\nEXPLAIN ANALYZE — {kind} {worst.target.path}: {len(plans)} queries, "
              f"{execution:.1f} ms executing + {planning:.1f} ms planning in PostgreSQL, of "
              f"{worst.server_ms:.1f} ms server time\n")
        print(common.table(["exec ms", "plan ms", "query"], [
            [f"{_execution_ms(plan):.2f}", f"{_planning_ms(plan):.2f}", " ".join(sql.split())[:90]]
            for plan, sql in plans], align="rrl"))
        for plan, sql in [p for p in plans[:top] if _execution_ms(p[0]) >= 1] or plans[:1]:
            shown = sql if len(sql) <= 600 else sql[:600] + " …"
            print(f"\n{shown}\n{plan}")


def figures(series, results: list[Profiled], rss, size: Size, requests: int, seeding) -> dict:
    def stat(kind, which="server", pct=95):
        value = series[kind].stat(which, pct) if kind in series else None
        return None if value is None else round(value, 2)

    def queries(kind, path=None):
        counts = [len(r.queries) for r in results
                  if r.target.kind == kind and path in (None, r.target.path)]
        return max(counts) if counts else None

    constant = all(len({len(r.queries) for r in results if r.target.kind == kind}) == 1
                   for kind in ("dashboard", "incident"))
    met = all(kind in series and stat(kind) < KINDS[kind][0] for kind in CORE_KINDS)
    return {
        "dashboard_p95_ms": stat("dashboard"), "incident_p95_ms": stat("incident"),
        "poll_p95_ms": stat("poll"), "dashboard_queries": queries("dashboard", "/"),
        "incident_queries": queries("incident"), "poll_queries": queries("poll"),
        "queries_constant": constant, "targets_met": met,
        "dashboard_p99_ms": stat("dashboard", pct=99), "incident_p99_ms": stat("incident", pct=99),
        "poll_p99_ms": stat("poll", pct=99),
        "dashboard_client_p95_ms": stat("dashboard", "client"),
        "incident_client_p95_ms": stat("incident", "client"),
        "poll_client_p95_ms": stat("poll", "client"),
        "dashboard_all_p95_ms": stat("dashboard_all"),
        "errors": sum(s.errors for s in series.values()),
        "worker_rss_mb": round(max(rss.values()), 1) if rss else None,
        "incidents": size.incidents, "entries": size.entries, "requests_per_page": requests,
        "seed_seconds": seeding["seed_seconds"] and round(seeding["seed_seconds"], 1),
    }


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK.incidents:,} incidents / {QUICK.entries:,} entries, "
                             f"{QUICK.requests} requests per page")
    parser.add_argument("--reseed", action="store_true",
                        help="drop and recreate the bench database, then seed it again")
    parser.add_argument("--requests", type=int, help="requests per page kind (after warm-up)")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up requests per page kind")
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN ANALYZE the slowest queries of every page, not only of "
                             "pages that miss their target")
    parser.add_argument("--seed", type=int, default=20241123, help="random seed of the data")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                        help="worker processes building rows while seeding (default: CPUs)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    common.handle_signals()
    size = QUICK if args.quick else FULL
    requests = args.requests or size.requests
    # --quick gets its own database so it never throws away the full-size one.
    default_url = common.DEFAULT_DATABASE_URL + ("_quick" if args.quick else "")
    database_url = os.environ.get("DATABASE_URL") or default_url
    env = common.bench_env(database_url)
    name = common.database_name(database_url)
    print(f"bench/pages.py: {'quick' if args.quick else 'full'} run against {name}")

    seeding = prepare(args, size, database_url, env)
    user = bench_user()
    targets = choose_targets(random.Random(args.seed + 1))
    check_chains(sorted({int(t.path.split("/")[2]) for t in targets if t.kind == "incident"})[:8])
    cookie = common.session_cookie(user)

    print(f"\ngunicorn -w 2 --threads 1, one sequential client, {requests} requests per page "
          f"kind after {args.warmup} warm-up requests")
    with common.Gunicorn(env, workers=2, threads=1) as server, common.CpuWatch() as cpu:
        series, by_label = measure(server.port, cookie, targets, requests, args.warmup)
        rss = server.worker_rss_mb()
    print(f"gunicorn stopped; machine during the measurement: {cpu.note()}")
    results = count_queries(targets, repeat=1 if args.quick else 3)

    print("\nServer time (Server-Timing app;dur) and client wall time, ms\n")
    print(latency_table(series))
    print("\n" + "\n".join(f"  {kind}: {info[3]}" for kind, info in KINDS.items()))
    print("\nBy variant (server ms)\n")
    print(breakdown_table(by_label))
    print("\nQueries per page, in-process (django.test.Client, CaptureQueriesContext): median per "
          "variant of each URL's server ms and of the time Django spent executing its SQL\n")
    print(query_table(results))
    data = figures(series, results, rss, size, requests, seeding)
    data["cpus_busy"] = cpu.busy and round(cpu.busy, 2)
    print(f"\nqueries constant across dashboard variants and across incidents: "
          f"{'yes' if data['queries_constant'] else 'NO'}")
    print("gunicorn worker RSS after the run: "
          + ", ".join(f"pid {pid} {mb:.0f} MiB" for pid, mb in sorted(rss.items())))

    missed = [k for k, s in series.items() if (s.stat("server", 95) or 0) >= KINDS[k][0]]
    if missed or args.explain:
        explain_slowest(results, list(series) if args.explain else missed)
    print(f"\nThe seeded database {name} is kept for the next run (--reseed rebuilds it).")
    print(json.dumps(data))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
