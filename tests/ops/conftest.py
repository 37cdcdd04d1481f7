"""Fixtures of the operator tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ops.story import Story, tell_story
from webclient.models import Bot


@pytest.fixture
def story(demo: Bot, settings: Any) -> Story:
    settings.KORE_DISPATCHER = False  # nothing leaves: the outbox keeps what it gets
    return tell_story(demo)
