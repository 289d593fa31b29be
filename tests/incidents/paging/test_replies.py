"""Replying "ack" or "resolve" to a page email: through `manage.py ingest_reply` and the
/oncall/email/reply/ endpoint, with replies shaped like real mail clients write them."""

import io
import tempfile

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from incidents.models import EntryKind, Status
from incidents.paging import escalation
from tests.conftest import declare, make_user
from tests.oncall.conftest import add_contact, make_policy

pytestmark = pytest.mark.django_db
SECRET = "inbound-secret-for-tests"


@pytest.fixture
def paged(smtp_server):
    ann = make_user("ann", "Responders")
    add_contact(ann)
    incident = declare(title="Checkout 502s", escalation_policy=make_policy({"users": [ann]}))
    escalation.tick()
    [page_email] = smtp_server
    return incident, ann, page_email


def _reply(page_email, first_line, *, sender="ann@example.test", to=None, threaded=False):
    """A multipart reply as Gmail writes one: text and HTML, the page quoted below."""
    to = to or str(page_email["Reply-To"])
    headers = [f"From: Ann <{sender}>", f"To: {to}",
               f"Subject: Re: {page_email['Subject']}", "MIME-Version: 1.0",
               'Content-Type: multipart/alternative; boundary="b1"']
    if threaded:
        headers += [f"In-Reply-To: {page_email['Message-ID']}",
                    f"References: {page_email['Message-ID']}"]
    quoted = "\n".join("> " + line for line in page_email.get_content().splitlines())
    body = (f"--b1\nContent-Type: text/plain; charset=UTF-8\n\n{first_line}\n\n"
            f"On Mon, Nov 23, 2026 at 17:00 Relay <relay@localhost> wrote:\n{quoted}\n"
            f"--b1\nContent-Type: text/html; charset=UTF-8\n\n<div>{first_line}</div>\n--b1--\n")
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def test_reply_ack_acknowledges_as_the_paged_person(paged):
    incident, ann, page_email = paged
    out = io.StringIO()
    _ingest(_reply(page_email, "ack"), out)
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    entry = incident.timeline.get(kind=EntryKind.STATUS)
    assert entry.actor == ann and entry.actor_label == "email reply"
    assert out.getvalue().strip() == f"{incident.reference} acknowledged by ann."


def _ingest(raw, out=None):
    """Through the management command, as a mail system's pipe transport would."""
    with tempfile.NamedTemporaryFile(suffix=".eml") as handle:
        handle.write(raw)
        handle.flush()
        call_command("ingest_reply", handle.name, stdout=out or io.StringIO())


def test_reply_resolve_matched_by_in_reply_to(paged):
    incident, _, page_email = paged
    _ingest(_reply(page_email, "Resolved, thanks", to="oncall@example.test", threaded=True))
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_reply_from_another_address_is_refused(paged):
    incident, _, page_email = paged
    with pytest.raises(CommandError, match="does not come from the address"):
        _ingest(_reply(page_email, "ack", sender="mallory@example.test"))
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_reply_with_forged_token_or_unknown_word_is_refused(paged):
    incident, _, page_email = paged
    forged = str(page_email["Reply-To"]).replace("@", "x@")
    with pytest.raises(CommandError, match="does not answer a page"):
        _ingest(_reply(page_email, "ack", to=forged))
    with pytest.raises(CommandError, match='Reply with "ack" or "resolve"'):
        _ingest(_reply(page_email, "Looking into it"))
    with pytest.raises(CommandError, match="empty"):
        _ingest(b"")
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_second_ack_reply_is_refused_as_used(paged):
    _, _, page_email = paged
    _ingest(_reply(page_email, "ack"))
    with pytest.raises(CommandError, match="already been used"):
        _ingest(_reply(page_email, "ACK!"))


def test_http_endpoint_needs_the_secret_and_acts(client, paged, settings):
    incident, _, page_email = paged
    settings.RELAY_INBOUND_EMAIL_SECRET = SECRET
    url = reverse("paging:email-reply")
    raw = _reply(page_email, "ack")
    assert client.post(url, raw, content_type="message/rfc822").status_code == 403
    assert client.get(url).status_code == 405
    response = client.post(url, raw, content_type="message/rfc822",
                           HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    assert response.status_code == 200
    assert response.json() == {"status": "acknowledge", "incident": incident.reference,
                               "message": f"{incident.reference} acknowledged by ann."}
    bad = client.post(url, b"Subject: hi\r\n\r\nack\r\n", content_type="message/rfc822",
                      HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    assert bad.status_code == 400 and "does not answer a page" in bad.json()["error"]


def test_http_endpoint_is_off_without_a_secret(client, paged, settings):
    settings.RELAY_INBOUND_EMAIL_SECRET = ""
    response = client.post(reverse("paging:email-reply"), b"x", content_type="message/rfc822",
                           HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403
