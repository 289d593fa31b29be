"""The one way Relay sends HTTP to an address someone typed in: outgoing webhooks, page webhooks,
Slack-style pages and the SMS/voice gateway.

Whoever can save such a URL could otherwise make the server POST to itself or its network (the
database port on loopback, cloud metadata at 169.254.169.254) and read the answers back from the
delivery log. So:

- only http and https, and no user:password@ in the URL (it never worked, and
  `http://127.0.0.1@example.com` style URLs exist to confuse whoever reads them);
- the host is resolved once and every address must be public, unless an operator allows its range
  with RELAY_OUTBOUND_ALLOW; the connection then goes to a checked address, so a second DNS
  answer (rebinding) cannot point it elsewhere, while Host, SNI and the certificate check keep
  using the hostname;
- redirects are not followed: a 3xx could lead anywhere;
- failures are a few fixed phrases (see the constants below), never the socket's words or the
  resolved address, because they end up in logs, the delivery log and the incident timeline.
"""

import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_BODY = 64 * 1024
REFUSED_PRIVATE = "refused: private address"
REFUSED_SCHEME = "refused: not an http(s) URL"
CONNECTION_FAILED = "connection failed"
TIMED_OUT = "timed out"
TLS_ERROR = "TLS error"
SAVE_ERROR = "Relay does not send to private or local addresses."
SAVE_SCHEME_ERROR = "Give an http:// or https:// URL."
SAVE_USERINFO_ERROR = "Leave the user name and password out of the URL."

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """A send that did not succeed; str() is one of the safe phrases above or "HTTP <code>"."""

    def __init__(self, phrase: str, status: int | None = None):
        super().__init__(phrase)
        self.status = status


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes  # at most MAX_BODY bytes


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA) hostname or IP literal, without brackets
    port: int
    path: str


# --- Which addresses may be reached -------------------------------------------------------------

def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside IPv4-mapped, 6to4 and NAT64 forms: it is where packets end up."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _allowed_by_operator(ip: IPAddress) -> bool:
    candidates = {ip, _unwrap(ip)}
    return any(candidate in network for network in settings.RELAY_OUTBOUND_ALLOW
               for candidate in candidates if candidate.version == network.version)


def is_refused(ip: IPAddress) -> bool:
    """True for addresses that are not on the public internet (and not allowed by an operator)."""
    if _allowed_by_operator(ip):
        return False
    inner = _unwrap(ip)
    return not inner.is_global or any((
        inner.is_private, inner.is_loopback, inner.is_link_local, inner.is_multicast,
        inner.is_reserved, inner.is_unspecified))


# --- URLs ---------------------------------------------------------------------------------------

def _parse(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise OutboundError(REFUSED_SCHEME) from None
    if parts.scheme not in ("http", "https") or not host or parts.username is not None:
        raise OutboundError(REFUSED_SCHEME)
    default_port = 443 if parts.scheme == "https" else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme, host, port or default_port, path)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def validate_url(url: str) -> None:
    """Save-time check for forms, the admin and model fields: refuses what is refused for sure
    without a DNS lookup. Sending checks again, after resolving (DNS can change after saving)."""
    try:
        if urlsplit(url).username is not None:
            raise ValidationError(SAVE_USERINFO_ERROR, code="outbound")
        target = _parse(url)
    except (ValueError, OutboundError):
        raise ValidationError(SAVE_SCHEME_ERROR, code="outbound") from None
    ip = _literal(target.host)
    local_name = target.host in _LOCAL_NAMES or target.host.endswith(".localhost")
    if (ip is not None and is_refused(ip)) or (local_name and not _local_name_allowed()):
        raise ValidationError(SAVE_ERROR, code="outbound")


def _local_name_allowed() -> bool:
    return not is_refused(ipaddress.ip_address("127.0.0.1"))


# --- Sending ------------------------------------------------------------------------------------

def _resolve(target: _Target) -> list[IPAddress]:
    """Every address of the host, all checked: one private answer refuses the lot."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundError(CONNECTION_FAILED) from None
    addresses = []
    for info in infos:
        ip = _literal(str(info[4][0]).split("%")[0])
        if ip is None or is_refused(ip):
            raise OutboundError(REFUSED_PRIVATE)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OutboundError(CONNECTION_FAILED)
    return addresses


class _Pinned:
    """Connects to the addresses checked by _resolve() instead of looking the host up again."""

    def __init__(self, host, port, addresses, **kwargs):
        super().__init__(host, port, **kwargs)
        self._addresses = addresses
        self._create_connection = self._connect_checked  # http.client's own hook

    def _connect_checked(self, address, timeout, source_address=None):
        last_error = None
        for ip in self._addresses:
            try:
                return socket.create_connection((str(ip), address[1]), timeout, source_address)
            except OSError as error:
                last_error = error
        raise last_error


class _PinnedHTTP(_Pinned, http.client.HTTPConnection):
    pass


class _PinnedHTTPS(_Pinned, http.client.HTTPSConnection):
    pass


def _connection(target: _Target, addresses: list[IPAddress], timeout: float):
    if target.scheme == "https":
        return _PinnedHTTPS(target.host, target.port, addresses, timeout=timeout,
                            context=ssl.create_default_context())
    return _PinnedHTTP(target.host, target.port, addresses, timeout=timeout)


def _exchange(connection, target: _Target, body: bytes, headers: dict) -> Response:
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        with connection.getresponse() as response:
            return Response(response.status, response.read(MAX_BODY))
    # Order matters: SSL errors and timeouts are OSErrors too.
    except ssl.SSLError:
        raise OutboundError(TLS_ERROR) from None
    except TimeoutError:
        raise OutboundError(TIMED_OUT) from None
    except (OSError, http.client.HTTPException):
        raise OutboundError(CONNECTION_FAILED) from None
    finally:
        connection.close()


def _checked(response: Response) -> Response:
    if 300 <= response.status < 400:
        raise OutboundError(f"HTTP {response.status} (redirects are not followed)",
                            response.status)
    if not 200 <= response.status < 300:
        raise OutboundError(f"HTTP {response.status}", response.status)
    return response


def post_json(url: str, payload: bytes | dict, headers: dict | None = None,
              timeout: float | None = None) -> Response:
    """POST JSON to a user-given URL under the rules above. Returns a 2xx response, or raises
    OutboundError (with .status set when the server answered)."""
    target = _parse(url)
    addresses = _resolve(target)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": "Relay/1",
                   "Connection": "close", **(headers or {})}
    timeout = timeout or settings.RELAY_WEBHOOK_TIMEOUT  # read now: override_settings works
    return _checked(_exchange(_connection(target, addresses, timeout), target, body, all_headers))
