"""Reminders of action items: some days before and on the due date at 09:00 in the working
hours' time zone, each once (also with two tickers racing), to the owner's contact methods through
the page outbox; never for finished items, and neutral for restricted incidents."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from config import timers
from incidents.models import Incident, Page, PagePurpose, Severity
from postmortems.items import reminders, services
from postmortems.models import ActionItem, ItemStatus, Postmortem
from tests.concurrency import race
from tests.conftest import declare
from tests.oncall.conftest import add_contact

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def paris(settings):
    settings.RELAY_WORKING_HOURS_TZ = "Europe/Paris"
    settings.RELAY_ACTION_ITEM_REMIND_DAYS = 3


@pytest.fixture
def postmortem(incident):
    return Postmortem.objects.create(incident=incident)


def _nine(day) -> datetime:
    return datetime.combine(day, time(9), PARIS)


def _create(postmortem, by, owner, days=10, title="Alert on 502 rate"):
    return services.create(postmortem, by=by, title=title, owner=owner,
                           due_on=timezone.localdate() + timedelta(days=days))


def _notices():
    return Page.objects.filter(purpose=PagePurpose.NOTICE).order_by("id")


def test_reminder_times_are_nine_in_the_working_time_zone():
    due = datetime(2026, 3, 31).date()  # after the switch to summer time (UTC+2)
    before, on = services.reminder_times(due)
    assert before == datetime(2026, 3, 28, 8, 0, tzinfo=ZoneInfo("UTC"))  # winter: UTC+1
    assert on == datetime(2026, 3, 31, 7, 0, tzinfo=ZoneInfo("UTC"))


def test_next_reminder_skips_the_early_one_when_it_is_already_past(postmortem, commander,
                                                                   responder):
    item = ActionItem(owner=responder, due_on=datetime(2026, 12, 10).date(), status="open")
    assert services.next_reminder(item, datetime(2026, 12, 1, tzinfo=PARIS)) == \
        _nine(datetime(2026, 12, 7).date())
    assert services.next_reminder(item, datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)) == \
        _nine(datetime(2026, 12, 10).date())
    assert services.next_reminder(item, datetime(2026, 12, 10, 9, 0, tzinfo=PARIS)) is None
    item.status = ItemStatus.DONE
    assert services.next_reminder(item, datetime(2026, 12, 1, tzinfo=PARIS)) is None


def test_an_item_due_soon_gets_only_the_due_day_reminder(postmortem, commander, responder):
    item = _create(postmortem, commander, responder, days=2)
    assert item.next_reminder_at == _nine(item.due_on)


def test_before_then_on_the_due_date_then_nothing(postmortem, commander, responder):
    add_contact(responder)
    item = _create(postmortem, commander, responder)
    before = _nine(item.due_on - timedelta(days=3))
    assert item.next_reminder_at == before
    assert reminders.due_items(before - timedelta(seconds=1)) == []
    assert reminders.remind(item.pk, before - timedelta(seconds=1)) is None
    assert reminders.due_items(before) == [item.pk]

    assert reminders.remind(item.pk, before) == "before"
    assert reminders.remind(item.pk, before) is None  # once
    item.refresh_from_db()
    assert (item.next_reminder_at, item.reminders_sent) == (_nine(item.due_on), 1)
    assert reminders.remind(item.pk, _nine(item.due_on)) == "due"
    item.refresh_from_db()
    assert (item.next_reminder_at, item.reminders_sent) == (None, 2)

    first, second = _notices()
    assert (first.user, first.channel, first.address) == (responder, "email",
                                                          responder.email)
    assert first.reason == f"action-item:{item.pk}:{item.due_on}:before"
    assert second.reason == f"action-item:{item.pk}:{item.due_on}:due"
    assert "Alert on 502 rate" in first.subject and "/action-items/" in first.body
    assert "due today" in second.subject


def test_a_late_early_reminder_is_the_due_days_one(postmortem, commander, responder):
    add_contact(responder)
    item = _create(postmortem, commander, responder)
    assert reminders.remind(item.pk, _nine(item.due_on) + timedelta(minutes=5)) == "due"
    item.refresh_from_db()
    assert item.next_reminder_at is None
    assert _notices().get().reason.endswith(":due")


def test_every_contact_method_of_the_owner_gets_the_notice(postmortem, commander, responder):
    add_contact(responder)
    add_contact(responder, kind="sms", address="+15555550100")
    item = _create(postmortem, commander, responder, days=2)
    reminders.remind(item.pk, item.next_reminder_at)
    assert sorted(_notices().values_list("channel", flat=True)) == ["email", "sms"]
    assert set(_notices().values_list("user", flat=True)) == {responder.pk}


def test_finished_items_never_remind(postmortem, commander, responder):
    add_contact(responder)
    item = _create(postmortem, commander, responder)
    due_at = item.next_reminder_at
    services.set_status(item, by=responder, status=ItemStatus.DONE)
    assert reminders.due_items(due_at + timedelta(days=30)) == []
    # Even a run racing with the finishing (due read before, run after) sends nothing.
    ActionItem.objects.filter(pk=item.pk).update(next_reminder_at=due_at)
    reminders.remind(item.pk, due_at)
    assert not _notices().exists()


def test_a_new_due_date_reminds_again(postmortem, commander, responder):
    add_contact(responder)
    item = _create(postmortem, commander, responder, days=2)
    reminders.remind(item.pk, item.next_reminder_at)
    item.refresh_from_db()
    later = item.due_on + timedelta(days=10)
    services.update(item, by=commander, version=item.version, due_on=later)
    item.refresh_from_db()
    assert (item.next_reminder_at, item.reminders_sent) == (_nine(later - timedelta(days=3)), 0)
    reminders.remind(item.pk, item.next_reminder_at)
    assert _notices().count() == 2


def test_restricted_incident_reminders_are_neutral(commander):
    incident = declare(by=commander, title="Suspicious admin logins", severity=Severity.P1,
                       restricted=True)
    add_contact(commander)
    item = _create(Postmortem.objects.create(incident=incident), commander, commander, days=2,
                   title="Rotate the leaked admin keys")
    reminders.remind(item.pk, item.next_reminder_at)
    notice = _notices().get()
    assert "Rotate" not in notice.subject + notice.body
    assert "Suspicious" not in notice.subject + notice.body
    assert incident.reference in notice.subject and "action item due today" in notice.subject


def test_an_owner_who_lost_sight_of_the_incident_is_not_reminded(postmortem, commander,
                                                                 responder):
    add_contact(responder)
    item = _create(postmortem, commander, responder, days=2)
    Incident.objects.filter(pk=postmortem.incident_id).update(restricted=True)
    assert reminders.remind(item.pk, item.next_reminder_at) == "due"
    assert not _notices().exists()  # a notice would have granted them access


@pytest.mark.django_db(transaction=True)
def test_two_racing_tickers_remind_once(commander, responder, service):
    if connection.vendor != "postgresql":
        pytest.skip("row locks race only on PostgreSQL; SQLite serialises every write")
    add_contact(responder)
    postmortem = Postmortem.objects.create(incident=declare(by=commander, services=[service]))
    item = _create(postmortem, commander, responder)
    results = race(lambda: reminders.remind(item.pk, item.next_reminder_at))
    assert sorted(results, key=str) == [None, "before"]
    assert _notices().count() == 1
    item.refresh_from_db()
    assert item.reminders_sent == 1


def test_the_source_is_registered():
    assert reminders.REMINDERS in timers.sources()
    assert reminders.REMINDERS.name == "action-item-reminders"
