"""Grafana alerting webhook contact point: the Alertmanager body plus orgId, state, title,
message and per-alert dashboard, panel and silence links; `version` is "1"."""

from incidents.intake.formats import alertmanager
from incidents.intake.formats.events import AlertEvent, require_object


def parse(payload) -> list[AlertEvent]:
    payload = require_object(payload, "body")
    events = alertmanager.parse(payload, version="1")
    extra = {"org_id": payload.get("orgId"), "state": payload.get("state"),
             "title": payload.get("title")}
    return [_with_links(event, alert, extra) for event, alert in zip(
        events, payload["alerts"], strict=True)]


def _with_links(event: AlertEvent, alert: dict, extra: dict) -> AlertEvent:
    links = {k: alert[k] for k in ("dashboardURL", "panelURL", "silenceURL") if alert.get(k)}
    details = {**event.details, **extra, "links": links, "values": alert.get("values")}
    return AlertEvent(**{**event.__dict__, "details": details,
                         "source_url": alert.get("panelURL") or event.source_url})
