"""The intake endpoints in the OpenAPI document. They are plain Django views (the hot path skips
DRF), so a drf-spectacular postprocessing hook adds them, with the generic JSON schema."""

from incidents.intake.formats.events import SOURCE_SEVERITIES, Action

TAG = "alert intake"

ERROR = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "example": "invalid event"},
        "message": {"type": "string", "example": "Event object is invalid"},
        "errors": {"type": "array", "items": {"type": "string"},
                   "example": ["payload.summary: This field is required."]},
        "field": {"type": "string", "example": "payload.summary"},
    },
}
ACCEPTED = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "example": "success"},
        "message": {"type": "string", "example": "Event processed"},
        "dedup_keys": {"type": "array", "items": {"type": "string"}},
    },
}
PD_ACCEPTED = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "example": "success"},
        "message": {"type": "string", "example": "Event processed"},
        "dedup_key": {"type": "string", "example": "samplekeyhere"},
    },
}
GENERIC_ALERT = {
    "type": "object",
    "required": ["summary"],
    "properties": {
        "action": {"type": "string", "enum": list(Action.ALL), "default": "trigger"},
        "summary": {"type": "string", "maxLength": 1024,
                    "description": "Required for trigger; becomes the incident title."},
        "source": {"type": "string", "maxLength": 255},
        "severity": {"type": "string", "enum": list(SOURCE_SEVERITIES), "default": "warning",
                     "description": "critical → P1, error → P2, warning → P3, info → P4."},
        "dedup_key": {"type": "string", "maxLength": 255, "description": "Repeats with the "
                      "same key count on one open alert; default: hash of summary and source."},
        "grouping_key": {"type": "string", "maxLength": 255},
        "source_url": {"type": "string", "format": "uri"},
        "details": {"type": "object", "additionalProperties": True},
    },
}
GENERIC_CHANGE = {
    "type": "object",
    "required": ["summary"],
    "properties": {
        "summary": {"type": "string", "maxLength": 1024},
        "source": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "details": {"type": "object", "additionalProperties": True},
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
PD_EVENT = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "description": "PagerDuty Events API v2; routing_key is the integration key.",
    "properties": {
        "routing_key": {"type": "string"},
        "event_action": {"type": "string", "enum": list(Action.ALL)},
        "dedup_key": {"type": "string", "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "maxLength": 1024},
                "source": {"type": "string"},
                "severity": {"type": "string", "enum": list(SOURCE_SEVERITIES)},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object", "additionalProperties": True},
            },
        },
        "links": {"type": "array", "items": {"type": "object"}},
        "images": {"type": "array", "items": {"type": "object"}},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
    },
}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
AM_ALERT = {
    "type": "object",
    "required": ["status", "fingerprint"],
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "fingerprint": {"type": "string", "minLength": 1, "maxLength": 255,
                        "description": "Stable from firing to resolved: the dedup key."},
        "labels": LABELS,
        "annotations": {**LABELS, "description": "`summary` (or `description`) becomes the "
                        "incident title."},
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {"type": "string", "format": "date-time"},
        "generatorURL": {"type": "string", "maxLength": 2048},
    },
}


def _alert_group(version: str, alert: dict, **extra) -> dict:
    """Alertmanager's webhook body (Grafana sends the same, with its own fields)."""
    return {
        "type": "object",
        "required": ["version", "alerts"],
        "properties": {
            "version": {"type": "string", "enum": [version]},
            "status": {"type": "string", "enum": ["firing", "resolved"]},
            "receiver": {"type": "string"},
            "groupKey": {"type": "string", "maxLength": 10_000},
            "groupLabels": LABELS,
            "commonLabels": LABELS,
            "commonAnnotations": LABELS,
            "externalURL": {"type": "string", "maxLength": 2048},
            "truncatedAlerts": {"type": "integer", "minimum": 0},
            "alerts": {"type": "array", "minItems": 1, "items": alert},
            **extra,
        },
    }


ALERTMANAGER = _alert_group("4", AM_ALERT)
GRAFANA = _alert_group(
    "1",
    {**AM_ALERT, "properties": {
        **AM_ALERT["properties"],
        **{name: {"type": "string", "maxLength": 2048}
           for name in ("dashboardURL", "panelURL", "silenceURL")},
        "values": {"type": "object", "additionalProperties": True}}},
    orgId={"type": "integer"}, state={"type": "string"}, title={"type": "string"},
    message={"type": "string"})
