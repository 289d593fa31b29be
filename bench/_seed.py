"""Seeding for bench/pages.py: coherent, hash-chained incidents and timelines, built in spawned
worker processes and streamed into PostgreSQL with COPY. Its own module so that pages.py stays the
measuring script, and so that spawned workers import only what building rows needs.
"""

import contextlib
import json
import multiprocessing
import random
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import _common as common

BENCH_USER = "bench"


@dataclass(frozen=True)
class Size:
    incidents: int
    entries: int
    requests: int  # per page kind


FULL = Size(100_000, 2_000_000, 300)
QUICK = Size(5_000, 100_000, 60)

# --- the shape of the seeded data ----------------------------------------------------------------

TEAMS = [("platform", "Platform"), ("payments", "Payments"), ("identity", "Identity"),
         ("data", "Data"), ("edge", "Edge")]
SERVICES = [  # slug, name, team
    ("checkout-api", "Checkout API", "payments"),
    ("payment-gateway", "Payment Gateway", "payments"), ("billing", "Billing", "payments"),
    ("auth", "Auth Service", "identity"),
    ("sso", "Single sign-on", "identity"), ("postgres-primary", "Primary database", "data"),
    ("warehouse", "Data warehouse", "data"), ("search", "Search", "platform"),
    ("k8s", "Kubernetes platform", "platform"), ("queue", "Job queue", "platform"),
    ("cdn", "CDN", "edge"), ("dns", "DNS", "edge"),
]
TIERS = [("enterprise", "Enterprise", 10), ("business", "Business", 20), ("pro", "Pro", 30),
         ("free", "Free", 40)]
PEOPLE = 50
SEVERITIES = (["P1", "P2", "P3", "P4"], [3, 12, 40, 45])
OPEN_SHARE = 0.03
OPEN_STATUSES = (["triggered", "acknowledged", "investigating", "identified", "monitoring"],
                 [20, 20, 30, 15, 15])
CLOSED_STATUSES = (["resolved", "declined"], [92, 8])
RESTRICTED_SHARE = 0.01
# Status path a closed incident can walk before its final status (always in this order).
WORK_STEPS = ["acknowledged", "investigating", "identified", "monitoring"]
ACKNOWLEDGING = {"acknowledged", "investigating", "identified", "monitoring", "resolved"}
MITIGATING = {"monitoring", "resolved"}
FILLER_KINDS = (["note", "role", "severity", "field"], [78, 12, 5, 5])

COMPONENTS = ["Database", "Checkout", "Login", "Search", "Payments", "CDN", "Job queue", "DNS",
              "Email delivery", "API gateway", "Kubernetes node", "Redis cache", "Webhooks",
              "Billing export", "Mobile push"]
SYMPTOMS = ["latency above SLO", "returns 502", "connection pool exhausted", "error rate spike",
            "replication lag", "certificate expiring", "disk almost full", "timeouts",
            "elevated 5xx", "degraded performance", "unavailable", "memory leak"]
REGIONS = ["", "", " in eu-west-1", " in us-east-1", " in ap-south-1"]
NOTES = [
    "Looking at the dashboards now.",
    "Error rate back to baseline after the rollback.",
    "Customer support reports a spike in tickets about failed payments.",
    "Paged the database on-call; waiting for an answer.",
    "Rolled back `api-2024.11.3` to `api-2024.11.2`.\n\n- deploy finished 14:02\n- canary green",
    "Root cause looks like a **connection leak** in the checkout worker:\n\n```\n"
    "FATAL: remaining connection slots are reserved\n```",
    "Scaling the worker pool from 12 to 24 replicas.",
    "Status page updated; next update in 30 minutes.",
    "Alert fired again: `HighErrorRate` (5xx > 2% for 5m).",
    "Failover to the replica completed; lag 0s.",
    "Vendor confirms an incident on their side: https://status.example.com/incidents/abc",
    "Monitoring for another hour before resolving.",
    "1. drained node `ip-10-0-3-17`\n2. cordoned it\n3. pods rescheduled",
    "No customer impact observed in the last 20 minutes.",
    "Follow-up: add an alert on pool saturation, owner @data team.",
    "Cache hit ratio dropped to 41% after the config push; reverting.",
]
# A second paragraph with numbers makes every note distinct, as real notes are.
NOTE_DETAILS = [
    "Checked `web-{a}`: {b} errors in the last {c} minutes.",
    "p99 latency {a} ms (baseline {b} ms), {c}% of requests affected.",
    "Linked ticket SUP-{a}{b}; {c} customers reported it so far.",
    "Next check at :{c:02d}; queue depth {a}, {b} consumers.",
]


