"""A web load test: 50 people logged in at once, browsing and watching incidents, zero errors.

    .venv/bin/python bench/web.py                 # 50 users for 30 s
    .venv/bin/python bench/web.py --quick         # 50 users for 10 s
    .venv/bin/python bench/web.py --users 100 --seconds 60 --think 0.2

Serves Relay as `make run` does (`manage.py serve`: gunicorn with threads, config/gunicorn_conf.py,
and a django-q2 worker) against PostgreSQL with the seeded data of bench/pages.py --quick
(DATABASE_URL; default relay_bench_quick, seeded if missing). Creates the users web01…webNN
(Responders) and logs each in through the login form, each with its own session and its own
pooled keep-alive HTTP connection. Each user then loops until the time is up: the dashboard, an
incident page, and a few polls of an open incident's timeline (`/incidents/<n>/timeline/?after=
<seq>`, as the incident page's htmx does), pausing `--think` seconds (±50 %) between requests.
The first `--warmup` seconds (cold caches, templates compiling) are not counted.

An error is any answer other than the expected one (200; a poll 200, 204 or 286), a redirect
(the session was lost) or no answer. Prints a table per page kind (client time, request sent →
body read; server time from `Server-Timing`) and, last, one JSON line: `requests`, `errors`,
`p95_ms` (client, all requests), `server_p95_ms`, `requests_per_s`, per kind `<kind>_p95_ms`.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import _common as common
import requests
from _seed import QUICK

PASSWORD = "web-bench-password-1"  # noqa: S105 — local throwaway users of the bench database
EXPECTED = {"dashboard": {200}, "incident": {200}, "poll": {200, 204, 286}}
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- data and users ------------------------------------------------------------------------------


def prepare(args, env: dict[str, str]) -> None:
    """The database of bench/pages.py --quick: reused when it holds exactly that data."""
    from pages import prepare as prepare_pages

    seed_args = argparse.Namespace(reseed=args.reseed, seed=args.seed, processes=args.processes)
    prepare_pages(seed_args, QUICK, env["DATABASE_URL"], env)


def ensure_users(count: int) -> list[str]:
    """web01…webNN, Responders, one password (hashed once)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    names = [f"web{n:02d}" for n in range(1, count + 1)]
    hashed = make_password(PASSWORD)
    responders = Group.objects.get(name="Responders")
    for name in names:
        user, _ = User.objects.update_or_create(
            username=name, defaults={"email": f"{name}@example.com", "password": hashed,
                                     "is_active": True})
        user.groups.add(responders)
    return names


def choose_incidents(rng: random.Random) -> tuple[list[int], list[tuple[int, int]]]:
    """Incident pages (open and closed) and polls (open incidents, after their last seq), all
    visible to a Responder."""
    from incidents.models import OPEN_STATUSES, Incident

    visible = Incident.objects.filter(restricted=False)
    open_rows = list(visible.filter(status__in=OPEN_STATUSES).values_list("pk", "timeline_seq"))
    closed = list(visible.exclude(status__in=OPEN_STATUSES).values_list("pk", flat=True)[:5000])
    if not open_rows:
        raise SystemExit("the database has no open incidents to poll")
    pages = [pk for pk, _ in rng.sample(open_rows, min(20, len(open_rows)))]
    pages += rng.sample(closed, min(20, len(closed)))
    return pages, rng.sample(open_rows, min(20, len(open_rows)))


# --- the server ----------------------------------------------------------------------------------


