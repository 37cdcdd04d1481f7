"""Login CSRF through the direct link: a hostile page must not switch a victim's widget to
the attacker's identity (and so drop the victim's stored state). A direct link's identity is
taken only from navigations the browser reports as not sent by another site."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

LINK = "/?bot=demo&identity=mallory&identityHash=mallorys-own-valid-hash"


@pytest.mark.parametrize("site", ["cross-site"])
def test_a_direct_link_sent_by_another_site_carries_no_identity_into_the_page(site: str) -> None:
    page = Client().get(LINK, headers={"Sec-Fetch-Site": site}).content.decode()
    assert 'data-identity=""' in page
    assert 'data-identity-hash=""' in page
    assert "mallory" not in page


@pytest.mark.parametrize("site", ["none", "same-origin", "same-site", None])
def test_a_direct_link_typed_or_followed_on_this_site_carries_its_identity(
    site: str | None,
) -> None:
    headers = {"Sec-Fetch-Site": site} if site else {}
    page = Client().get(LINK, headers=headers).content.decode()
    assert 'data-identity="mallory"' in page
    assert 'data-identity-hash="mallorys-own-valid-hash"' in page
