"""X-Forwarded-For counts only when the peer is a configured trusted proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from pytest_django.fixtures import Settings as SettingsWrapper

from webclient.security.ratelimit import client_ip


def address(peer: str, forwarded_for: str | None = None) -> str:
    request = RequestFactory().get("/", REMOTE_ADDR=peer)
    if forwarded_for is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_ip(request)


def test_without_trusted_proxies_the_header_is_ignored_even_from_loopback(
    settings: SettingsWrapper,
) -> None:
    settings.TRUSTED_PROXIES = []
    assert address("127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert address("::1", "203.0.113.9") == "::1"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # The right-most hop that is not a proxy of ours: left of it, the client wrote it.
        ("10.0.0.5", "198.51.100.7, 203.0.113.9", "203.0.113.9"),
        ("10.0.0.5", "198.51.100.7, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        ("10.0.0.5", "10.0.0.6, 10.0.0.7", "10.0.0.5"),
        ("10.0.0.5", "not-an-address", "not-an-address"),
        ("10.0.0.5", "", "10.0.0.5"),
        # An untrusted peer's header means nothing.
        ("192.0.2.1", "203.0.113.9", "192.0.2.1"),
    ],
)
def test_a_trusted_proxy_is_believed_about_the_hop_before_it(
    settings: SettingsWrapper, peer: str, forwarded_for: str, client: str
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert address(peer, forwarded_for) == client
