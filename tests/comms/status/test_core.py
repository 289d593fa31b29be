"""The status page's core: what it shows, components following incidents, the cache."""

import threading
import time

import pytest
from django.db import connection, transaction

from comms.models import ComponentChange, ComponentStatus, Phase, PublicIncident
from comms.status import cache, components, public
from incidents import services
from incidents.models import EntryKind, Severity, Status
from tests.comms.status.conftest import publish
from tests.conftest import declare


@pytest.mark.django_db(transaction=True)
def test_component_follows_worst_open_incident_and_records_it(commander, service, component,
                                                              other_component):
    first = declare(by=commander, severity=Severity.P3, services=[service])
    component.refresh_from_db()
    assert component.status == ComponentStatus.DEGRADED
    second = declare(by=commander, severity=Severity.P1, services=[service])
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAJOR
    entry = second.timeline.filter(kind=EntryKind.STATUS_PAGE).get()
    assert "Checkout is now major outage" in entry.note
    services.transition(second, to=Status.RESOLVED, by=commander)
    component.refresh_from_db()
    assert component.status == ComponentStatus.DEGRADED
    services.transition(first, to=Status.RESOLVED, by=commander)
    component.refresh_from_db()
    assert component.status == ComponentStatus.OPERATIONAL
    other_component.refresh_from_db()
    assert other_component.status == ComponentStatus.OPERATIONAL
    history = list(ComponentChange.objects.filter(component=component)
                   .values_list("new_status", "incident_id"))
    assert history == [(ComponentStatus.DEGRADED, first.pk), (ComponentStatus.MAJOR, second.pk),
                       (ComponentStatus.DEGRADED, second.pk),
                       (ComponentStatus.OPERATIONAL, first.pk)]


@pytest.mark.django_db(transaction=True)
def test_restricted_incident_never_moves_a_component(commander, service, component):
    declare(by=commander, severity=Severity.P1, services=[service], restricted=True)
    component.refresh_from_db()
    assert component.status == ComponentStatus.OPERATIONAL
    assert not ComponentChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_hand_set_status_holds_until_an_incident_changes(commander, csm, service, component):
    component.follows_incidents = True
    components.set_by_hand(component, ComponentStatus.PARTIAL, by=csm, note="Card payments slow")
    component.refresh_from_db()
    assert component.status == ComponentStatus.PARTIAL
    change = ComponentChange.objects.get()
    assert (change.by, change.note) == (csm, "Card payments slow")
    declare(by=commander, severity=Severity.P1, services=[service])
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAJOR


@pytest.mark.django_db(transaction=True)
def test_incident_appears_only_once_a_status_page_message_is_published(commander, csm, incident,
                                                                     component):
    assert public.active_incidents() == []
    publish(incident, csm, subject="Payments are failing", body="We are looking into it.")
    shown = public.active_incidents()
    assert [i.name for i in shown] == ["Payments are failing"]
    assert shown[0].updates[0].body == "We are looking into it."
    assert shown[0].status == Phase.INVESTIGATING
    assert shown[0].impact == "major"
    assert [c.name for c in shown[0].components] == ["Checkout"]
    assert PublicIncident.objects.get().incident == incident
    # The incident's own title is internal text: never shown.
    assert incident.title not in repr(shown)
    overall = public.overall(public.components(), shown)
    assert overall.indicator == "major"


@pytest.mark.django_db(transaction=True)
def test_restricting_a_shown_incident_hides_it(commander, csm, incident, component):
    publish(incident, csm)
    services.set_restricted(incident, restricted=True, by=commander)
    assert public.active_incidents() == []
    assert public.recent_incidents() == []


@pytest.mark.django_db(transaction=True)
def test_warm_cache_runs_no_query_and_a_publish_invalidates(commander, csm, incident, component,
                                                            django_assert_num_queries, rf):
    renders = []

    def render():
        renders.append(1)
        return str([i.name for i in public.active_incidents()]).encode(), "text/plain"

    first = cache.cached(rf.get("/status/"), "test", render)
    with django_assert_num_queries(0):
        again = cache.cached(rf.get("/status/"), "test", render)
    assert again.content == first.content == b"[]"
    conditional = cache.cached(rf.get("/status/", HTTP_IF_NONE_MATCH=first["ETag"]), "test",
                               render)
    assert conditional.status_code == 304 and conditional.content == b""
    publish(incident, csm, subject="Payments are failing")
    after = cache.cached(rf.get("/status/"), "test", render)
    assert after.content == b"['Payments are failing']"
    assert after["ETag"] != first["ETag"]
    assert len(renders) == 2


@pytest.mark.django_db(transaction=True)
def test_an_incident_declared_while_another_commits_sees_it(commander, service, component):
    """The P1 is declared first and commits a moment later; the P3 declared meanwhile must not
    put the component back to degraded on top of the P1's major outage."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    first_recorded, errors = threading.Event(), []

    def p1():
        try:
            with transaction.atomic():
                declare(by=commander, severity=Severity.P1, services=[service])
                first_recorded.set()
                time.sleep(0.5)  # still uncommitted while the P3 is declared
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(error)
        finally:
            first_recorded.set()
            connection.close()

    def p3():
        first_recorded.wait()
        try:
            declare(by=commander, severity=Severity.P3, services=[service])
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=p1), threading.Thread(target=p3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAJOR
    assert ComponentChange.objects.filter(component=component).last().new_status == \
        ComponentStatus.MAJOR


@pytest.mark.django_db
def test_page_stays_up_when_the_shared_cache_is_unreachable(settings, rf, caplog):
    """Redis down during an outage: the status page renders from the database instead of
    failing, every few seconds at most."""
    settings.CACHES = {**settings.CACHES, "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    try:  # (the settings fixture gives the cache handler these settings and back)
        assert cache._shared_cache()
        cache.clear_local()
        renders = []

        def render():
            renders.append(1)
            return b"up", "text/plain"

        response = cache.cached(rf.get("/status/"), "down", render)
        assert (response.status_code, response.content, len(renders)) == (200, b"up", 1)
        assert "shared cache is unreachable" in caplog.text
        with transaction.atomic():
            cache.invalidate()  # a publication meanwhile must not fail either
    finally:
        cache.clear_local()
