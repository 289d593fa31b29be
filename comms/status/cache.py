"""The status page's response cache: a warm request runs no database query.

Every public response (HTML, JSON, feeds) is rendered once per *generation* and kept as bytes
with its ETag. The generation is a number every change that the page shows bumps (a publication,
a component change, a maintenance step, branding), after its transaction commits:

- shared by every process and machine: in the default cache when that is shared (Redis), else
  (the embedded default: one machine, locmem) in a file's modification time beside the database;
- read by each process at most once per CHECK_EVERY seconds, so a warm request costs a clock
  read and a dict lookup; a page is stale at most CHECK_EVERY seconds plus one render after a
  change;
- a rendered response is also put in the shared cache under its generation, so one process
  renders it and the others fetch it;
- a stampede after a change renders once per process: the first request renders, the others
  serve the previous generation's bytes meanwhile (a lock per key and generation in the cache).

Conditional requests: the ETag is the body's hash and Last-Modified the generation's time;
If-None-Match or If-Modified-Since answers 304 without a body.

Bodies worth it are also kept gzipped, compressed once per generation rather than per request,
for clients that accept it (every browser): the HTML page's 90-day bars shrink about tenfold,
which is most of what serving it costs (bench/status_page.py). The pages hold no secret a
reflected input could probe, so compression is safe here.
"""

import gzip
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

CHECK_EVERY = 1.0  # seconds between a process's looks at the shared generation
LOCK_SECONDS = 10  # a render that takes longer lets a second one start
SHARED_TTL = 300  # rendered bytes in the shared cache (a generation rarely lives that long)
GENERATION_KEY = "status:generation"
CACHE_CONTROL = "public, max-age=2, must-revalidate"
GZIP_MIN = 1024  # bytes: below this compression saves less than its headers cost
# With the shared cache unreachable, generations are this many seconds long: pages are rendered
# again that often instead of never (no change can reach the other processes meanwhile).
UNREACHABLE_GENERATION = 5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    generation: int
    body: bytes
    content_type: str
    etag: str
    status: int = 200
    extra_headers: tuple = ()
    last_modified: str = ""  # formatted once, not per request
    gzipped: bytes = b""  # empty when not worth it

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'


_lock = threading.Lock()
_generation = 0
_checked = float("-inf")
_responses: dict[str, Rendered] = {}
_values: dict[str, tuple[int, object]] = {}


# --- The generation -----------------------------------------------------------------------------

def _shared_cache() -> bool:
    # `cache` is a proxy, never a LocMemCache itself: ask about the backend behind it.
    return not isinstance(caches["default"], LocMemCache)


def _generation_file() -> str:
    configured = getattr(settings, "RELAY_STATUS_GENERATION_FILE", "")
    if configured:
        return configured
    # One file per database, so two checkouts (or two test workers) do not share it.
    name = str(connection.settings_dict.get("NAME") or "relay")
    digest = hashlib.sha256(f"{connection.vendor}:{name}".encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"relay-status-{digest}.generation")


def _read_shared() -> int:
    if _shared_cache():
        try:
            return _read_cache()
        except Exception as error:  # noqa: BLE001 — any failure of the cache's client
            log.warning("status page: the shared cache is unreachable (%s); pages are "
                        "rendered every %s s until it is back", error, UNREACHABLE_GENERATION)
            return int(time.time()) // UNREACHABLE_GENERATION * UNREACHABLE_GENERATION \
                * 1_000_000
    path = _generation_file()
    try:
        return os.stat(path).st_mtime_ns // 1000
    except FileNotFoundError:
        _write_file(path)
        return os.stat(path).st_mtime_ns // 1000


def _read_cache() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        value = time.time_ns() // 1000
        cache.add(GENERATION_KEY, value, timeout=None)
        value = cache.get(GENERATION_KEY, value)
    return int(value)


def _write_file(path: str) -> None:
    with open(path, "a"):
        pass
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def generation() -> int:
    """The current generation (microseconds since the epoch of the last change)."""
    global _generation, _checked
    now = time.monotonic()
    if now - _checked < CHECK_EVERY:
        return _generation
    value = _read_shared()
    with _lock:
        _generation, _checked = value, now
    return value


