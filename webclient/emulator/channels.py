"""Webhook channels as plain values, so background threads never touch the ORM."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from webclient.emulator.models import EmulatedWebhook


@dataclass(frozen=True)
class Channel:
    bot_id: str
    instance_id: str
    bot_name: str
    client_id: str
    client_secret: str
    version: int
    is_async: bool
    polling: bool
    post_url: str

    @classmethod
    def from_model(cls, webhook: EmulatedWebhook) -> Channel:
        return cls(
            bot_id=webhook.bot_id,
            instance_id=webhook.instance_id,
            bot_name=webhook.bot_name,
            client_id=webhook.client_id,
            client_secret=webhook.client_secret,
            version=webhook.version,
            is_async=webhook.is_async,
            polling=webhook.polling,
            post_url=absolute_url(webhook.post_url),
        )

    @property
    def channel_type(self) -> str:
        """What the Web SDK calls the channel in history URLs: `ivr` or the instance id."""
        return self.instance_id or "ivr"


def absolute_url(post_url: str) -> str:
    # Relative POST_URLs follow SITE_ROOT so that seeded demo bots work on any host.
    if post_url.startswith("/"):
        return settings.SITE_ROOT.rstrip("/") + post_url
    return post_url


async def channel(bot_id: str, instance_id: str) -> Channel | None:
    webhook = await EmulatedWebhook.objects.filter(bot_id=bot_id, instance_id=instance_id).afirst()
    return Channel.from_model(webhook) if webhook else None


async def bot_channels(bot_id: str) -> list[Channel]:
    return [Channel.from_model(w) async for w in EmulatedWebhook.objects.filter(bot_id=bot_id)]
