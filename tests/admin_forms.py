"""Posting the bot admin form as a person would."""

from __future__ import annotations

from webclient.models import Bot


def bot_form(bot: Bot, **changes: str) -> dict[str, str]:
    data = {
        "slug": bot.slug,
        "name": bot.name,
        "enabled": "on",
        "upstream_url": bot.upstream_url,
        "bot_id": bot.bot_id,
        "client_id": bot.client_id,
        "client_secret": "",
        "api_version": str(bot.api_version),
        "mode": bot.mode,
        "hook_instance_id": bot.hook_instance_id,
        "callback_secret": "",
        "identity_mode": bot.identity_mode,
        "jwt_algorithm": bot.jwt_algorithm,
        "jwe_alg": bot.jwe_alg,
        "jwe_enc": bot.jwe_enc,
        "preferred_channel": bot.preferred_channel,
        "identity_secret": "",
        "allowed_origins": bot.allowed_origins,
        "custom_data": "{}",
        "meta_tags": "{}",
        "theme_launcher_position": bot.theme_launcher_position,
        "theme_color_scheme": bot.theme_color_scheme,
    }
    data.update(changes)
    return data
