"""The benchmark server's settings: the product's, plus an in-memory Channels layer for the
WebSocket baseline (bench/server.py). Channels is a benchmark dependency only."""

from __future__ import annotations

from kore_chat.settings import *  # noqa: F403

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