PD_CHANGE = {
    "type": "object",
    "required": ["routing_key", "payload"],
    "description": "PagerDuty change event; routing_key is the integration key.",
    "properties": {
        "routing_key": {"type": "string"},
        "payload": {
            "type": "object",
            "required": ["summary"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "maxLength": 255},
                "timestamp": {"type": "string", "format": "date-time"},
                "custom_details": {"type": "object", "additionalProperties": True},
            },
        },
        "links": {"type": "array", "items": {"type": "object"}},
    },
}
KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "The integration's secret key."}


GRAFANA_HEADERS = [
    {"name": "X-Grafana-Alerting-Signature", "in": "header", "required": False,
     "schema": {"type": "string"}, "description": "Lowercase hex HMAC-SHA256, with the "
     "integration's signing secret, of the body, or of `<timestamp>:<body>` when "
     "X-Grafana-Alerting-Timestamp is sent. Required when the integration has a secret."},
    {"name": "X-Grafana-Alerting-Timestamp", "in": "header", "required": False,
     "schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "Unix seconds "
     "(Grafana's optional Timestamp Header); refused when more than 300 s from Relay's clock."},
]


def _json_error(text: str) -> dict:
    return {"description": text, "content": {"application/json": {"schema": ERROR}}}


def _errors() -> dict:
    """What every endpoint taking a body answers besides its success."""
    return {
        "400": _json_error("Malformed JSON or an invalid field (named in `field`)."),
        "404": _json_error("Unknown key."),
        "413": _json_error("Body over 512 KB."),
        "429": {**_json_error("Over the integration's rate."),
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
    }


UNSIGNED = _json_error("The integration has a signing secret and the signature is missing or "
                       "wrong, or its timestamp is more than 300 s from Relay's clock; nothing "
                       "is stored.")


def _post(summary: str, body: dict, *, content="application/json", accepted=ACCEPTED,
          key=True, headers=(), errors=None) -> dict:
    operation = {
        "tags": [TAG], "summary": summary, "security": [],
        "requestBody": {"required": True, "content": {content: {"schema": body}}},
        "responses": {"202": {"description": "Accepted and stored.",
                              "content": {"application/json": {"schema": accepted}}},
                      **dict(sorted({**_errors(), **(errors or {})}.items()))},
    }
    parameters = ([KEY] if key else []) + list(headers)
    if parameters:
        operation["parameters"] = parameters
    return {"post": operation}


def _heartbeat() -> dict:
    # No body and no rate limit: an unknown key is the only error.
    return {"tags": [TAG], "summary": "Heartbeat ping", "security": [], "parameters": [KEY],
            "responses": {"200": {"description": "Ping recorded."},
                          "404": _json_error("Unknown key.")}}


def paths() -> dict:
    raw_email = {"type": "string", "format": "binary", "description": "RFC 822 message."}
    return {
        "/integrations/alertmanager/{key}/": _post(
            "Prometheus Alertmanager webhook (payload version 4)", ALERTMANAGER),
        "/integrations/grafana/{key}/": _post(
            "Grafana alerting webhook contact point", GRAFANA, headers=GRAFANA_HEADERS,
            errors={"401": UNSIGNED}),
        "/integrations/generic/{key}/": _post("Generic JSON alert", GENERIC_ALERT),
        "/integrations/generic/{key}/change/": _post("Generic change event", GENERIC_CHANGE),
        "/integrations/email/{key}/": _post("Raw email (RFC 822)", raw_email,
                                            content="message/rfc822"),
        "/integrations/pagerduty/v2/enqueue": _post(
            "PagerDuty Events API v2 compatible enqueue", PD_EVENT, accepted=PD_ACCEPTED,
            key=False),
        "/integrations/pagerduty/v2/change/enqueue": _post(
            "PagerDuty compatible change event", PD_CHANGE, key=False),
        "/integrations/heartbeat/{key}/": {"get": _heartbeat(), "post": _heartbeat()},
    }


def _with_operation_ids(path_items: dict) -> dict:
    for path, methods in path_items.items():
        slug = "_".join(p for p in path.strip("/").replace("{key}", "").split("/") if p)
        for method, operation in methods.items():
            operation["operationId"] = f"{slug.replace('.', '_')}_{method}"
    return path_items


def add_intake_paths(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    result.setdefault("paths", {}).update(_with_operation_ids(paths()))
    return result
