"""Each person reads times in their own zone: the zone chosen in their profile, else the one
their browser reports (a cookie relay.js sets), else UTC. TimezoneMiddleware activates it for
the request, so Django's date filters, form fields and `local_time` all use it.

The profile's choice rides in a cookie of its own (set at login and when saved), so a page costs
no query and no session read for it: reading the session would add "Vary: Cookie" to public,
cached pages. The public status page (/status/) always speaks UTC: it is cached for everyone."""

import zoneinfo
from datetime import datetime
from functools import cache
from urllib.parse import unquote

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

COOKIE = "relay_tz"  # the browser's zone, set by relay.js
CHOICE_COOKIE = "relay_tz_choice"  # the zone chosen in the profile, set by the server
ALWAYS_UTC = ("/status/",)


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
    if request is not None:
        remember(request, profile_zone_name(user))


def remember(request, name: str) -> None:
    """Have the response carry this person's chosen zone (empty: their browser's)."""
    request.relay_tz_choice = name


class TimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = zone(unquote(request.COOKIES.get(CHOICE_COOKIE, "")))
        tz = chosen or zone(unquote(request.COOKIES.get(COOKIE, "")))
        if tz is None or request.path.startswith(ALWAYS_UTC):
            timezone.deactivate()
        else:
            timezone.activate(tz)
        request.relay_tz_source = "profile" if chosen else ("browser" if tz else "default")
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        choice = getattr(request, "relay_tz_choice", None)
        if choice:
            response.set_cookie(CHOICE_COOKIE, choice, max_age=365 * 86400, samesite="Lax",
                                secure=request.is_secure(), httponly=True)
        elif choice is not None:
            response.delete_cookie(CHOICE_COOKIE, samesite="Lax")
        return response


def context(request):
    """Templates label times with `tz_label` and name the zone with `tz_name`."""
    tz = timezone.get_current_timezone()
    return {"tz_label": label(tz), "tz_name": getattr(tz, "key", "UTC"),
            "tz_source": getattr(request, "relay_tz_source", "default")}

