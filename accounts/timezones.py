"""Each person reads times in their own zone: the zone chosen in their profile, else the one
their browser reports (a cookie relay.js sets), else UTC. TimezoneMiddleware activates it for
the request, so Django's date filters, form fields and `local_time` all use it.

The profile's choice rides in the session (copied at login and when saved), so a page costs no
query for it."""

import zoneinfo
from datetime import datetime
from functools import cache
from urllib.parse import unquote

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

SESSION_KEY = "relay_tz"
COOKIE = "relay_tz"


@cache
def names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str | None):
    """The ZoneInfo for a known IANA name, else None (a cookie is user input: never a path)."""
    if name and name in names():
        return zoneinfo.ZoneInfo(name)
    return None


def label(tz=None, at: datetime | None = None) -> str:
    """A short label for a zone at an instant: CET, EDT, UTC, or UTC+05:30 where the zone has no
    abbreviation of its own."""
    tz = tz or timezone.get_current_timezone()
    at = (at or timezone.now()).astimezone(tz)
    abbreviation = at.strftime("%Z")
    if abbreviation and abbreviation[0] not in "+-":
        return abbreviation
    offset = at.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def profile_zone_name(user) -> str:
    from accounts.models import Profile

    return Profile.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""


@receiver(user_logged_in, dispatch_uid="relay-timezone-at-login")
def _remember_at_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = profile_zone_name(user)


class TimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name = request.session.get(SESSION_KEY, "")
        tz = zone(name) or zone(unquote(request.COOKIES.get(COOKIE, "")))
        if tz is None:
            timezone.deactivate()
        else:
            timezone.activate(tz)
        request.relay_tz_source = "profile" if zone(name) else ("browser" if tz else "default")
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def context(request):
    """Templates label times with `tz_label` and name the zone with `tz_name`."""
    tz = timezone.get_current_timezone()
    return {"tz_label": label(tz), "tz_name": getattr(tz, "key", "UTC"),
            "tz_source": getattr(request, "relay_tz_source", "default")}

