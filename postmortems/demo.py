"""Demo data of post-mortems and insights (seed_demo calls seed()).

Twelve weeks of resolved incidents, with the alerts and pages they caused, so the insights page
has something to show; and the post-mortem of the demo's resolved card-payments incident,
drafted, partly written and with action items (one overdue)."""

import random
from datetime import timedelta

from django.utils import timezone

from incidents import services
from incidents.models import Alert, Incident, Integration, Page, PagePurpose, Status
from postmortems import drafting
from postmortems import services as postmortems
from postmortems.items import services as items
from postmortems.models import ItemKind, ItemStatus, Postmortem, Priority, Verdict

HISTORY_MARK = "(past)"
HISTORY = [  # title, service slugs, severity weight
    ("Checkout latency above SLO", ["checkout-api"]),
    ("Card processor timeouts", ["payment-gateway"]),
    ("Replication lag on the primary", ["postgres-primary"]),
    ("Search index stale", ["search"]),
    ("Login errors for SSO customers", ["auth"]),
    ("Checkout 5xx after deploy", ["checkout-api", "postgres-primary"]),
]
WEEKS = 12


def seed(users, teams, services_by_slug, tiers):
    if not Incident.objects.filter(title__endswith=HISTORY_MARK).exists():
        _history(users, services_by_slug, tiers)
        _published(users)
    _gateway_postmortem(users)


def _history(users, svc, tiers):
    """About three incidents a week for twelve weeks: declared in the past, acknowledged,
    mitigated and resolved, with their real times set by milestone corrections (on the record,
    as a commander would after the fact)."""
    rng = random.Random(13)
    cmd, resp = users["commander"], users["responder"]
    now = timezone.now()
    for index in range(WEEKS * 3):
        title, slugs = HISTORY[index % len(HISTORY)]
        severity = rng.choices(["P1", "P2", "P3", "P4"], [1, 3, 5, 3])[0]
        started = now - timedelta(days=WEEKS * 7 - index * 7 / 3, hours=rng.randint(0, 23))
        incident = services.declare(
            title=f"{title} {HISTORY_MARK}", severity=severity, by=cmd, commander=cmd,
            services=[svc[s] for s in slugs], started_at=started,
            customer_tiers=[tiers["enterprise"]] if severity in ("P1", "P2") else [])
        services.acknowledge(incident, by=resp)
        services.transition(incident, to=Status.MONITORING, by=resp)
        services.transition(incident, to=Status.RESOLVED, by=cmd)
        detected = started + timedelta(minutes=rng.randint(0, 5))
        acknowledged = detected + timedelta(minutes=rng.randint(1, 25))
        mitigated = acknowledged + timedelta(minutes=rng.randint(10, 180))
        resolved = mitigated + timedelta(minutes=rng.randint(5, 240))
        services.correct_milestones(
            incident, by=cmd, note="Times from the monitoring graphs.", detected_at=detected,
            acknowledged_at=acknowledged, mitigated_at=mitigated, resolved_at=resolved)
        # Alerts from the integrations seed_demo made (whose keys it showed), where there is one.
        integration = Integration.objects.filter(service=svc[slugs[0]]).order_by("id").first()
        if integration is not None:
            Alert.objects.create(
                integration=integration, service=svc[slugs[0]], incident=incident,
                dedup_key=f"demo-{index}", summary=title, status="resolved",
                count=rng.randint(1, 40), first_seen=started, last_seen=mitigated,
                resolved_at=mitigated, processed=True)
        for person in (resp, cmd)[:rng.randint(1, 2)]:
            page = Page.objects.create(
                incident=incident, purpose=PagePurpose.PAGE, step=0, round=0, user=person,
                channel="email", address=person.email, reason=f"demo-page:{index}",
                status="delivered", due_at=started, sent_at=started, finished_at=started)
            Page.objects.filter(pk=page.pk).update(created_at=started)


def _published(users):
    """The four most recent serious incidents of the history: post-mortems written, reviewed and
    published, their action items mostly done (what insights counts)."""
    cmd, resp = users["commander"], users["responder"]
    recent = (Postmortem.objects.filter(incident__title__endswith=HISTORY_MARK,
                                        incident__severity__in=["P1", "P2"])
              .order_by("-incident__started_at")[:4])
    for number, postmortem in enumerate(recent):
        if postmortem.draft_due_at:
            drafting.draft_due(postmortem.pk, timezone.now())
        else:
            drafting.redraft(postmortem, by=cmd)
        postmortem.refresh_from_db()
        postmortem = postmortems.edit(
            postmortem, by=cmd, version=postmortem.version,
            contributing_factors="A configuration change reached every region at once.",
            learnings="Stage configuration changes like code.")
        for title, kind, done in (("Alert on the error budget burn rate", ItemKind.DETECT,
                                   True),
                                  ("Roll configuration out region by region", ItemKind.PREVENT,
                                   number % 2 == 0)):
            item = items.create(postmortem, by=cmd, title=title, owner=resp, kind=kind,
                                priority=Priority.HIGH)
            if done:
                items.set_status(item, by=resp, status=ItemStatus.DONE)
        postmortems.submit(postmortem, by=cmd, reviewers=[resp])
        postmortems.review(postmortem, by=resp, verdict=Verdict.APPROVED)
        postmortems.publish(postmortem, by=cmd)


def _gateway_postmortem(users):
    """The demo's resolved card-payments incident gets its post-mortem drafted and started."""
    incident = Incident.objects.filter(title="Card payments declined at one processor").first()
    if incident is None:
        return
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None or postmortem.facts:
        return
    cmd, resp = users["commander"], users["responder"]
    drafting.draft_due(postmortem.pk, timezone.now())
    postmortem.refresh_from_db()
    postmortem = postmortems.edit(
        postmortem, by=cmd, version=postmortem.version,
        contributing_factors="Processor A rotated its TLS certificate to a chain our client "
                             "did not trust. Our health check only tested TCP, so traffic kept "
                             "flowing to a processor that declined every card.",
        went_well="Failover to processor B took four minutes once we saw the declines.",
        went_badly="Nobody was paged for 20 minutes: declines are HTTP 200 with an error "
                   "body, and we alert only on 5xx.",
        got_lucky="It happened on a Sunday morning, our quietest hour.")
    items.create(postmortem, by=cmd, title="Alert on the card decline rate, not only on 5xx",
                 owner=resp, kind=ItemKind.DETECT, priority=Priority.HIGH)
    items.create(postmortem, by=cmd, title="Health-check processors with a real test card",
                 owner=cmd, kind=ItemKind.MITIGATE, priority=Priority.MEDIUM,
                 ticket_url="https://tracker.example.com/PAY-412")
    late = items.create(postmortem, by=cmd, title="Runbook: switching card processors",
                        owner=resp, kind=ItemKind.PROCESS, priority=Priority.LOW)
    # Two days late already: what an overdue item looks like.
    late_by = timezone.localdate() - timedelta(days=2)
    type(late).objects.filter(pk=late.pk).update(due_on=late_by, next_reminder_at=None)