class _Entry:
    """The attributes incidents.timeline.canonical_content/entry_hash read, without a model."""

    __slots__ = ("incident_id", "seq", "kind", "actor_id", "actor_label", "created_at",
                 "old_value", "new_value", "note", "data", "prev_hash", "hash")

    def __init__(self, incident_id, seq, kind, created_at, *, actor_id=None, actor_label="",
                 old="", new="", note="", data=None):
        self.incident_id, self.seq, self.kind, self.created_at = incident_id, seq, kind, created_at
        self.actor_id, self.actor_label = actor_id, actor_label
        self.old_value, self.new_value, self.note, self.data = old, new, note, data or {}


@dataclass
class Cast:
    """The fixed rows incidents refer to."""

    people: list[tuple[int, str]]  # (id, username)
    services: list[tuple[int, str]]  # (id, slug)
    tiers: list[tuple[int, str]]
    bench_group_id: int
    view_permission_id: int


# --- seeding -------------------------------------------------------------------------------------


def seeded_counts() -> tuple[int, int, int]:
    """(incidents, timeline entries, sum of incidents' timeline_seq)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(sum(timeline_seq), 0) FROM incidents_incident")
        incidents, seq_sum = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM incidents_timelineentry")
        (entries,) = cursor.fetchone()
    return incidents, entries, seq_sum


def create_cast() -> Cast:
    """Teams (with their groups), services, tiers and PEOPLE responders, via the ORM."""
    from django.contrib.auth.models import Group, Permission, User

    from incidents.models import CustomerTier, Service
    from oncall.models import Team

    responders = Group.objects.get(name="Responders")
    teams = {}
    for slug, name in TEAMS:
        group = Group.objects.create(name=f"team:{slug}")
        teams[slug] = Team.objects.create(name=name, slug=slug, group=group)
    services = [Service.objects.create(name=name, slug=slug, team=teams[team],
                                       runbook_url=f"https://runbooks.example.com/{slug}")
                for slug, name, team in SERVICES]
    tiers = [CustomerTier.objects.create(name=name, slug=slug, rank=rank)
             for slug, name, rank in TIERS]
    people = User.objects.bulk_create(
        [User(username=f"oncall{n:02d}", email=f"oncall{n:02d}@example.com", password="!")
         for n in range(1, PEOPLE + 1)])
    responders.user_set.add(*people)
    team_list = list(teams.values())
    for n, person in enumerate(people):
        team_list[n % len(team_list)].group.user_set.add(person)
    view = Permission.objects.get(content_type__app_label="incidents", codename="view_incident")
    return Cast(people=[(p.pk, p.username) for p in people],
                services=[(s.pk, s.slug) for s in services],
                tiers=[(t.pk, t.slug) for t in tiers],
                bench_group_id=teams["payments"].group_id, view_permission_id=view.pk)


def entry_counts(size: Size, open_ids: list[int], rng: random.Random) -> list[int]:
    """Entries per incident (index 0 = incident 1): mostly a handful to a few dozen, 4% with
    50-150, 0.5% with hundreds (some of them open); summing exactly to size.entries."""
    n = size.incidents
    counts = [0] * n
    large = set(rng.sample(range(1, n + 1), max(3, n // 200)))
    large |= set(rng.sample(open_ids, max(2, len(open_ids) // 50)))
    medium = set(rng.sample(range(1, n + 1), n // 25)) - large
    for i in large:
        counts[i - 1] = rng.randint(200, 1000)
    for i in medium:
        counts[i - 1] = rng.randint(50, 150)
    rest = [i for i in range(n) if counts[i] == 0]
    mean = (size.entries - sum(counts)) / len(rest)
    if mean < 3:
        raise SystemExit(f"{size.entries} entries are too few for {n} incidents")
    for i in rest:
        counts[i] = rng.randint(2, max(2, round(2 * mean) - 2))
    diff = size.entries - sum(counts)
    while diff:  # nudge ordinary incidents one entry at a time until the total is exact
        i = rng.choice(rest)
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 2:
            counts[i] -= 1
            diff += 1
    return counts


def status_path(final: str, slots: int, rng: random.Random) -> list[str]:
    """Status changes leading to `final` along allowed transitions, at most `slots` of them."""
    if final == "triggered":
        return []
    if final == "declined":
        path = ["acknowledged", "declined"] if rng.random() < 0.4 else ["declined"]
    elif final == "resolved":
        path = [s for s in WORK_STEPS if s == "acknowledged" or rng.random() < 0.6] + [final]
    else:
        path = [s for s in WORK_STEPS[: WORK_STEPS.index(final)]
                if s == "acknowledged" or rng.random() < 0.6] + [final]
    return path[-slots:]


class IncidentFactory:
    """Builds one incident's row, links and hash-chained timeline, consistent with each other."""

    def __init__(self, cast: Cast, size: Size, rng: random.Random, *, now: datetime):
        from incidents.timeline import GENESIS_HASH, entry_hash

        self.cast, self.size, self.rng, self.now = cast, size, rng, now
        self.span = timedelta(days=3 * 365)
        self.genesis, self.entry_hash = GENESIS_HASH, entry_hash

    def started_at(self, number: int, is_open: bool) -> datetime:
        rng = self.rng
        if is_open and rng.random() < 0.8:  # most open incidents began in the last three days
            return self.now - timedelta(seconds=rng.randint(600, 3 * 86400))
        base = self.now - self.span * (1 - number / self.size.incidents)
        return min(base + timedelta(seconds=rng.randint(0, 3600)), self.now - timedelta(hours=1))

    def build(self, number: int, status: str, count: int, restricted: bool):
        rng, cast = self.rng, self.cast
        is_open = status in OPEN_STATUSES[0]
        severity = rng.choices(*SEVERITIES)[0]
        started = self.started_at(number, is_open)
        detected = started + timedelta(seconds=rng.randint(0, 600))
        # Long histories take long; everything ends before now.
        hours = rng.lognormvariate(0.5, 1.0) * (1 + count / 50)
        end = min(detected + timedelta(hours=hours), self.now - timedelta(seconds=30))
        if is_open:
            end = self.now - timedelta(seconds=rng.randint(30, 600))
        end = max(end, detected + timedelta(seconds=count))
        people = cast.people
        declared_by = rng.choice(people) if rng.random() < 0.6 else None
        commander = rng.choice(people) if status != "triggered" or rng.random() < 0.3 else None
        comms_lead = rng.choice(people) if severity in ("P1", "P2") and rng.random() < 0.8 else None
        responders = rng.sample(people, rng.choice([0, 1, 1, 2, 3, 5]))
        services = rng.sample(cast.services, rng.choice([1, 1, 1, 2, 3]))
        tiers = rng.sample(cast.tiers, rng.choice([0, 1, 1, 2, 4]))
        title = f"{rng.choice(COMPONENTS)} {rng.choice(SYMPTOMS)}{rng.choice(REGIONS)}"
        description = "" if rng.random() < 0.3 else (
            f"{rng.choice(NOTES)}\n\nImpact: {rng.choice(SYMPTOMS)} for "
            f"{rng.choice(['some', 'most', 'all'])} {rng.choice(TIERS)[1]} customers.")

        times = sorted(detected + (end - detected) * rng.random() for _ in range(count - 1))
        times = [detected, *times]
        for k in range(1, count):  # strictly increasing, microsecond resolution
            if times[k] <= times[k - 1]:
                times[k] = times[k - 1] + timedelta(microseconds=1)
        path = status_path(status, count - 1, rng)
        status_at = set(rng.sample(range(1, count), len(path)))
        entries = [_Entry(number, 1, "declared", times[0],
                          actor_id=declared_by[0] if declared_by else None,
                          actor_label="" if declared_by else "alertmanager",
                          new=severity, note=title, data={
                              "severity": severity,
                              "services": sorted(slug for _, slug in services),
                              "customer_tiers": sorted(slug for _, slug in tiers),
                              "restricted": restricted,
                              "commander": commander[1] if commander else "",
                          })]
        milestones = {"acknowledged_at": None, "mitigated_at": None, "resolved_at": None,
                      "closed_at": None}
        current = {"status": "triggered", "severity": severity, "roles": 0}
        path_iter = iter(path)
        for index in range(1, count):
            at = times[index]
            actor = rng.choice(people)
            if index in status_at:
                entries.append(self._status_entry(number, index + 1, at, actor, next(path_iter),
                                                  current, milestones))
            else:
                entries.append(self._filler_entry(number, index + 1, at, actor, current,
                                                  commander, comms_lead, responders, description))
        prev = self.genesis
        for entry in entries:
            entry.prev_hash = prev
            entry.hash = prev = self.entry_hash(entry)

        row = {
            "id": number, "title": title, "description": description,
            "severity": current["severity"], "status": status,
            "commander_id": commander[0] if commander else None,
            "comms_lead_id": comms_lead[0] if comms_lead else None,
            "restricted": restricted, "declared_by_id": declared_by[0] if declared_by else None,
            "merged_into_id": None, "started_at": started, "detected_at": detected,
            **milestones, "created_at": detected, "updated_at": times[-1], "timeline_seq": count,
        }
        links = {"services": [pk for pk, _ in services], "customer_tiers": [pk for pk, _ in tiers],
                 "responders": [pk for pk, _ in responders]}
        return row, links, entries

    @staticmethod
    def _status_entry(number, seq, at, actor, to, current, milestones) -> _Entry:
        changed = {}
        if to in ACKNOWLEDGING and milestones["acknowledged_at"] is None:
            milestones["acknowledged_at"] = at
            changed["acknowledged_at"] = at.isoformat()
        if to in MITIGATING and milestones["mitigated_at"] is None:
            milestones["mitigated_at"] = at
            changed["mitigated_at"] = at.isoformat()
        if to == "resolved":
            milestones["resolved_at"] = at
            changed["resolved_at"] = at.isoformat()
        if to in CLOSED_STATUSES[0]:
            milestones["closed_at"] = at
        old, current["status"] = current["status"], to
        return _Entry(number, seq, "status", at, actor_id=actor[0], old=old, new=to, data=changed)

    def _filler_entry(self, number, seq, at, actor, current, commander, comms_lead, responders,
                      description) -> _Entry:
        rng = self.rng
        kind = rng.choices(*FILLER_KINDS)[0]
        if kind == "severity":
            old = current["severity"]
            current["severity"] = new = rng.choice([s for s in SEVERITIES[0] if s != old])
            return _Entry(number, seq, "severity", at, actor_id=actor[0], old=old, new=new)
        if kind == "role":
            current["roles"] += 1
            if current["roles"] == 1 and commander:
                return _Entry(number, seq, "role", at, actor_id=actor[0], new=commander[1],
                              data={"role": "commander"})
            if current["roles"] == 2 and comms_lead:
                return _Entry(number, seq, "role", at, actor_id=actor[0], new=comms_lead[1],
                              data={"role": "comms_lead"})
            names = sorted(name for _, name in responders)
            return _Entry(number, seq, "role", at, actor_id=actor[0], new=", ".join(names),
                          data={"role": "responders", "added": names, "removed": []})
        if kind == "field":
            return _Entry(number, seq, "field", at, actor_id=actor[0], new=description[:500],
                          data={"field": "description"})
        note = f"{rng.choice(NOTES)}\n\n" + rng.choice(NOTE_DETAILS).format(
            a=rng.randint(10, 9999), b=rng.randint(1, 999), c=rng.randint(1, 59))
        if rng.random() < 0.1:
            return _Entry(number, seq, "note", at, actor_label="alertmanager", note=note)
        return _Entry(number, seq, "note", at, actor_id=actor[0], note=note)


