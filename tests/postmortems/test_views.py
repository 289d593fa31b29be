"""The post-mortem's incident panel, page, forms, revisions and list: content, permissions,
visibility, errors as 400 with the message beside the field, constant query counts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, Severity
from postmortems import services
from postmortems.models import ActionItem, Postmortem, Revision, State, Verdict
from tests.conftest import declare, make_user
from tests.postmortems.test_review import approve_all, resolve

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = ["\x00", "a\x00b", "x" * 30_000, "9" * 400, "-1", "", " ", "<script>x</script>",
           "1e400", "NaN", "日本 😀"]


@pytest.fixture
def reviewer(db):
    return make_user("reviewer", "Responders")


@pytest.fixture
def postmortem(incident, commander):
    return resolve(incident, commander)


def url(name, postmortem, *args):
    return reverse(f"postmortems:{name}", args=[postmortem.incident_id, *args])


def published(postmortem, commander, reviewer):
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    approve_all(postmortem, reviewer)
    return services.publish(postmortem, by=commander)


# --- Panel --------------------------------------------------------------------------------------

def test_panel_offers_to_start_one_to_writers_only(client, incident, commander, auditor,
                                                   django_assert_max_num_queries):
    client.force_login(commander)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("postmortems:incident-panel", args=[incident.pk]),
                          **HTMX).content.decode()
    assert 'id="postmortem-panel"' in html and "<html" not in html
    assert 'id="start-postmortem"' in html
    client.force_login(auditor)
    html = client.get(reverse("postmortems:incident-panel", args=[incident.pk]),
                      **HTMX).content.decode()
    assert "No post-mortem yet." in html and "start-postmortem" not in html


def test_panel_shows_state_level_reviewers_and_follow_up(client, postmortem, commander,
                                                         reviewer):
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    ActionItem.objects.create(postmortem=postmortem, incident=postmortem.incident,
                              title="Alert on expiry", due_on=timezone.localdate() - timedelta(1))
    client.force_login(commander)
    html = client.get(url("incident-panel", postmortem), **HTMX).content.decode()
    assert '>In review</span>' in html and ">Full post-mortem</span>" in html
    assert "reviewer: <b class=\"verdict-pending\">Review requested</b>" in html
    assert "Action items: 1 open of 1" in html and "1 overdue" in html
    assert url("page", postmortem) in html
    assert 'id="level-button"' in html


def test_panel_without_htmx_is_a_page(client, postmortem, commander):
    client.force_login(commander)
    html = client.get(url("incident-panel", postmortem)).content.decode()
    assert "<html" in html and 'id="postmortem-panel"' in html


def test_start_creates_and_drafts_it(client, incident, commander):
    client.force_login(commander)
    response = client.post(reverse("postmortems:start", args=[incident.pk]), **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "relay:changed"
    postmortem = Postmortem.objects.get(incident=incident)
    assert postmortem.facts["incident"]["number"] == incident.pk
    assert 'id="postmortem-state"' in response.content.decode()


def test_start_needs_a_writer_a_post_and_sight(client, incident, restricted_incident, auditor,
                                               responder, commander):
    client.force_login(auditor)
    assert client.post(reverse("postmortems:start", args=[incident.pk])).status_code == 403
    client.force_login(commander)
    assert client.get(reverse("postmortems:start", args=[incident.pk])).status_code == 405
    client.force_login(responder)
    assert client.post(reverse("postmortems:start",
                               args=[restricted_incident.pk])).status_code == 404
    assert not Postmortem.objects.exists()


def test_level_from_the_panel_answers_the_panel(client, postmortem, commander):
    client.force_login(commander)
    response = client.post(url("level", postmortem), {"level": "summary"}, **HTMX)
    assert response.status_code == 200
    assert ">Lightweight summary</span>" in response.content.decode()
    response = client.post(url("level", postmortem), {"level": "huge"}, **HTMX)
    assert response.status_code == 400
    assert "huge is not one of the available choices" in response.content.decode()


# --- Page ---------------------------------------------------------------------------------------

def test_page_shows_the_document_escaped_and_the_editor(client, commander, service):
    incident = declare(by=commander, title="<img src=x onerror=alert(1)> down",
                       services=[service])
    postmortem = resolve(incident, commander)
    services.edit(postmortem, by=commander, version=1,
                  went_well="**Failover** worked <script>alert(1)</script>")
    client.force_login(commander)
    html = client.get(url("page", postmortem)).content.decode()
    assert "<strong>Failover</strong> worked" in html
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    assert "Key times" in html and "Estimated cost of the response" in html
    assert 'id="sections-form"' in html and 'name="version" value="2"' in html
    assert "The root cause and the other conditions" in html  # the prompt as help text
    assert 'id="submit-form"' in html and 'id="redraft-button"' in html
    assert 'id="action-items"' in html


def test_readers_see_the_document_without_forms(client, postmortem, auditor, csm):
    for user in (auditor, csm):
        client.force_login(user)
        html = client.get(url("page", postmortem)).content.decode()
        assert "Key times" in html
        assert "sections-form" not in html and "submit-form" not in html


def test_restricted_post_mortem_is_a_404_for_those_who_cannot_see_it(
        client, restricted_incident, commander, responder, outsider):
    postmortem = resolve(restricted_incident, commander)
    for user in (responder, outsider):
        client.force_login(user)
        for name in ("page", "print", "markdown", "incident-panel"):
            assert client.get(url(name, postmortem)).status_code == 404, name
        assert client.post(url("edit", postmortem), {"version": 1}).status_code == 404
    client.force_login(commander)
    assert client.get(url("page", postmortem)).status_code == 200


def test_page_needs_login_and_a_post_mortem(client, incident, commander):
    assert client.get(reverse("postmortems:page", args=[incident.pk])).status_code == 302
    client.force_login(commander)
    assert client.get(reverse("postmortems:page", args=[incident.pk])).status_code == 404


def test_edit_saves_and_redirects(client, postmortem, commander):
    client.force_login(commander)
    response = client.post(url("edit", postmortem), {
        "version": 1, "summary": postmortem.summary, "learnings": "Expiry needs an alert.",
        "contributing_factors": "", "went_well": "", "went_badly": "", "got_lucky": ""})
    assert response.status_code == 302 and response["Location"].endswith("#editor")
    postmortem.refresh_from_db()
    assert postmortem.learnings == "Expiry needs an alert." and postmortem.version == 2


def test_stale_save_shows_the_other_persons_text_and_yours(client, postmortem, commander,
                                                           responder):
    services.edit(postmortem, by=responder, version=1, went_badly="Theirs: paging was slow.")
    client.force_login(commander)
    response = client.post(url("edit", postmortem), {
        "version": 1, "went_badly": "Mine: the runbook was stale.", "summary": postmortem.summary})
    html = response.content.decode()
    assert response.status_code == 400
    assert "responder saved this post-mortem" in html
    assert "Theirs: paging was slow.</textarea>" in html
    assert "Your text (not saved)" in html and "Mine: the runbook was stale." in html
    assert 'name="version" value="2"' in html
    postmortem.refresh_from_db()
    assert postmortem.went_badly == "Theirs: paging was slow."


def test_edit_needs_a_writer(client, postmortem, auditor):
    client.force_login(auditor)
    assert client.post(url("edit", postmortem), {"version": 1,
                                                 "learnings": "x"}).status_code == 403
    assert client.get(url("edit", postmortem)).status_code == 405


def test_review_flow_through_the_page(client, postmortem, commander, reviewer, responder):
    client.force_login(commander)
    response = client.post(url("submit", postmortem), {"reviewers": [reviewer.pk]})
    assert response.status_code == 302
    client.force_login(responder)
    assert client.post(url("review", postmortem), {"verdict": "approved"}).status_code == 403
    client.force_login(reviewer)
    html = client.get(url("page", postmortem)).content.decode()
    assert 'id="verdict-form"' in html
    response = client.post(url("review", postmortem), {"verdict": "changes", "comment": ""})
    assert response.status_code == 400 and "Say what should change." in response.content.decode()
    assert client.post(url("review", postmortem), {"verdict": "approved"}).status_code == 302
    client.force_login(commander)
    html = client.get(url("page", postmortem)).content.decode()
    assert 'id="publish-button"' in html
    assert client.post(url("publish", postmortem)).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.state == State.PUBLISHED
    html = client.get(url("page", postmortem)).content.decode()
    assert 'id="read-only"' in html and "sections-form" not in html
    assert 'id="correct-button"' in html


def test_publish_too_early_is_a_400_with_the_reason(client, postmortem, commander, reviewer):
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    client.force_login(commander)
    response = client.post(url("publish", postmortem))
    assert response.status_code == 400
    assert "waiting for reviewer" in response.content.decode()
    assert not Revision.objects.exists()


def test_published_is_read_only_through_the_views(client, postmortem, commander, reviewer):
    published(postmortem, commander, reviewer)
    client.force_login(commander)
    response = client.post(url("edit", postmortem), {"version": 1, "learnings": "sneaky"})
    assert response.status_code == 400 and "read-only" in response.content.decode()
    assert client.post(url("redraft", postmortem)).status_code == 400
    postmortem.refresh_from_db()
    assert postmortem.learnings == ""


def test_correction_and_revision_diff_pages(client, postmortem, commander, reviewer):
    services.edit(postmortem, by=commander, version=1, learnings="First <b>words</b>.")
    published(postmortem, commander, reviewer)
    client.force_login(commander)
    response = client.post(url("correct", postmortem), {"reason": "Better words."})
    assert response.status_code == 302
    postmortem.refresh_from_db()
    services.edit(postmortem, by=commander, version=postmortem.version, learnings="Second.")
    published(postmortem, commander, reviewer)
    html = client.get(url("revision", postmortem, 2)).content.decode()
    assert 'class="diff-removed"' in html and "First &lt;b&gt;words&lt;/b&gt;." in html
    assert '<li class="diff-added">' in html and "Second." in html
    assert "Changes from revision 1" in html
    html = client.get(url("revision", postmortem, 1)).content.decode()
    assert "The first published revision." in html
    assert client.get(url("revision", postmortem, 3)).status_code == 404
    assert client.get(f"/incidents/{postmortem.incident_id}/postmortem/revisions/"
                      f"{'9' * 40}/").status_code == 404
    page = client.get(url("page", postmortem)).content.decode()
    assert url("revision", postmortem, 2) in page and "Better words." in page


def test_correct_needs_a_reason(client, postmortem, commander, reviewer):
    published(postmortem, commander, reviewer)
    client.force_login(commander)
    response = client.post(url("correct", postmortem), {"reason": "  "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_redraft_shows_newer_entries_then_none(client, postmortem, commander):
    incident_services.add_note(postmortem.incident, text="Vendor confirmed.", by=commander)
    client.force_login(commander)
    assert '1 newer entry' in client.get(url("page", postmortem)).content.decode()
    assert client.post(url("redraft", postmortem)).status_code == 302
    assert "Nothing newer since." in client.get(url("page", postmortem)).content.decode()


# --- The list -----------------------------------------------------------------------------------

def test_list_shows_visible_post_mortems_with_item_counts(
        client, commander, responder, service, restricted_incident,
        django_assert_max_num_queries):
    rows = [resolve(declare(by=commander, services=[service]), commander) for _ in range(3)]
    ActionItem.objects.create(postmortem=rows[0], incident=rows[0].incident, title="Old",
                              due_on=timezone.localdate() - timedelta(days=2))
    resolve(restricted_incident, commander)
    client.force_login(responder)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("postmortems:list")).content.decode()
    assert html.count('class="pm-row') == 3
    assert restricted_incident.title not in html
    assert "1 open of 1" in html and "1 overdue" in html
    client.force_login(commander)
    html = client.get(reverse("postmortems:list")).content.decode()
    assert html.count('class="pm-row') == 4 and restricted_incident.title in html


def test_list_query_count_does_not_grow(client, commander, service,
                                        django_assert_max_num_queries):
    for _ in range(30):
        declare(by=commander, services=[service], severity=Severity.P3)
    for incident in Incident.objects.all():
        Postmortem.objects.create(incident=incident)
    client.force_login(commander)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("postmortems:list")).content.decode()
    assert html.count('class="pm-row') == 25 and 'id="next-page"' in html
    with django_assert_max_num_queries(12):
        html = client.get(reverse("postmortems:list") + "?page=2").content.decode()
    assert html.count('class="pm-row') == 5


def test_list_filters_by_state(client, postmortem, commander, reviewer, service):
    other = resolve(declare(by=commander, services=[service]), commander)
    published(postmortem, commander, reviewer)
    client.force_login(commander)
    html = client.get(reverse("postmortems:list") + "?state=published").content.decode()
    assert html.count('class="pm-row') == 1 and postmortem.incident.title in html
    # Published with no open item: the incident's follow-up is complete.
    assert html.count("Follow-up complete") == 1
    html = client.get(reverse("postmortems:list") + "?state=draft").content.decode()
    assert html.count('class="pm-row') == 1 and other.incident.title in html
    assert "Follow-up complete" not in html
    html = client.get(reverse("postmortems:list") + "?state=%00junk&page=x").content.decode()
    assert html.count('class="pm-row') == 2


def test_list_says_when_no_post_mortem_is_planned(client, commander, service):
    quiet = resolve(declare(by=commander, services=[service], severity=Severity.P4), commander)
    assert quiet.level == "none"
    client.force_login(commander)
    html = client.get(reverse("postmortems:list")).content.decode()
    assert "Not planned" in html and "pm-state-draft" not in html


def test_list_is_empty_for_outsiders(client, postmortem, outsider):
    client.force_login(outsider)
    assert client.get(reverse("postmortems:list")).status_code == 403


# --- Hostile input ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_form_values_never_500(client, postmortem, commander, reviewer, value):
    client.force_login(commander)
    posts = [
        ("edit", {"version": value, "learnings": value}),
        ("edit", {"version": 1, "learnings": value, "summary": value}),
        ("level", {"level": value}),
        ("submit", {"reviewers": [value]}),
        ("correct", {"reason": value}),
        ("redraft", {"junk": value}),
    ]
    for name, data in posts:
        response = client.post(url(name, postmortem), data)
        assert response.status_code in (302, 400), (name, response.status_code)
    client.force_login(reviewer)
    for data in ({"verdict": value, "comment": value}, {"verdict": "changes", "comment": value}):
        assert client.post(url("review", postmortem), data).status_code in (302, 400, 403)
    for path in (f"{url('print', postmortem)}?revision={value}",
                 f"{url('markdown', postmortem)}?revision={value}"):
        assert client.get(path).status_code in (200, 404)
    postmortem.refresh_from_db()
    assert "\x00" not in postmortem.learnings


def test_hostile_review_verdict_is_a_400(client, postmortem, commander, reviewer):
    services.submit(postmortem, by=commander, reviewers=[reviewer])
    client.force_login(reviewer)
    response = client.post(url("review", postmortem), {"verdict": "approved",
                                                      "comment": "a\x00b"})
    assert response.status_code == 400
    assert postmortem.reviews.get().verdict == Verdict.PENDING
