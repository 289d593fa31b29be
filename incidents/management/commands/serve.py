import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


def use_site_url(environ, host: str, port) -> str:
    """SITE_URL for the children (links in pages and emails): the environment's when set, else
    the address served, so `make run PORT=8123` does not send people to port 8000."""
    if not environ.get("SITE_URL"):
        environ["SITE_URL"] = f"http://{host}:{port}"
    return environ["SITE_URL"].rstrip("/")


class Command(BaseCommand):
    help = (
        "Serve Relay: gunicorn (threads, deep listen backlog; settings in config/gunicorn_conf.py) "
        "and a django-q2 worker in the foreground. Ctrl-C stops both; if either stops on its own "
        "the other is stopped too and the command exits non-zero. For development with code "
        "reloading use `manage.py runserver` and `manage.py qcluster` instead: runserver is not "
        "for production (its listen backlog refuses bursts of alert senders)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        site_url = use_site_url(os.environ, host, port)
        children = [  # both inherit os.environ, SITE_URL included
            subprocess.Popen(self._gunicorn(host, port)),  # noqa: S603
            subprocess.Popen([sys.executable, "manage.py", "qcluster"]),  # noqa: S603
        ]
        self.stdout.write(f"Relay on http://{host}:{port}/ with a django-q2 worker. Ctrl-C stops.")
        if site_url != f"http://{host}:{port}":
            self.stdout.write(f"Links in pages and emails use SITE_URL: {site_url}/")
        self.stdout.flush()
        stopping = self._wait(children)
        codes = self._stop(children)
        if not stopping:
            raise SystemExit(f"A Relay process stopped unexpectedly (exit codes {codes}).")

    def _gunicorn(self, host, port):
        return [sys.executable, "-m", "gunicorn", "--config", "python:config.gunicorn_conf",
                "--bind", f"{host}:{port}"]

    def _wait(self, children) -> bool:
        """Until a signal (True) or a child stopping on its own (False)."""
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        return stopping

    def _stop(self, children) -> list[int]:
        # SIGINT: gunicorn's and qcluster's quick shutdown, what Ctrl-C in a terminal sends.
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return [child.returncode for child in children]
