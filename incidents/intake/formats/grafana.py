"""Grafana alerting webhook contact point: the Alertmanager body plus orgId, state, title,
message and per-alert dashboard, panel and silence links; `version` is "1"."""

from incidents.intake.formats import alertmanager
from incidents.intake.formats.events import AlertEvent, optional_text, require_object

LINKS = ("dashboardURL", "panelURL", "silenceURL")


def parse(payload) -> list[AlertEvent]:
    payload = require_object(payload, "body")
    events = alertmanager.parse(payload, version="1")
    extra = {"org_id": payload.get("orgId"), "state": payload.get("state"),
             "title": payload.get("title")}
    return [_with_links(event, alert, f"alerts[{i}].", extra) for i, (event, alert) in enumerate(
        zip(events, payload["alerts"], strict=True))]


def _with_links(event: AlertEvent, alert: dict, prefix: str, extra: dict) -> AlertEvent:
    # Checked like generatorURL: the panel link becomes the alert's source_url column.
    links = {k: url for k in LINKS if (url := optional_text(alert, k, prefix, 2048))}
    details = {**event.details, **extra, "links": links, "values": alert.get("values")}
    return AlertEvent(**{**event.__dict__, "details": details,
                         "source_url": links.get("panelURL") or event.source_url})
