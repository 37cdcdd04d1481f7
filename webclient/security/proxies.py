"""Which address a request comes from, believing X-Forwarded-For only from trusted proxies.

TRUSTED_PROXIES (addresses or networks, default none) is the one list: `python -m
kore_chat.serve` gives it to granian's proxy-headers wrapper, which then rewrites the peer
address itself, and
client_ip() applies it again for servers that do not (manage.py runserver). With the list
empty, the peer is the client whatever the headers say: a header is only as true as the
hop that set it, and loopback is not a proxy just for being local.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The right-most address of X-Forwarded-For that is not a trusted proxy, when the peer
    is one; otherwise the peer. Left of that, any client can write what it likes."""
    if not forwarded_for or not is_trusted(peer):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")][-64:]
    for hop in reversed(hops):
        if hop and not is_trusted(hop):
            return hop
    return peer
