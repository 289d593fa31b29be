"""Exports of a post-mortem: the Markdown download and the printable page."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from postmortems import services
from tests.conftest import declare, make_user
from tests.postmortems.test_review import approve_all, resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(incident, commander):
    return resolve(incident, commander)


def test_markdown_download_is_the_whole_document(client, postmortem, commander, auditor):
    services.edit(postmortem, by=commander, version=1, learnings="Alert *before* expiry.")
    client.force_login(auditor)
    response = client.get(reverse("postmortems:markdown", args=[postmortem.incident_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="INC-{postmortem.incident_id}-postmortem.md"')
    text = response.content.decode()
    assert text.startswith(f"# Post-mortem: INC-{postmortem.incident_id} Checkout returns 502\n")
    assert "*Full post-mortem · Draft · revision 1*" in text
    assert "## Key times" in text and "## Learnings\n\nAlert *before* expiry.\n" in text
    assert "## Action items\n\n*None yet.*" in text


def test_markdown_escapes_the_record_text(client, commander, service):
    incident = declare(by=commander, title="[click](javascript:alert(1)) # down",
                       services=[service])
    postmortem = resolve(incident, commander)
    client.force_login(commander)
    text = client.get(reverse("postmortems:markdown", args=[postmortem.incident_id])
                      ).content.decode()
    assert r"\[click\]\(javascript:alert\(1\)\) \# down" in text


def test_markdown_of_a_published_revision_stays_as_published(client, postmortem, commander):
    reviewer = make_user("reviewer", "Responders")
    services.edit(postmortem, by=commander, version=1, learnings="First.")
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    approve_all(postmortem, reviewer)
    services.publish(postmortem, by=commander)
    services.correct(postmortem, by=commander, reason="Typo.")
    postmortem.refresh_from_db()
    services.edit(postmortem, by=commander, version=postmortem.version, learnings="Second.")
    client.force_login(commander)
    path = reverse("postmortems:markdown", args=[postmortem.incident_id])
    assert "Second." in client.get(path).content.decode()
    old = client.get(path + "?revision=1").content.decode()
    assert "First." in old and "Second." not in old and "· Published · revision 1" in old
    assert client.get(path + "?revision=2").status_code == 404
    assert client.get(path + "?revision=-1").status_code == 404


def test_print_page_has_the_print_stylesheet_and_page_breaks(client, postmortem, commander):
    client.force_login(commander)
    response = client.get(reverse("postmortems:print", args=[postmortem.incident_id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '/static/relay.css' in html
    assert '<section class="pm-part pm-page-break"><h2>What was tried</h2>' in html
    assert '<section class="pm-part pm-page-break"><h2>Action items</h2>' in html
    assert '<section class="pm-part"><h2>Key times</h2>' in html
    assert "Checkout returns 502" in html


def test_the_stylesheet_prints_the_document_only():
    with open(finders.find("relay.css")) as file:
        css = file.read()
    printing = css[css.index("/* Post-mortems"):]
    printing = printing[printing.index("@media print"):]
    assert ".topbar, nav, form, .no-print" in printing and "display: none" in printing
    assert ".pm-page-break { break-before: page;" in printing


def test_exports_need_login_and_sight(client, restricted_incident, commander, responder):
    postmortem = resolve(restricted_incident, commander)
    for name in ("markdown", "print"):
        path = reverse(f"postmortems:{name}", args=[postmortem.incident_id])
        assert client.get(path).status_code == 302
        client.force_login(responder)
        assert client.get(path).status_code == 404
        client.logout()
