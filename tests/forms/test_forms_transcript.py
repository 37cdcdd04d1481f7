"""A submitted form in the transcript: secrets are masked in what is shown, and still
forwarded to the bot."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.forms.test_forms import FORM_ID, PIN, data, valid
from webclient import services
from webclient.api.serializers import messages_output
from webclient.examples import demo_form
from webclient.kore.payloads import BotItem, request_body
from webclient.models import Message


@pytest.fixture(autouse=True)
def no_forwarding(settings: SettingsWrapper) -> None:
    settings.KORE_DISPATCHER = False


def test_a_pin_is_never_shown_in_the_transcript_but_goes_to_the_bot(demo: Any) -> None:
    conversation = services.conversation_get_or_create(bot=demo, identity="pin-holder")
    services.bot_messages_store(conversation=conversation, items=[BotItem({"form": demo_form()})])
    message, created = services.user_message_accept(
        bot=demo,
        identity="pin-holder",
        body={"formData": {"formId": FORM_ID, "data": data({**valid(), PIN: "80734"})}},
        client_message_id="form-1",
    )
    assert created
    assert message.kind == Message.Kind.FORM
    assert "Online banking PIN" in message.html
    assert "••••••" in message.html
    for shown in conversation.messages.all():
        assert "80734" not in shown.text
        assert "80734" not in shown.html
    body = request_body(demo, conversation, message)
    forwarded = body["message"]["val"]
    assert isinstance(forwarded, dict)
    assert {"componentId": PIN, "input": "80734"} in forwarded["data"]


def test_a_pin_is_masked_in_the_messages_the_api_answers_with(demo: Any) -> None:
    conversation = services.conversation_get_or_create(bot=demo, identity="pin-reader")
    services.bot_messages_store(conversation=conversation, items=[BotItem({"form": demo_form()})])
    message, _ = services.user_message_accept(
        bot=demo,
        identity="pin-reader",
        body={"formData": {"formId": FORM_ID, "data": data({**valid(), PIN: "80734"})}},
        client_message_id="form-2",
    )
    # What the long-poll and the send answer both serialise a message with.
    (shown,) = messages_output([message])
    assert "80734" not in json.dumps(shown)
    assert {"componentId": PIN, "input": "••••••"} in shown["data"]["formData"]["data"]
    assert message.data is not None
    assert {"componentId": PIN, "input": "80734"} in message.data["formData"]["data"]