class Served:
    """`manage.py serve` on a free port, in its own process group, output to a temporary file."""

    def __init__(self, env: dict[str, str], workers: int, threads: int):
        self.port = common.free_port()
        self.env = {**env, "WEB_WORKERS": str(workers), "WEB_THREADS": str(threads),
                    "Q_WORKERS": "1", "Q_CLUSTER_NAME": f"relay-webbench-{uuid.uuid4().hex[:8]}",
                    "SITE_URL": f"http://127.0.0.1:{self.port}"}
        self.env.pop("REDIS_URL", None)
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 — closed in __exit__
            prefix="bench-web-", suffix=".log", delete=False)
        self.process = None

    def __enter__(self) -> "Served":
        self.process = subprocess.Popen(
            [common.PYTHON, "manage.py", "serve", "--port", str(self.port)], cwd=common.ROOT,
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"manage.py serve exited:\n{self.tail()}")
            with suppress(OSError):
                if common.get(self.port, "/accounts/login/", timeout=5).status == 200:
                    return self
            time.sleep(0.3)
        raise SystemExit(f"manage.py serve did not answer within 60 s:\n{self.tail()}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, 2)  # SIGINT: what Ctrl-C sends serve
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.close()
        with suppress(OSError):
            os.unlink(self.log.name)

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])


# --- the users -----------------------------------------------------------------------------------


@dataclass
class Result:
    kind: str
    status: int | None  # None: no answer
    client_ms: float
    server_ms: float | None
    error: str = ""  # when there was no answer: why


@dataclass
class User:
    name: str
    base: str
    session: requests.Session = field(default_factory=requests.Session)
    results: list[Result] = field(default_factory=list)

    def log_in(self) -> None:
        form = self.session.get(f"{self.base}/accounts/login/", timeout=30)
        token = CSRF_FIELD.search(form.text)
        answer = self.session.post(
            f"{self.base}/accounts/login/", timeout=60, allow_redirects=False,
            data={"username": self.name, "password": PASSWORD,
                  "csrfmiddlewaretoken": token.group(1) if token else ""})
        if answer.status_code != 302 or "sessionid" not in self.session.cookies:
            raise RuntimeError(f"{self.name} could not log in: {answer.status_code}")

    def get(self, kind: str, path: str) -> None:
        started = time.perf_counter()
        try:
            answer = self.session.get(self.base + path, timeout=30, allow_redirects=False,
                                      headers={"HX-Request": "true"} if kind == "poll" else {})
            status, server = answer.status_code, answer.headers.get("Server-Timing")
            answer.content  # noqa: B018 — the body read is part of the time
        except requests.RequestException as exc:
            status, server, error = None, None, f"{type(exc).__name__}: {exc}"[:200]
        else:
            error = ""
        self.results.append(Result(kind, status, (time.perf_counter() - started) * 1000,
                                   common.server_timing_ms(server), error))

    def browse(self, measure_from: float, deadline: float, pages: list[int],
               polls: list[tuple[int, int]], rounds_of_polls: int, think: float,
               rng: random.Random) -> None:
        def pause():
            time.sleep(think * rng.uniform(0.5, 1.5))
            if self.results and time.monotonic() < measure_from:  # warming up: not counted
                self.results.clear()

        while time.monotonic() < deadline:
            self.get("dashboard", "/")
            pause()
            self.get("incident", f"/incidents/{rng.choice(pages)}/")
            number, seq = rng.choice(polls)
            for _ in range(rounds_of_polls):
                if time.monotonic() >= deadline:
                    return
                pause()
                self.get("poll", f"/incidents/{number}/timeline/?after={seq}")
            pause()