INCIDENT_COLUMNS = ["id", "title", "description", "severity", "status", "commander_id",
                    "comms_lead_id", "restricted", "declared_by_id", "merged_into_id",
                    "started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at",
                    "closed_at", "created_at", "updated_at", "timeline_seq"]
ENTRY_COLUMNS = ["incident_id", "seq", "kind", "actor_id", "actor_label", "created_at",
                 "old_value", "new_value", "note", "data", "prev_hash", "hash"]
LINKS = {"services": "service", "customer_tiers": "customertier", "responders": "user"}
CHUNK = 500  # incidents per COPY transaction
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _copy_lines(rows, suffix: str) -> str:
    return "".join("\t".join(map(_copy_text, row)) + suffix for row in rows)


def _columns(model, known: list[str]) -> tuple[list[str], str]:
    """Column names for COPY: `known`, then any other concrete column (a field added later) with
    its default, so a new defaulted field does not break seeding; the defaults as a line suffix."""
    from django.db import connection

    extra = [f for f in model._meta.concrete_fields if f.column not in known and not f.primary_key]
    defaults = [f.get_db_prep_save(f.get_default(), connection) for f in extra]
    suffix = "".join("\t" + _copy_text(value) for value in defaults) + "\n"
    return known + [f.column for f in extra], suffix


