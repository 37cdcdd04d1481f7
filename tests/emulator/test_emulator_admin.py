"""The emulated platform's channel pages in the admin: "add" generates the credentials from a
name, version and mode; the change page shows them (the public JWK under the client secret)
and switches every variant; a wrong key or POST_URL is refused and changes nothing."""

from __future__ import annotations

import base64
import html
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse

from webclient.emulator.models import EmulatedWebhook

pytestmark = pytest.mark.django_db
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CHANGELIST = reverse("admin:emulator_emulatedwebhook_changelist")
ADD = reverse("admin:emulator_emulatedwebhook_add")


def change_url(webhook: EmulatedWebhook) -> str:
    return reverse("admin:emulator_emulatedwebhook_change", args=[webhook.pk])


def change_form(webhook: EmulatedWebhook, **changes: str) -> dict[str, str]:
    """The change page's form as the browser posts it (unticked boxes are absent)."""
    data = {
        "bot_name": webhook.bot_name,
        "version": str(webhook.version),
        "is_async": str(webhook.is_async),
        "post_url": webhook.post_url,
        "jwt_algorithm": webhook.jwt_algorithm,
        "jwt_public_key": webhook.jwt_public_key,
        "v1_ack_body": webhook.v1_ack_body,
        "form_placement": webhook.form_placement,
    }
    for box in ("polling", "enforce_jti", "jwe_enabled", "callback_names_user", "sdk_form_links"):
        if getattr(webhook, box):
            data[box] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value != "off"}


def new_channel(admin_client: Client, **fields: str) -> tuple[EmulatedWebhook, Any]:
    before = set(EmulatedWebhook.objects.values_list("pk", flat=True))
    data = {"bot_name": "Shop bot", "version": "2", "is_async": "False", "polling": "on"}
    answer = admin_client.post(ADD, {**data, **fields})
    assert answer.status_code == 302, answer.content.decode()[:3000]
    return EmulatedWebhook.objects.exclude(pk__in=before).get(), answer