def _bump() -> None:
    global _checked
    if _shared_cache():
        try:
            cache.set(GENERATION_KEY, time.time_ns() // 1000, timeout=None)
        except Exception as error:  # noqa: BLE001 — the change is committed; pages catch up
            log.warning("status page: could not start a new generation (%s)", error)
    else:
        _write_file(_generation_file())
    with _lock:
        _checked = float("-inf")  # this process sees its own change at once


def invalidate() -> None:
    """Call inside the transaction of any change the page shows: the next generation starts when
    it commits (at once outside a transaction)."""
    transaction.on_commit(_bump)


def clear_local() -> None:
    """Forget this process's copies (tests)."""
    global _checked
    with _lock:
        _responses.clear()
        _values.clear()
        _checked = float("-inf")


def remembered(key: str, compute: Callable[[], object]) -> object:
    """`compute()`'s value, computed once per generation in this process: what a view needs
    besides a body (the page's time zone, the codes that exist) without a query per request."""
    current = generation()
    found = _values.get(key)
    if found is None or found[0] != current:
        found = (current, compute())
        _values[key] = found
    return found[1]


# --- Responses ----------------------------------------------------------------------------------

def cached(request: HttpRequest, key: str, render: Callable[[], tuple[bytes, str]],
           *, headers: dict | None = None) -> HttpResponse:
    """The response for `key` (one per distinct page and format), rendering it with `render()`
    → (body, content type) or (body, content type, status) when this generation has none yet.
    `render` must depend only on the key, never on the request's user, cookies or headers."""
    current = generation()
    entry = _responses.get(key)
    if entry is None or entry.generation != current:
        entry = _fetch_or_render(key, current, render, entry, headers or {})
    return _respond(request, entry)


def _fetch_or_render(key, current, render, stale, headers) -> Rendered:
    shared_key = f"status:page:{current}:{key}"
    shared = _shared_cache()
    if shared:
        try:
            found = cache.get(shared_key)
            if found is not None:
                _responses[key] = found
                return found
            if stale is not None and not cache.add(f"status:lock:{current}:{key}", 1,
                                                   LOCK_SECONDS):
                return stale  # another process renders this generation; serve the last one
        except Exception:  # noqa: BLE001 — unreachable: render here, keep it in this process
            shared = False
    body, content_type, *status = render()
    entry = Rendered(generation=current, body=body, content_type=content_type,
                     etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                     status=status[0] if status else 200, extra_headers=tuple(headers.items()),
                     last_modified=formatdate(current / 1_000_000, usegmt=True),
                     gzipped=_compressed(body))
    if shared:
        try:
            cache.set(shared_key, entry, SHARED_TTL)
        except Exception as error:  # noqa: BLE001 — kept in this process all the same
            log.warning("status page: could not share a rendered page (%s)", error)
    _responses[key] = entry
    return entry


def _compressed(body: bytes) -> bytes:
    if len(body) < GZIP_MIN:
        return b""
    packed = gzip.compress(body, mtime=0)  # mtime 0: the same bytes in every process
    return packed if len(packed) < len(body) else b""


def _respond(request: HttpRequest, entry: Rendered) -> HttpResponse:
    zipped = bool(entry.gzipped) and "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", "")
    if _not_modified(request, entry):
        response = HttpResponseNotModified()
    elif zipped:
        response = HttpResponse(entry.gzipped, content_type=entry.content_type,
                                status=entry.status)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(entry.body, content_type=entry.content_type, status=entry.status)
    if entry.gzipped:
        response["Vary"] = "Accept-Encoding"
    # Each encoding is its own representation, with its own (strong) ETag.
    response["ETag"] = entry.gzip_etag if zipped else entry.etag
    response["Last-Modified"] = entry.last_modified
    response["Cache-Control"] = CACHE_CONTROL
    for name, value in entry.extra_headers:
        response[name] = value
    return response


def _not_modified(request: HttpRequest, entry: Rendered) -> bool:
    if request.method not in ("GET", "HEAD") or entry.status != 200:
        return False
    # META, not request.headers: that builds a dict of every header, on the hot path.
    tags = request.META.get("HTTP_IF_NONE_MATCH")
    if tags is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in tags.split(",")}
        return "*" in wanted or entry.etag in wanted or entry.gzip_etag in wanted
    since = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if since:
        try:
            return parsedate_to_datetime(since).timestamp() >= entry.generation // 1_000_000
        except (TypeError, ValueError, OverflowError):
            return False
    return False
