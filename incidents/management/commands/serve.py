import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run the web server and a django-q2 worker together in the foreground; Ctrl-C stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        manage = [sys.executable, "manage.py"]
        children = [
            subprocess.Popen([*manage, "runserver", "--noreload", f"{host}:{port}"]),  # noqa: S603
            subprocess.Popen([*manage, "qcluster"]),  # noqa: S603
        ]
        self.stdout.write(f"Relay on http://{host}:{port}/ with a django-q2 worker. Ctrl-C stops.")
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # If either child dies on its own, take the other one down too.
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        codes = [child.returncode for child in children]
        if not stopping and any(codes):
            raise SystemExit(f"A Relay process stopped unexpectedly (exit codes {codes}).")
