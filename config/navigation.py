"""Where a form post may send the browser back to."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request) -> str | None:
    """The `next` path a form post asked to return to, when it is a path on this site: never
    another host, and never a bare word (django.shortcuts.redirect would look it up as a URL
    name and fail)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return None
