"""Who may send alerts: integration keys (hashed and looked up here; minted and rotated only in
intake.services), Grafana signatures and per-integration rate limits. Only a key's SHA-256 is
stored; lookups are cached per process for KEY_CACHE_SECONDS, so a rotated or disabled key may
work that long in other processes."""

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

from django.core.cache import cache
from redis.exceptions import RedisError

from incidents.intake.routing import forget_routing
from incidents.models import Integration

log = logging.getLogger(__name__)

KEY_CACHE_SECONDS = 10  # a rotated or disabled key may work this long in other processes



@dataclass(frozen=True)
class IntegrationRef:
    """What the hot path needs of an integration, cached per process."""

    id: int
    service_id: int
    format: str
    name: str
    rate_limit_per_minute: int
    email_dedup: str = "message_id"
    signing_secret: str = ""


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_key() -> str:
    # 32 hex characters: the length PagerDuty clients check routing keys against.
    return secrets.token_hex(16)


_key_cache: dict[str, tuple[float, IntegrationRef | None]] = {}


def find_integration(raw_key: str, format: str | None = None) -> IntegrationRef | None:
    """The enabled integration with this key (of this format), or None: callers answer 404
    either way, so nobody learns whether a key exists."""
    digest = hash_key(raw_key)
    cached = _key_cache.get(digest)
    if cached is None or cached[0] < time.monotonic():
        row = Integration.objects.filter(key_hash=digest, enabled=True).values(
            "id", "service_id", "format", "name", "rate_limit_per_minute",
            "email_dedup", "signing_secret").first()
        cached = (time.monotonic() + KEY_CACHE_SECONDS, IntegrationRef(**row) if row else None)
        _key_cache[digest] = cached
    ref = cached[1]
    if ref is None or (format and ref.format != format):
        return None
    return ref


def forget_keys() -> None:
    """Forget every per-process cache of intake (keys, routing, timeline-entry counts)."""
    _key_cache.clear()
    forget_routing()



SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana lets the contact point name its optional Timestamp Header; Relay reads this name, the one
# Grafana's own examples use.
TIMESTAMP_HEADER = "X-Grafana-Alerting-Timestamp"
MAX_SKEW_SECONDS = 300


class BadSignature(Exception):
    pass


def check_signature(ref: IntegrationRef, body: bytes, signature: str | None,
                    timestamp: str | None = None, *, now: float | None = None) -> None:
    """Grafana sends the lowercase hex HMAC-SHA256, with the contact point's secret, of the raw
    body, or with a Timestamp Header set, of `<unix seconds>:<body>`. That timestamp must be
    within MAX_SKEW_SECONDS of our clock, so a captured request cannot be replayed later (nor
    stripped of its timestamp: the body alone was not what was signed). Integrations without a
    secret accept unsigned requests."""
    if not ref.signing_secret:
        return
    if not signature:
        raise BadSignature(f"This integration requires the {SIGNATURE_HEADER} header.")
    if not signature.isascii():
        # compare_digest takes only ASCII text; anything else cannot be our hex digest.
        raise BadSignature(f"The {SIGNATURE_HEADER} header is not a hex digest.")
    if timestamp and not timestamp.isascii():
        raise BadSignature(f"The {TIMESTAMP_HEADER} header is not a Unix time in seconds.")
    signed = body if not timestamp else timestamp.encode() + b":" + body
    expected = hmac.new(ref.signing_secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        over = f"the {TIMESTAMP_HEADER} header and the body" if timestamp else "the body"
        raise BadSignature(f"The {SIGNATURE_HEADER} header does not match {over}.")
    if timestamp:
        _check_fresh(timestamp, time.time() if now is None else now)


def _check_fresh(timestamp: str, now: float) -> None:
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise BadSignature(f"The {TIMESTAMP_HEADER} header is not a Unix time in seconds.")
    skew = abs(now - int(timestamp))
    if skew > MAX_SKEW_SECONDS:
        raise BadSignature(
            f"The {TIMESTAMP_HEADER} header is {int(skew)} s away from Relay's clock (at most "
            f"{MAX_SKEW_SECONDS} s): a replayed request, or a sender clock out of sync.")


class Throttled(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


def check_rate(ref: IntegrationRef) -> None:
    """Fixed one-minute windows counted in the default cache: Redis when REDIS_URL is set, so all
    web processes share one count; else per process. If Redis does not answer, the request goes
    through uncounted: a lost alert costs more than a missed limit."""
    now = time.time()
    window = int(now // 60)
    try:
        count = _count_request(f"relay:intake-rate:{ref.id}:{window}")
    except RedisError:
        _warn_uncounted(ref, window)
        return
    if count > ref.rate_limit_per_minute:
        raise Throttled(max(1, int((window + 1) * 60 - now) + 1))


def _count_request(key: str) -> int:
    """incr is atomic on Redis, and add sets the key with its expiry only if absent: parallel
    requests in any process get distinct counts. incr first: all but a minute's first request
    find the key there."""
    try:
        return cache.incr(key)
    except ValueError:  # the minute's first request (or the key just expired)
        pass
    if cache.add(key, 1, timeout=70):
        return 1
    try:
        return cache.incr(key)  # another request added it first
    except ValueError:  # and it expired since: count this one as the first
        cache.set(key, 1, timeout=70)
        return 1


_uncounted_warned: set[tuple[int, int]] = set()


def _warn_uncounted(ref: IntegrationRef, window: int) -> None:
    # Once per integration and minute in this process: a storm must not flood the log as well.
    if (ref.id, window) in _uncounted_warned:
        return
    if len(_uncounted_warned) > 10_000:
        _uncounted_warned.clear()
    _uncounted_warned.add((ref.id, window))
    log.warning("Rate of integration %s not counted this minute: the cache (Redis) does not "
                "answer; accepting requests without a limit", ref.id, exc_info=True)
