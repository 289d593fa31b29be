"""The history feeds, read by feedparser as feed readers read them."""

import calendar

import feedparser
import pytest
from django.conf import settings
from django.urls import reverse

from comms.status import cache
from tests.comms.status.conftest import publish

# The scripted history, and no rendered bytes left in the default cache by an earlier test.
from tests.comms.status.test_v2 import fresh_shared_cache, history  # noqa: F401

FEEDS = {"atom": ("/status/history.atom", "application/atom+xml; charset=utf-8", "atom10"),
         "rss": ("/status/history.rss", "application/rss+xml; charset=utf-8", "rss20")}


def read(client, kind):
    path, content_type, version = FEEDS[kind]
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    return response, parsed


def seconds(when) -> int:
    return int(when.timestamp())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(FEEDS))
def test_feed_has_an_entry_per_incident_and_begun_maintenance(client, history, kind):  # noqa: F811
    _, parsed = read(client, kind)
    assert reverse(f"status:history-{kind}") == FEEDS[kind][0]
    assert parsed.feed.title == "Relay status - Incident History"
    assert parsed.feed.link == settings.SITE_URL + "/status/"
    titles = [entry.title for entry in parsed.entries]
    # Last changed first; the upcoming maintenance has not begun, the restricted one is hidden.
    # (The maintenance rows were written last, so they changed last.)
    assert titles == ["Old migration", "Network work", "Slow receipts", "Checkout errors"]
    entries = {entry.title: entry for entry in parsed.entries}
    shown = history["open"].public_incident
    checkout = entries["Checkout errors"]
    link = f"{settings.SITE_URL}/status/incidents/{shown.code}/"
    assert checkout.link == link and checkout.id == link
    assert entries["Network work"].link == (
        f"{settings.SITE_URL}/status/maintenances/{history['active'].code}/")
    last = history["open"].customer_messages.order_by("-published_at").first().published_at
    stamp = checkout.updated_parsed if kind == "atom" else checkout.published_parsed
    expected = last if kind == "atom" else shown.first_published_at
    assert calendar.timegm(stamp) == seconds(expected)
    html = checkout.summary
    order = [html.index(words) for words in ("rolled back", "faulty release", "payments fail")]
    assert order == sorted(order), html  # newest first
    assert "<strong>Monitoring</strong>" in html and "rolled back;<br" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(FEEDS))
def test_a_body_with_markup_stays_text(client, commander, csm, incident, component, kind):
    publish(incident, csm, subject="Checkout <errors>",
            body='<script>alert("x")</script> & <img src=x onerror=alert(1)>')
    cache.clear_local()
    response, parsed = read(client, kind)
    assert b"<script" not in response.content and b"<img" not in response.content
    [entry] = parsed.entries
    assert entry.title == "Checkout <errors>"
    # The reader's HTML shows the words, escaped: no element came from the body.
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in entry.summary
    assert "<script" not in entry.summary and "<img" not in entry.summary


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(FEEDS))
def test_an_empty_page_gives_a_valid_empty_feed(client, kind):
    _, parsed = read(client, kind)
    assert parsed.entries == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(FEEDS))
def test_feed_is_cached_conditional_and_read_only(client, history, kind,  # noqa: F811
                                                  django_assert_num_queries):
    path = FEEDS[kind][0]
    first = client.get(path)
    with django_assert_num_queries(0):
        warm = client.get(path)
    assert warm.content == first.content
    again = client.get(path, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""
    head = client.head(path)
    assert head.status_code == 200 and head.content == b"" and head["ETag"] == first["ETag"]
    assert client.post(path).status_code == 405
