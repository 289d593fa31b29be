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
from postmortems.models import Postmortem

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
    _gateway_postmortem(users)


def _history(users, svc, tiers):
    """About three incidents a week for twelve weeks: declared in the past, acknowledged,
    mitigated and resolved, with their real times set by milestone corrections (on the record,
    as a commander would after the fact)."""
    rng = random.Random(13)
    cmd, resp = users["commander"], users["responder"]
    integration = Integration.objects.order_by("id").first()
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
        # Old post-mortems were dealt with at the time; the timer drafts only the recent ones.
        if started < now - timedelta(days=21):
            Postmortem.objects.filter(incident=incident).update(draft_due_at=None)


def _gateway_postmortem(users):
    """The demo's resolved card-payments incident gets its post-mortem drafted and started."""
    incident = Incident.objects.filter(title="Card payments declined at one processor").first()
    if incident is None:
        return
    postmortem = Postmortem.objects.filter(incident=incident).first()
    if postmortem is None or postmortem.facts:
        return
    drafting.draft_due(postmortem.pk, timezone.now())
    Postmortem.objects.filter(pk=postmortem.pk).update(
        contributing_factors="Processor A rotated its TLS certificate to a chain our client "
                             "did not trust. Our health check only tested TCP, so traffic kept "
                             "flowing to a processor that declined every card.",
        went_well="Failover to processor B took four minutes once we saw the declines.",
        went_badly="Nobody was paged for 20 minutes: declines are HTTP 200 with an error "
                   "body, and we alert only on 5xx.",
        got_lucky="It happened on a Sunday morning, our quietest hour.")