def run_users(base: str, names: list[str], seconds: float, pages, polls, args) -> list[User]:
    users = [User(name, base) for name in names]
    failed = []

    def log_in(user):
        try:
            user.log_in()
        except (requests.RequestException, RuntimeError) as exc:
            failed.append(f"{user.name}: {exc}")

    logins = [threading.Thread(target=log_in, args=(user,)) for user in users]
    started = time.perf_counter()
    for thread in logins:
        thread.start()
    for thread in logins:
        thread.join()
    if failed:
        raise SystemExit("logging in failed:\n" + "\n".join(failed))
    print(f"{len(users)} users logged in through the login form in "
          f"{time.perf_counter() - started:.1f}s")
    measure_from = time.monotonic() + args.warmup
    deadline = measure_from + seconds
    threads = [threading.Thread(target=user.browse, args=(
        measure_from, deadline, pages, polls, args.polls, args.think, random.Random(args.seed + n)))
        for n, user in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return users


# --- figures -------------------------------------------------------------------------------------


def figures(results: list[Result], seconds: float, users: int) -> tuple[dict, list[list[str]]]:
    rows, data = [], {}
    kinds = list(EXPECTED)
    for kind in [*kinds, "all"]:
        chosen = [r for r in results if kind == "all" or r.kind == kind]
        errors = sum(1 for r in chosen if r.status not in EXPECTED[r.kind])
        client = [r.client_ms for r in chosen]
        server = [r.server_ms for r in chosen if r.server_ms is not None]
        p50, p95 = common.percentile(client, 50), common.percentile(client, 95)
        server_p95 = common.percentile(server, 95)
        rows.append([kind, str(len(chosen)), str(errors), common.fmt_ms(p50),
                     common.fmt_ms(p95), common.fmt_ms(common.percentile(client, 99)),
                     common.fmt_ms(server_p95)])
        if kind != "all":
            data[f"{kind}_requests"] = len(chosen)
            data[f"{kind}_p95_ms"] = p95 and round(p95, 1)
            data[f"{kind}_server_p95_ms"] = server_p95 and round(server_p95, 1)
        else:
            data = {"requests": len(chosen), "errors": errors, "p95_ms": p95 and round(p95, 1),
                    "p50_ms": p50 and round(p50, 1),
                    "server_p95_ms": server_p95 and round(server_p95, 1),
                    "requests_per_s": round(len(chosen) / seconds, 1), "users": users,
                    "seconds": seconds, **data}
    return data, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--polls", type=int, default=4, help="timeline polls per round")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between requests")
    parser.add_argument("--warmup", type=float, default=5, help="seconds not counted, first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--quick", action="store_true", help="10 seconds")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=2, help="row builders while seeding")
    args = parser.parse_args()
    seconds = 10 if args.quick and args.seconds == 30 else args.seconds
    common.handle_signals()
    database_url = os.environ.get("DATABASE_URL") or common.DEFAULT_DATABASE_URL + "_quick"
    env = common.bench_env(database_url)
    print(f"bench/web.py: {args.users} users for {seconds:.0f}s against "
          f"{common.database_name(database_url)}")
    prepare(args, env)
    names = ensure_users(args.users)
    pages, polls = choose_incidents(random.Random(args.seed))
    from django.db import connections

    connections.close_all()
    with Served(env, args.workers, args.threads) as served, common.CpuWatch() as cpu:
        print(f"manage.py serve: gunicorn {args.workers} workers × {args.threads} threads, "
              f"port {served.port}")
        users = run_users(f"http://127.0.0.1:{served.port}", names, seconds, pages, polls, args)
        server_log = [line for line in served.tail(100_000).splitlines()
                      if any(word in line for word in ("WORKER TIMEOUT", "ERROR", "CRITICAL",
                                                       "Booting worker"))]
    results = [r for user in users for r in user.results]
    data, rows = figures(results, seconds, args.users)
    data["cpus_busy"] = cpu.busy and round(cpu.busy, 2)
    print(f"\nmachine during the run: {cpu.note(expected=os.cpu_count() or 1)}\n")
    print(common.table(["kind", "requests", "errors", "p50 ms", "p95 ms", "p99 ms",
                        "server p95 ms"], rows))
    unexpected = sorted({(r.kind, r.status, r.error) for r in results
                         if r.status not in EXPECTED[r.kind]}, key=str)
    if unexpected:
        print("\nunexpected answers (kind, status, error):")
        print("\n".join(f"  {u}" for u in unexpected))
        print("server log (workers booted, timeouts, errors):")
        print("\n".join(f"  {line}" for line in server_log[-20:]))
    print(f"\n{data['requests_per_s']} requests/s; client times are request sent → body read on "
          "a kept-alive connection; server times from Server-Timing")
    print(json.dumps(data))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
