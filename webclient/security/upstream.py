"""Which upstream hosts a bot may point the relay at.

A bot's `upstream_url` is typed by an admin, and the relay sends it a signed token and the
user's words: a wrong value must not turn the server into a proxy to internal services.
Checked in `Bot.clean()` (admin shows the reason) and again before every upstream call
(settings may have changed since the bot was saved).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

from webclient.errors import ApplicationError, Kind


class UpstreamNotAllowed(ApplicationError):
    """The bot's upstream URL is refused; the message says why, for an administrator."""

    def __init__(self, message: str) -> None:
        super().__init__("upstream_not_allowed", message, Kind.UNAVAILABLE)


def loopback_allowed() -> bool:
    return bool(settings.DEBUG or settings.KORE_ALLOW_LOOPBACK_UPSTREAM)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_listed(host: str, allowed: list[str]) -> bool:
    """Exact names, or `*.example.com` for any subdomain of example.com."""
    host = host.lower().rstrip(".")
    for entry in (e.lower().rstrip(".") for e in allowed):
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def check_upstream(upstream_url: str) -> None:
    """Raise UpstreamNotAllowed unless the relay may call this upstream."""
    if not upstream_url.strip():
        if loopback_allowed():
            return
        raise UpstreamNotAllowed(
            "A blank upstream URL means the embedded emulator, which is only allowed with "
            "DEBUG or KORE_ALLOW_LOOPBACK_UPSTREAM=true. Enter the Kore host, "
            "e.g. https://bots.kore.ai."
        )
    try:
        parts = urlsplit(upstream_url.strip())
        host = parts.hostname or ""
        _ = parts.port  # a malformed port raises here rather than at call time
    except ValueError:
        raise UpstreamNotAllowed("The upstream URL is malformed.") from None
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UpstreamNotAllowed(
            "The upstream URL must not carry credentials, a query or a fragment."
        )
    if parts.scheme not in ("http", "https") or not host:
        raise UpstreamNotAllowed("The upstream URL must be an http(s) URL with a host.")
    if _is_loopback(host):
        if loopback_allowed():
            return
        raise UpstreamNotAllowed(
            f"{host} is a loopback host, only allowed with DEBUG or "
            "KORE_ALLOW_LOOPBACK_UPSTREAM=true."
        )
    if not host_listed(host, settings.KORE_UPSTREAM_HOSTS):
        raise UpstreamNotAllowed(
            f"{host} is not in KORE_UPSTREAM_HOSTS ({', '.join(settings.KORE_UPSTREAM_HOSTS)})."
        )
    if parts.scheme != "https":
        raise UpstreamNotAllowed("The Kore platform must be reached over https.")