_worker: dict = {}
# Seconds the row builders get to exit once the last chunk is in; a stuck one is then terminated
# (and killed if it ignores that) instead of hanging the run.
POOL_EXIT_TIMEOUT = 30


class SeedingError(RuntimeError):
    """A row-building worker failed or died; raised in the parent with the worker's traceback."""


def _init_worker(env: dict[str, str], cast: Cast, size: Size, now: datetime,
                 suffixes: tuple[str, str]) -> None:
    # Workers are spawned (a fresh interpreter, not a fork of a process holding Django's,
    # psycopg's and logging's locks), so they set Django up themselves: IncidentFactory needs
    # incidents.timeline, which imports the models. They never open a database connection.
    common.setup_django(env)
    _worker.update(cast=cast, size=size, now=now, suffixes=suffixes)


def build_chunk(job) -> tuple[str, dict[str, str], str, tuple[int, int]]:
    """In a worker process: COPY text for a run of incidents, their links and timelines. Each
    chunk has its own random seed, so the data does not depend on the number of processes."""
    seed, numbers, statuses, counts, restricted = job
    factory = IncidentFactory(_worker["cast"], _worker["size"], random.Random(seed),
                              now=_worker["now"])
    incident_suffix, entry_suffix = _worker["suffixes"]
    incidents, links, entries = [], {name: [] for name in LINKS}, []
    for number, status, count, is_restricted in zip(numbers, statuses, counts, restricted,
                                                    strict=True):
        row, incident_links, timeline = factory.build(number, status, count, is_restricted)
        incidents.append([row[c] for c in INCIDENT_COLUMNS])
        for name, pks in incident_links.items():
            links[name].extend((number, pk) for pk in pks)
        entries.extend(timeline)
    # Rows land in time order, as they would have been written: entries of incidents that
    # overlap in time interleave on disk instead of sitting together.
    entries.sort(key=lambda e: e.created_at)
    entry_rows = ((e.incident_id, e.seq, e.kind, e.actor_id, e.actor_label, e.created_at,
                   e.old_value, e.new_value, e.note, json.dumps(e.data) if e.data else "{}",
                   e.prev_hash, e.hash) for e in entries)
    return (_copy_lines(incidents, incident_suffix),
            {name: _copy_lines(rows, "\n") for name, rows in links.items()},
            _copy_lines(entry_rows, entry_suffix), (len(numbers), len(entries)))


