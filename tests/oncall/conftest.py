"""On-call factories (schedules with layers) and real receivers on loopback (SMTP, HTTP)."""

import json
import socket
import threading
from datetime import date, time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from oncall.models import (
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Layer,
    LayerMember,
    Schedule,
)


def make_schedule(name="Checkout primary", tz="Europe/Berlin", team=None) -> Schedule:
    return Schedule.objects.create(name=name, time_zone=tz, team=team)


def add_layer(schedule, *people, name="Primary", rank=0, start=date(2026, 1, 5),
              handoff=time(9), unit="weeks", length=1, **restriction) -> Layer:
    layer = Layer.objects.create(schedule=schedule, name=name, rank=rank, start_date=start,
                                 handoff_time=handoff, turn_unit=unit, turn_length=length,
                                 **restriction)
    for position, user in enumerate(people):
        LayerMember.objects.create(layer=layer, user=user, position=position)
    return layer


# --- Real receivers on loopback: an SMTP server and an HTTP webhook endpoint ------------------



class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """aiosmtpd on a free loopback port; Django's SMTP backend talks to it for real."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield inbox.messages
    controller.stop()


class Receiver:
    def __init__(self):
        self.requests = []
        self.status = 200
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def http_receiver():
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def make_policy(*steps, name="Checkout", repeat=0, ack_timeout=None):
    """Each step: a dict with users / schedules / teams lists and delay (minutes)."""
    policy = EscalationPolicy.objects.create(name=name, repeat=repeat,
                                             ack_timeout_minutes=ack_timeout)
    for position, spec in enumerate(steps):
        step = EscalationStep.objects.create(policy=policy, position=position,
                                             delay_minutes=spec.get("delay", 5))
        step.users.set(spec.get("users", []))
        step.schedules.set(spec.get("schedules", []))
        step.teams.set(spec.get("teams", []))
    return policy


def add_contact(user, kind="email", address=None) -> ContactMethod:
    address = address or (user.email if kind == "email" else "")
    return ContactMethod.objects.create(user=user, kind=kind, address=address)
