"""Shared plumbing for bench/ scripts: the bench database, a real gunicorn, HTTP timing, tables.

Scripts run as `.venv/bin/python bench/NAME.py` from the project root; importing this module puts
the project root on sys.path so `config`, `incidents` and friends import after `setup_django()`.
"""

import contextlib
import http.client
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/relay_bench"


# --- environment and database ---------------------------------------------------------------


def bench_env(database_url: str) -> dict[str, str]:
    """The production-like environment every bench process (gunicorn, manage.py, us) runs with."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECRET_KEY="bench",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def _maintenance_url(database_url: str) -> str:
    """The same server's `postgres` database (libpq reads postgres:// and postgresql://)."""
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def _admin_connection(database_url: str):
    import psycopg

    return psycopg.connect(_maintenance_url(database_url), autocommit=True)


def ensure_database(database_url: str, *, drop_first: bool = False) -> bool:
    """Create the database if missing (dropping it first if asked); True when it was created.

    Dropping is refused unless the name says it is a bench database, so a mistyped DATABASE_URL
    cannot wipe real data.
    """
    from psycopg import sql

    name = database_name(database_url)
    with _admin_connection(database_url) as conn:
        if drop_first:
            if "bench" not in name:
                raise SystemExit(f"Refusing to drop {name!r}: only databases named *bench* are "
                                 "dropped by bench scripts.")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def migrate(env: dict[str, str]) -> None:
    """`manage.py migrate`, quietly; its output is shown only when it fails."""
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=False,
    )
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("manage.py migrate failed")
    applied = sum(1 for line in result.stdout.splitlines() if line.strip().endswith("OK"))
    print(f"migrate: {applied} migration(s) applied" if applied else "migrate: up to date")


def setup_django(env: dict[str, str]) -> None:
    """Configure this process like the server (same settings and environment), then set up."""
    for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY",
                "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
                "SECURE_HSTS_SECONDS", "STATICFILES_STORAGE", "ALLOWED_HOSTS", "LOG_LEVEL"):
        os.environ[key] = env[key]
    import django

    django.setup()


def session_cookie(user) -> str:
    """A logged-in session for `user`, created directly in the session store (no login form)."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def handle_signals() -> None:
    """Ctrl-C (even when started in the background, where SIGINT comes ignored) and SIGTERM
    unwind the stack, so the `with` blocks that stop servers still run."""

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


# --- gunicorn -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A real gunicorn serving config.wsgi on a free local port; use as a context manager."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, threads: int = 1):
        self.env = env
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_fd, self.log_path = tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")

    def __enter__(self) -> "Gunicorn":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        command = [str(VENV_BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{self.port}",
                   "-w", str(self.workers), "--threads", str(self.threads)]
        # Own session: a Ctrl-C in the terminal reaches us, and we stop gunicorn in order.
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log_fd,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}:\n{self.tail()}")
            if len(self.worker_pids()) >= self.workers and self._answers():
                return
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within {timeout:.0f}s:\n{self.tail()}")

    def _answers(self) -> bool:
        try:
            get(self.port, "/accounts/login/", timeout=5)
        except OSError:
            return False
        return True

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_rss_mb(self) -> dict[int, float]:
        """VmRSS of each worker process, in MiB."""
        rss = {}
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss[pid] = int(line.split()[1]) / 1024
        return rss

    def tail(self, lines: int = 30) -> str:
        text = Path(self.log_path).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: graceful stop of master and workers
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self.log_fd)
        with contextlib.suppress(OSError):
            os.unlink(self.log_path)


# --- HTTP timing --------------------------------------------------------------------------------


@dataclass
class Sample:
    status: int
    server_ms: float | None  # from `Server-Timing: app;dur=<ms>`
    client_ms: float  # request sent → body read, on one fresh connection
    size: int


def server_timing_ms(header: str | None) -> float | None:
    """`app;dur=12.34` → 12.34 (the first metric carrying a dur)."""
    for metric in (header or "").split(","):
        for part in metric.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key == "dur":
                with contextlib.suppress(ValueError):
                    return float(value)
    return None


def get(port: int, path: str, *, cookie: str = "", timeout: float = 30) -> Sample:
    headers = {"Host": "127.0.0.1", "Connection": "close"}
    if cookie:
        headers["Cookie"] = cookie
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        client_ms = (time.perf_counter() - started) * 1000
        timing = server_timing_ms(response.getheader("Server-Timing"))
        return Sample(response.status, timing, client_ms, len(body))
    finally:
        conn.close()


class CpuWatch:
    """How many CPUs the whole machine kept busy over a stretch (from /proc/stat). A sequential
    client, its server and PostgreSQL keep about one busy; clearly more means other work competed
    with the measurement and its figures are noisy."""

    def __enter__(self) -> "CpuWatch":
        self.start, self.busy = self._read(), None
        return self

    def __exit__(self, *exc) -> None:
        end = self._read()
        if self.start and end:
            total = end[0] - self.start[0]
            idle = end[1] - self.start[1]
            self.busy = (os.cpu_count() or 1) * (total - idle) / total if total else None

    @staticmethod
    def _read() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(fields[:8]), fields[3] + fields[4]  # all time, idle + iowait

    def note(self, expected: float = 1.4) -> str:
        """`expected`: how many CPUs the bench keeps busy by itself (a saturating load keeps
        them all busy; only more than that says something else competed)."""
        if self.busy is None:
            return "unknown"
        cpus = os.cpu_count() or 1
        verdict = (" — other work competed, expect noisy figures" if self.busy > expected
                   else "")
        return f"{self.busy:.1f} of {cpus} CPUs busy on average{verdict}"


# --- statistics and tables ----------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (p95 of 300 samples is the 285th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Series:
    """Samples of one page kind."""

    name: str
    expected_status: int
    samples: list[Sample] = field(default_factory=list)

    @property
    def server(self) -> list[float]:
        return [s.server_ms for s in self.samples if s.server_ms is not None]

    @property
    def client(self) -> list[float]:
        return [s.client_ms for s in self.samples]

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.status != self.expected_status)

    def stat(self, which: str, pct: float) -> float | None:
        return percentile(self.server if which == "server" else self.client, pct)


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """A plain-text table; `align` gives one of l/r per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(cells, widths, align, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