def _jobs(size: Size, rng: random.Random):
    """The plan, decided up front: which incidents are open, restricted, how long each history."""
    n = size.incidents
    open_ids = set(rng.sample(range(max(1, n - n * 6 // 100), n + 1), int(n * OPEN_SHARE * 0.8))
                   + rng.sample(range(1, n + 1), int(n * OPEN_SHARE * 0.2)))
    restricted = set(rng.sample(range(1, n + 1), max(5, int(n * RESTRICTED_SHARE))))
    counts = entry_counts(size, sorted(open_ids), rng)
    statuses = [rng.choices(*(OPEN_STATUSES if i in open_ids else CLOSED_STATUSES))[0]
                for i in range(1, n + 1)]
    jobs = []
    for first in range(1, n + 1, CHUNK):
        numbers = list(range(first, min(first + CHUNK, n + 1)))
        jobs.append((rng.getrandbits(64), numbers, statuses[first - 1:numbers[-1]],
                     counts[first - 1:numbers[-1]], [i in restricted for i in numbers]))
    return jobs, sorted(restricted)


@contextlib.contextmanager
def _row_builders(processes: int, initargs: tuple):
    """A pool of `processes` spawned workers that always ends: on the way out the workers get
    POOL_EXIT_TIMEOUT seconds to exit (none after an error) and are then terminated, so neither a
    stuck worker nor a failure in this process can leave the run hanging in the shutdown."""
    context = multiprocessing.get_context("spawn")
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_init_worker,
                               initargs=initargs)
    failed = True
    try:
        yield pool
        failed = False
    finally:
        # Workers start on demand; whatever this pool started is new since `before`.
        workers = [p for p in multiprocessing.active_children() if p not in before]
        _shut_down(pool, workers, 0 if failed else POOL_EXIT_TIMEOUT)


def _shut_down(pool: ProcessPoolExecutor, workers, timeout: float) -> None:
    """pool.shutdown() with a time limit. The executor's own thread joins (reaps) the workers;
    joining or polling them here as well would race it, so this only waits for that shutdown and
    signals the workers when it takes too long, which lets the executor's joins return."""
    stopper = threading.Thread(target=pool.shutdown, kwargs={"cancel_futures": True},
                               name="pool-shutdown", daemon=True)
    stopper.start()
    stopper.join(timeout)
    if not stopper.is_alive():
        return
    if timeout:  # after an error the workers are stopped on purpose: nothing to report
        print(f"  row builders did not exit within {timeout}s of the last chunk; terminating "
              "them", file=sys.stderr, flush=True)
    for signal_worker in (lambda w: w.terminate(), lambda w: w.kill()):
        for worker in workers:
            signal_worker(worker)  # a no-op for a worker already reaped
        stopper.join(5)
        if not stopper.is_alive():
            return
    print("  row builders still running after SIGKILL; leaving them", file=sys.stderr)


def _chunk_result(job, future):
    """The COPY text a worker built for `job`, or an error saying which chunk failed and why."""
    numbers = job[1]
    which = f"incidents {numbers[0]:,}–{numbers[-1]:,}"
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise SeedingError(f"A row-building worker died (killed, out of memory, or it failed to "
                           f"start) while building {which}; seeding stopped.") from exc
    except Exception as exc:
        raise SeedingError(f"Building {which} failed in a worker with {exc!r} (its traceback is "
                           "above); seeding stopped.") from exc


def seed(size: Size, rng: random.Random, processes: int, env: dict[str, str]) -> float:
    """Build rows in `processes` worker processes (hash chains included) while this process
    streams them into PostgreSQL with COPY, one transaction per chunk of incidents."""
    from collections import deque

    from django.db import connection, transaction

    from incidents.models import (
        Incident,
        IncidentGroupObjectPermission,
        IncidentUserObjectPermission,
        TimelineEntry,
    )

    started = time.perf_counter()
    cast = create_cast()
    jobs, restricted_ids = _jobs(size, rng)
    incident_columns, incident_suffix = _columns(Incident, INCIDENT_COLUMNS)
    entry_columns, entry_suffix = _columns(TimelineEntry, ENTRY_COLUMNS)
    through = {name: getattr(Incident, name).through for name in LINKS}
    copies = [f"COPY {Incident._meta.db_table} ({', '.join(incident_columns)}) FROM STDIN"]
    copies += [f"COPY {model._meta.db_table} (incident_id, {model._meta.get_field(fk).column}) "
               "FROM STDIN" for model, fk in ((through[name], fk) for name, fk in LINKS.items())]
    copies.append(f"COPY {TimelineEntry._meta.db_table} ({', '.join(entry_columns)}) FROM STDIN")
    now = datetime.now(UTC).replace(microsecond=0)

    done = [0, 0]  # incidents, entries

    def copy_next(pending) -> None:
        incidents, links, entries, counts = _chunk_result(*pending.popleft())
        with transaction.atomic(), connection.connection.cursor() as cursor:
            for statement, data in zip(copies, [incidents, *links.values(), entries],
                                       strict=True):
                with cursor.copy(statement) as copy:
                    copy.write(data.encode())
        done[0] += counts[0]
        done[1] += counts[1]
        if done[0] >= size.incidents or done[0] % (10 * CHUNK) == 0:
            print(f"  seeded {done[0]:>7,} incidents, {done[1]:>9,} entries "
                  f"({time.perf_counter() - started:5.1f}s)", flush=True)

    with _row_builders(processes, (env, cast, size, now, (incident_suffix, entry_suffix))) as pool:
        pending = deque()
        for job in jobs:  # a few chunks in flight, not the whole database in memory
            pending.append((job, pool.submit(build_chunk, job)))
            if len(pending) > processes:
                copy_next(pending)
        while pending:
            copy_next(pending)

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                       [Incident._meta.db_table, size.incidents])
    # Restricted incidents: a fifth granted to the bench user, a fifth to its team.
    bench = bench_user()
    IncidentUserObjectPermission.objects.bulk_create(
        IncidentUserObjectPermission(user=bench, permission_id=cast.view_permission_id,
                                     content_object_id=pk) for pk in restricted_ids[::5])
    IncidentGroupObjectPermission.objects.bulk_create(
        IncidentGroupObjectPermission(group_id=cast.bench_group_id,
                                      permission_id=cast.view_permission_id,
                                      content_object_id=pk) for pk in restricted_ids[1::5])
    analyze_started = time.perf_counter()
    with connection.cursor() as cursor:  # what autovacuum would have done by now
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  VACUUM ANALYZE {time.perf_counter() - analyze_started:.1f}s")
    return time.perf_counter() - started


def check_chains(numbers: list[int]) -> None:
    from incidents.timeline import verify_chain

    for number in numbers:
        report = verify_chain(number)
        if not report.intact:
            raise SystemExit(f"seeded chain INC-{number} is broken at #{report.first_bad_seq}: "
                             f"{report.reason}")
    print(f"  hash chains verified for {len(numbers)} incidents "
          f"(e.g. manage.py verify_timeline --incident {numbers[0]})")


def bench_user():
    """The measuring user: a Responder (no view-all-restricted), member of team Payments."""
    from django.contrib.auth.models import Group, User

    user, created = User.objects.get_or_create(
        username=BENCH_USER, defaults={"email": "bench@example.com", "password": "!"})
    if created:
        user.groups.add(Group.objects.get(name="Responders"))
        team_group = Group.objects.filter(name="team:payments").first()
        if team_group:
            user.groups.add(team_group)
    return user
