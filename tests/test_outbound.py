"""The guarded outbound client against real receivers on loopback. Loopback is allowed in the test
settings (the receivers live there); each refusal test empties the allow list first."""

import ipaddress
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import override_settings

from config import outbound
from config.env import env_networks
from tests.receivers import Receiver

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
no_allow_list = override_settings(RELAY_OUTBOUND_ALLOW=())


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _refusal(url: str) -> str:
    with pytest.raises(outbound.OutboundError) as caught:
        outbound.post_json(url, {"hello": "world"})
    return str(caught.value)


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Resolver for made-up names (DNS is outside the machine); other names resolve normally."""
    real = socket.getaddrinfo
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@no_allow_list
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]"])
def test_loopback_receiver_is_refused_and_never_hit(receiver, host):
    url = receiver.url.replace("127.0.0.1", host)
    assert _refusal(url) == "refused: private address"
    assert receiver.hits == []


@no_allow_list
@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://192.168.1.1/",
    "http://0.0.0.0:5432/", "http://[fe80::1]/", "http://[64:ff9b::a00:1]/",
    "http://[2002:7f00:1::]/", "http://2130706433/", "http://224.0.0.1/",
])
def test_private_link_local_and_disguised_addresses_are_refused(url):
    assert _refusal(url) == "refused: private address"


@no_allow_list
def test_hostname_resolving_to_loopback_is_refused(receiver, monkeypatch):
    _fake_dns(monkeypatch, {"evil.example": ["127.0.0.1"]})
    assert _refusal(f"http://evil.example:{receiver.port}/hook") == "refused: private address"
    assert receiver.hits == []


@no_allow_list
def test_one_private_answer_among_public_ones_refuses_the_host(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.example": ["93.184.215.14", "10.0.0.5"]})
    assert _refusal("https://mixed.example/hook") == "refused: private address"


@override_settings(RELAY_OUTBOUND_ALLOW=LOOPBACK)
def test_connects_to_the_checked_address_keeping_the_hostname(receiver, monkeypatch):
    # Rebinding: a second lookup would answer somewhere else; there must not be one.
    calls = _fake_dns(monkeypatch, {"hooks.example": ["127.0.0.1"]})
    response = outbound.post_json(f"http://hooks.example:{receiver.port}/hook?x=1", b"{}")
    assert (response.status, response.body) == (200, b"ok")
    assert calls == ["hooks.example"]
    [hit] = receiver.hits
    assert hit["headers"]["Host"] == f"hooks.example:{receiver.port}"
    assert hit["path"] == "/hook?x=1"


@override_settings(RELAY_OUTBOUND_ALLOW=LOOPBACK)
def test_allow_list_lets_a_loopback_receiver_through(receiver):
    assert outbound.post_json(receiver.url, {"a": 1}).status == 200
    assert receiver.hits[0]["body"] == b'{"a": 1}'


def test_ipv6_loopback_receiver_is_reached_when_allowed():
    server = Receiver(host="::1")
    try:
        assert outbound.post_json(server.url, {}).status == 200
        assert len(server.hits) == 1
    finally:
        server.close()


def test_redirect_to_another_loopback_receiver_is_not_followed(receiver):
    redirecting = Receiver(status=302, location=receiver.url)
    try:
        with pytest.raises(outbound.OutboundError) as caught:
            outbound.post_json(redirecting.url, {})
    finally:
        redirecting.close()
    assert str(caught.value) == "HTTP 302 (redirects are not followed)"
    assert caught.value.status == 302
    assert len(redirecting.hits) == 1 and receiver.hits == []


def test_closed_port_is_reported_without_the_sockets_words():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert _refusal(f"http://127.0.0.1:{port}/") == "connection failed"


def test_plain_http_server_spoken_to_over_https_is_a_tls_error(receiver):
    assert _refusal(receiver.url.replace("http:", "https:")) == "TLS error"


def test_silent_server_times_out_with_the_configured_timeout(settings):
    settings.RELAY_WEBHOOK_TIMEOUT = 1
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert _refusal(f"http://127.0.0.1:{silent.getsockname()[1]}/") == "timed out"


def test_error_status_is_http_code_only():
    server = Receiver(status=503, body=b"db at 10.0.0.5:5432 is down")
    try:
        assert _refusal(server.url) == "HTTP 503"
    finally:
        server.close()


def test_response_body_is_capped():
    server = Receiver(body=b"x" * (outbound.MAX_BODY * 2))
    try:
        assert len(outbound.post_json(server.url, {}).body) == outbound.MAX_BODY
    finally:
        server.close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/",
                                 "http:///nohost", "http://user:pw@example.com/"])
def test_only_plain_http_and_https_urls_are_sent_to(url):
    assert _refusal(url) == "refused: not an http(s) URL"


# --- Save-time validation -----------------------------------------------------------------------

@no_allow_list
@pytest.mark.parametrize("url", ["http://localhost:8080/", "http://127.0.0.1/", "http://[::1]/",
                                 "http://169.254.169.254/", "https://10.0.0.5/",
                                 "http://api.localhost/", "http://[::ffff:10.0.0.1]/"])
def test_validate_url_refuses_local_and_private_literals(url):
    with pytest.raises(ValidationError) as caught:
        outbound.validate_url(url)
    assert caught.value.messages == ["Relay does not send to private or local addresses."]


def test_validate_url_explains_scheme_and_credentials():
    with pytest.raises(ValidationError, match="http:// or https://"):
        outbound.validate_url("ftp://example.com/")
    with pytest.raises(ValidationError, match="user name and password"):
        outbound.validate_url("https://user:pw@example.com/")


def test_validate_url_accepts_public_hosts_and_allowed_ranges():
    outbound.validate_url("https://hooks.example.com/relay")
    outbound.validate_url("http://127.0.0.1:9000/")  # loopback is allowed in the test settings
    outbound.validate_url("http://localhost:9000/")


# --- RELAY_OUTBOUND_ALLOW -----------------------------------------------------------------------

def test_allow_list_is_parsed_into_networks(monkeypatch):
    monkeypatch.setenv("RELAY_OUTBOUND_ALLOW", " 10.20.0.0/16, fd00::/8 ,")
    assert env_networks("RELAY_OUTBOUND_ALLOW") == (ipaddress.ip_network("10.20.0.0/16"),
                                                    ipaddress.ip_network("fd00::/8"))
    monkeypatch.setenv("RELAY_OUTBOUND_ALLOW", "")
    assert env_networks("RELAY_OUTBOUND_ALLOW") == ()


@pytest.mark.parametrize("junk", ["10.0.0.1/8", "localhost", "10.0.0.0/33"])
def test_junk_allow_list_stops_start_up(monkeypatch, junk):
    monkeypatch.setenv("RELAY_OUTBOUND_ALLOW", f"192.168.0.0/16,{junk}")
    with pytest.raises(ImproperlyConfigured, match="not a network in CIDR form"):
        env_networks("RELAY_OUTBOUND_ALLOW")
