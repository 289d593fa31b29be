"""Strict readers for settings from the environment: a junk value stops start-up with a sentence."""

import ipaddress
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated CIDR ranges, such as "10.20.0.0/16,fd00::/8" (empty: none)."""
    networks = []
    for item in env_list(name, []):
        try:
            # strict: "10.0.0.1/8" has host bits set, a sign of a typo rather than a range
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} has {item!r}, which is not a network in CIDR form such as 10.0.0.0/8."
            ) from None
    return tuple(networks)


def env_pairs(name: str) -> tuple[tuple[str, str], ...]:
    """Comma-separated key=value pairs, such as "sre=Responders,audit=Auditors" (empty: none).
    A key may appear more than once; order is kept."""
    pairs = []
    for item in env_list(name, []):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(
                f"{name} has {item!r}; write key=value pairs separated by commas, such as "
                f"sre=Responders,audit=Auditors.")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)
