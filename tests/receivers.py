"""Real receivers on loopback, shared by the whole suite: an SMTP server (aiosmtpd) and an HTTP
endpoint standing in for webhooks, chat and the SMS gateway. tests/conftest.py makes the two
fixtures available everywhere."""

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


class Received(list):
    """The received messages (a list, as before), plus `refuse`: recipient address → SMTP reply
    code (550 permanent, 451 temporary) the server answers that address's RCPT with, until the
    test removes it."""

    def __init__(self):
        super().__init__()
        self.refuse: dict[str, int] = {}


class _Inbox:
    def __init__(self):
        self.messages = Received()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        code = self.messages.refuse.get(address)
        if code:
            return f"{code} {'Mailbox unavailable' if code >= 500 else 'Try again later'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """aiosmtpd on a free loopback port; Django's SMTP backend talks to it for real. Yields the
    list of received messages; its `refuse` dict makes the server refuse recipients."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    yield inbox.messages
    controller.stop()


class Receiver:
    """A real HTTP server on loopback (IPv4 or IPv6), in a thread. Every request is kept in `hits`
    (path, headers, raw body) and, with its JSON payload, in `requests` as (path, payload). It
    answers the next status queued in `statuses`, else `status`, with `location` if set."""

    def __init__(self, status=200, location="", body=b"ok", host="127.0.0.1"):
        self.hits: list[dict] = []
        self.requests: list[tuple[str, object]] = []
        self.statuses: list[int] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                receiver.hits.append({"path": self.path, "headers": dict(self.headers),
                                      "body": raw})
                receiver.requests.append((self.path, _json_or_none(raw)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses
                                   else receiver.status)
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = _answer  # noqa: N815 — http.server's hook names

            def log_message(self, *args):
                pass

        server_class = ThreadingHTTPServer
        if ":" in host:
            server_class = type("V6Server", (ThreadingHTTPServer,),
                                {"address_family": socket.AF_INET6})
        self.server = server_class((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _json_or_none(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


@pytest.fixture
def http_receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()