def test_the_admin_has_an_emulated_kore_platform_section(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Emulated Kore platform" in page
    assert CHANGELIST in page


def test_adding_a_channel_asks_only_name_version_and_mode_and_generates_credentials(
    admin_client: Client,
) -> None:
    form = admin_client.get(ADD).content.decode()
    inputs = re.findall(r'<(?:input|select|textarea)[^>]* name="([a-z_]+)"', form)
    assert set(inputs) - {"csrfmiddlewaretoken", "_save", "_addanother", "_continue"} == {
        "bot_name",
        "version",
        "is_async",
        "polling",
        "instance_of",
    }
    webhook, answer = new_channel(admin_client)
    assert answer["Location"] == change_url(webhook)
    assert re.fullmatch(f"st-{UUID}", webhook.bot_id)
    assert re.fullmatch(f"cs-{UUID}", webhook.client_id)
    assert len(base64.urlsafe_b64decode(webhook.client_secret + "=")) >= 32
    assert (webhook.instance_id, webhook.version, webhook.is_async, webhook.polling) == (
        "",
        2,
        False,
        True,
    )


def test_a_further_hook_instance_shares_the_bot_id_with_its_own_app(
    admin_client: Client,
) -> None:
    first, _ = new_channel(admin_client, version="1")
    second, _ = new_channel(admin_client, bot_name="Shop (async)", instance_of=first.bot_id)
    assert second.bot_id == first.bot_id
    assert re.fullmatch(f"ivrInst-{UUID}", second.instance_id)
    assert second.client_id != first.client_id
    assert second.client_secret != first.client_secret


def test_the_change_page_shows_the_credentials_to_copy(admin_client: Client) -> None:
    webhook, _ = new_channel(admin_client)
    page = html.unescape(admin_client.get(change_url(webhook)).content.decode())
    for value in (
        webhook.bot_id,
        webhook.client_id,
        webhook.client_secret,
        f"http://127.0.0.1:8000/emulator/chatbot/v2/webhook/{webhook.bot_id}",
        "JWE is off.",
    ):
        assert value in page
    assert re.search(r"<code data-kc-url>[^<]*</code>\s*<button[^>]*data-kc-copy>Copy", page)
    assert "webclient/admin-bot.js" in page
    assert "<script>" not in page  # no inline script: the CSP would block it


def test_the_change_page_switches_every_variant_and_shows_the_jwk_under_the_secret(
    admin_client: Client,
) -> None:
    webhook, _ = new_channel(admin_client)
    answer = admin_client.post(
        change_url(webhook),
        change_form(
            webhook,
            bot_name="Shop bot 2",
            version="1",
            is_async="True",
            polling="off",
            post_url="http://127.0.0.1:8000/hooks/kore/shop/a-callback-secret-0123456789/",
            jwt_algorithm="HS512",
            enforce_jti="on",
            jwe_enabled="on",
            callback_names_user="on",
            v1_ack_body="json",
            form_placement="data",
            sdk_form_links="on",
        ),
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    stored = EmulatedWebhook.objects.get(pk=webhook.pk)
    assert (
        stored.bot_name,
        stored.version,
        stored.is_async,
        stored.polling,
        stored.post_url,
        stored.jwt_algorithm,
        stored.enforce_jti,
        stored.jwe_enabled,
        stored.callback_names_user,
        stored.v1_ack_body,
        stored.form_placement,
        stored.sdk_form_links,
    ) == (
        "Shop bot 2",
        1,
        True,
        False,
        "http://127.0.0.1:8000/hooks/kore/shop/a-callback-secret-0123456789/",
        "HS512",
        True,
        True,
        True,
        "json",
        "data",
        True,
    )
    assert (stored.client_id, stored.client_secret) == (webhook.client_id, webhook.client_secret)
    assert stored.jwe_kid.startswith("k-") and stored.jwe_private_key
    page = html.unescape(admin_client.get(change_url(stored)).content.decode())
    secret_at = page.index(stored.client_secret)
    assert secret_at < page.index(f'"kid": "{stored.jwe_kid}"') < page.index("Webhook URL")
    assert "BEGIN PRIVATE KEY" not in page


def test_an_rs_app_needs_the_customers_public_key_and_a_wrong_one_changes_nothing(
    admin_client: Client,
) -> None:
    webhook, _ = new_channel(admin_client)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    refused = [
        ({"jwt_algorithm": "RS256"}, "RS256 needs the public key"),
        ({"jwt_algorithm": "RS256", "jwt_public_key": private.decode()}, "Not a PEM public key"),
        ({"jwt_public_key": public.decode()}, "a public key is only for RS256 or RS512"),
        ({"post_url": "ftp://x.example/"}, "Not a POST_URL"),
    ]
    for changes, message in refused:
        answer = admin_client.post(change_url(webhook), change_form(webhook, **changes))
        assert answer.status_code == 200
        assert message in html.unescape(answer.content.decode())
        stored = EmulatedWebhook.objects.get(pk=webhook.pk)
        assert (stored.jwt_algorithm, stored.jwt_public_key, stored.post_url) == ("HS256", "", "")
    answer = admin_client.post(
        change_url(webhook),
        change_form(webhook, jwt_algorithm="RS512", jwt_public_key=public.decode()),
    )
    assert answer.status_code == 302
    stored = EmulatedWebhook.objects.get(pk=webhook.pk)
    assert stored.jwt_algorithm == "RS512"
    assert stored.jwt_public_key.strip() == public.decode().strip()


def test_the_channel_list_shows_name_bot_id_instance_version_and_mode(
    admin_client: Client,
) -> None:
    webhook, _ = new_channel(admin_client, is_async="True")
    page = admin_client.get(CHANGELIST).content.decode()
    rows = [r for r in page.split("<tr>") if r.startswith('<td class="action-checkbox"')]
    row = next(r for r in rows if webhook.bot_id in r)
    row = re.sub(r'<img [^>]*alt="([^"]*)"[^>]*>', r"\1", row)  # boolean icons
    cells = {
        name: html.unescape(re.sub(r"<[^>]+>", "", value)).strip()
        for name, value in re.findall(r'class="field-([a-z_]+)"[^>]*>(.*?)</t[dh]>', row)
    }
    assert cells == {
        "bot_name": "Shop bot",
        "bot_id": webhook.bot_id,
        "instance": "- (the bot's first channel)",
        "version": "V2",
        "mode": "async",
        "post_url_set": "False",
    }
    assert webhook.client_secret not in page
