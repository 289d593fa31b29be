"""HTTP endpoints of alert intake. Plain Django views (no session, no CSRF: the key in the URL
or body is the credential), kept thin: size → JSON → key → rate → parse → incidents.intake.

Error contract, the same on every endpoint and in PagerDuty's shape so its clients understand it:
404 for an unknown key (no hint whether it exists), 400 naming the field, 413 over 512 KB, 429
with Retry-After over the integration's rate; on Grafana's endpoint 401 for a missing, wrong or
stale signature."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from config import strictjson
from config.errors import NOT_FOUND
from incidents.intake import heartbeats, keys, pipeline
from incidents.intake.formats import JSON_PARSERS, RAW_PARSERS, generic, pagerduty
from incidents.intake.formats.events import PayloadError
from incidents.models import IntegrationFormat

MAX_BODY = 512 * 1024


class Rejected(Exception):
    def __init__(self, response: JsonResponse):
        super().__init__(response.status_code)
        self.response = response


def _answer(status: int, body: dict, **headers) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def invalid(error: PayloadError) -> JsonResponse:
    return _answer(400, {"status": "invalid event", "message": "Event object is invalid",
                         "errors": [str(error)], "field": error.field})




def _body(request) -> bytes:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_BODY:
        raise Rejected(_answer(413, {"status": "too large",
                                     "message": "The body exceeds 512 KB."}))
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise Rejected(_answer(413, {"status": "too large",
                                     "message": "The body exceeds 512 KB."}))
    return body


def _json(body: bytes):
    # Strict: what PostgreSQL would refuse later is refused here, before anything is stored.
    try:
        return strictjson.loads(body)
    except strictjson.StrictJSONError as error:
        raise Rejected(invalid(PayloadError(error.path or "body", error.message))) from None


def _integration(key: str, format: str) -> keys.IntegrationRef:
    ref = keys.find_integration(key, format)
    if ref is None:
        raise Rejected(_answer(404, NOT_FOUND))
    try:
        keys.check_rate(ref)
    except keys.Throttled as throttled:
        raise Rejected(_answer(429, {
            "status": "throttle event",
            "message": "Requests for this integration are arriving too quickly. "
                       "Please retry later."}, Retry_After=str(throttled.retry_after))) from None
    return ref


def _endpoint(view):
    """POST only, no CSRF, and a Rejected anywhere becomes its response."""

    @csrf_exempt
    @require_POST
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Rejected as rejected:
            return rejected.response
        except PayloadError as error:
            return invalid(error)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _accepted(outcomes) -> JsonResponse:
    return _answer(202, {"status": "success", "message": "Event processed",
                         "dedup_keys": [o.dedup_key for o in outcomes]})


def _json_format(format: str):
    def view(request, key):
        body = _body(request)
        ref = _integration(key, format)
        events = JSON_PARSERS[format](_json(body))
        return _accepted(pipeline.ingest(ref, events))

    view.__name__ = f"{format}_intake"
    return _endpoint(view)


alertmanager = _json_format(IntegrationFormat.ALERTMANAGER)
generic_alert = _json_format(IntegrationFormat.GENERIC)


@_endpoint
def grafana(request, key):
    body = _body(request)
    ref = _integration(key, IntegrationFormat.GRAFANA)
    try:
        keys.check_signature(ref, body, request.headers.get(keys.SIGNATURE_HEADER),
                               request.headers.get(keys.TIMESTAMP_HEADER))
    except keys.BadSignature as error:
        return _answer(401, {"status": "unauthorized", "message": str(error)})
    events = JSON_PARSERS[IntegrationFormat.GRAFANA](_json(body))
    return _accepted(pipeline.ingest(ref, events))


@_endpoint
def email(request, key):
    body = _body(request)
    ref = _integration(key, IntegrationFormat.EMAIL)
    events = RAW_PARSERS[IntegrationFormat.EMAIL](body, dedup_by=ref.email_dedup)
    return _accepted(pipeline.ingest(ref, events))


@_endpoint
def generic_change(request, key):
    body = _body(request)
    ref = _integration(key, IntegrationFormat.GENERIC)
    change = pipeline.record_change(ref, generic.parse_change(_json(body)))
    return _answer(202, {"status": "success", "message": "Change event processed",
                         "id": change.pk})


def _pagerduty_integration(payload) -> keys.IntegrationRef:
    return _integration(pagerduty.routing_key(payload), IntegrationFormat.PAGERDUTY)


@_endpoint
def pagerduty_enqueue(request):
    payload = _json(_body(request))
    ref = _pagerduty_integration(payload)
    outcome = pipeline.ingest(ref, pagerduty.parse(payload))[0]
    return _answer(202, {"status": "success", "message": "Event processed",
                         "dedup_key": outcome.dedup_key})


@_endpoint
def pagerduty_change(request):
    payload = _json(_body(request))
    ref = _pagerduty_integration(payload)
    pipeline.record_change(ref, pagerduty.parse_change(payload))
    return _answer(202, {"status": "success", "message": "Change event processed"})


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def heartbeat(request, key):
    """A job's ping: GET or POST. Resolves the missed-heartbeat alert if one is open."""
    ref = keys.find_integration(key, IntegrationFormat.HEARTBEAT)
    if ref is None:
        return _answer(404, NOT_FOUND)
    heartbeats.ping(ref)
    return _answer(200, {"status": "success", "message": "Ping received"})
