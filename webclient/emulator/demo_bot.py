"""The demo bot's script, the same in every webhook mode.

`reply()` decides what the bot says and when; the platform code decides how that travels
(sync body, poll chain, or callbacks). Times are seconds after the user's message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from webclient.emulator.inbound import Inbound
from webclient.emulator.wire import BotMessage, TaskEnd
from webclient.examples import demo_form, template_example, template_names

WELCOME = "Hi! I'm the demo bot. Type `hello`, `show all`, `form`, `slow 3`, or `fail 500`."
MAX_SLOW_SECONDS = 60
ERROR_STATUSES = range(400, 600)


@dataclass(frozen=True)
class Part:
    after: float
    messages: tuple[BotMessage, ...]


@dataclass(frozen=True)
class Turn:
    parts: tuple[Part, ...] = ()
    task: TaskEnd | None = None
    error_status: int | None = None

    @property
    def duration(self) -> float:
        return max((part.after for part in self.parts), default=0.0)

    @property
    def messages(self) -> list[BotMessage]:
        return [message for part in self.parts for message in part.messages]


def say(*values: str | dict[str, Any], task: TaskEnd | None = None) -> Turn:
    return Turn(parts=(Part(0.0, tuple(BotMessage(v) for v in values)),), task=task)


def fulfilled(name: str) -> TaskEnd:
    return TaskEnd(end_of_task=True, end_reason="Fulfilled", task_name=name)


def reply(inbound: Inbound, *, session_open: bool = True) -> Turn:
    if inbound.kind == "event":
        return _event(inbound.text, session_open)
    if inbound.kind == "form":
        return _form_submission(inbound.form_data or {})
    return _utterance(inbound.text.strip())


def _event(name: str, session_open: bool) -> Turn:
    if name == "ON_CONNECT":
        # V1 carries the welcome as a `{"text": …}` object, so all three `text` shapes occur;
        # V2 sends it as a plain string (webclient/emulator/wire.py).
        # Kore's own sample welcome ends a task ("welcome_task", add-webhook-channel.md,
        # "Change Conversation Language Response").
        return Turn(
            parts=(Part(0.0, (BotMessage({"text": WELCOME}),)),), task=fulfilled("welcome_task")
        )
    if name == "SESSION_CLOSURE":
        outcome = "SESSION_CLOSURE_SUCCESS" if session_open else "SESSION_CLOSURE_IGNORED"
        # Kore's documented descriptions ("Close Conversation Session Event Responses").
        description = (
            "session closed successfully" if session_open else "Active session doesn't exist"
        )
        return Turn(parts=(Part(0.0, (BotMessage(description, event_type=outcome),)),))
    return Turn()


def _utterance(text: str) -> Turn:
    command, _, argument = text.partition(" ")
    command, argument = command.lower(), argument.strip()
    if command in ("hello", "hi"):
        return say("Hello! Nice to meet you.", task=fulfilled("Greeting"))
    if command == "show" and argument:
        return _show(argument)
    if command == "form" and not argument:
        return _form()
    if command == "slow":
        return _slow(argument)
    if command == "fail":
        return _fail(argument)
    return say(f"You said: {text}", task=fulfilled("Echo"))


def _show(template_type: str) -> Turn:
    if template_type.lower() == "all":
        names = ", ".join(template_names())
        return say(
            f"Templates I can show: {names}. Type `show` and one of these names, "
            "e.g. `show carousel`.",
            task=fulfilled("Show all"),
        )
    template = template_example(template_type)
    if template is None:
        return say(
            f"I have no `{template_type}` template. Type `show all` to list them.",
            task=fulfilled("Show template"),
        )
    return say(template, task=fulfilled("Show template"))


def _form() -> Turn:
    form = demo_form()
    if not form.get("formDef"):
        return say("The demo form is not available yet.", task=fulfilled("Form"))
    message = BotMessage("Please fill in the demo form.", form=form)
    # The task stays open until the form comes back.
    return Turn(parts=(Part(0.0, (message,)),), task=TaskEnd(end_of_task=False))


def _form_submission(form_data: dict[str, Any]) -> Turn:
    components = {c.get("_id"): c for c in _components(demo_form().get("formDef", {}))}
    answers: list[str] = []
    for entry in form_data.get("data", []):
        component = components.get(entry.get("componentId"), {})
        if component.get("type") == "button":
            if _button_action(component) == "cancel":
                return say(
                    "Form cancelled.",
                    task=TaskEnd(end_of_task=True, end_reason="Cancelled", task_name="Form"),
                )
            continue
        label = _label(component) or entry.get("componentId", "?")
        answers.append(f"{label}: {_as_text(entry.get('input'))}")
    summary = ", ".join(answers) or "no answers"
    return say(f"Thanks, {summary}.", task=fulfilled("Form"))


def _components(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for component in node.get("components") or []:
        if isinstance(component, dict):
            yield component
            yield from _components(component)


def _button_action(component: dict[str, Any]) -> str | None:
    meta = component.get("metaData") or {}
    return component.get("buttonAction") or meta.get("buttonAction")


def _label(component: dict[str, Any]) -> str | None:
    meta = component.get("metaData") or {}
    return meta.get("displayName") or component.get("displayName") or component.get("name")


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return " & ".join(_as_text(v) for v in value)
    return "" if value is None else str(value)


def _slow(argument: str) -> Turn:
    if not re.fullmatch(r"\d+", argument) or int(argument) > MAX_SLOW_SECONDS:
        return say(
            f"`slow` takes a number of seconds from 0 to {MAX_SLOW_SECONDS}.",
            task=fulfilled("Slow"),
        )
    seconds = int(argument)
    # Three stages, so that V2 polling shows both `Inprogress` and a pollId chain.
    return Turn(
        parts=(
            Part(0.0, (BotMessage(f"Working on it, this takes {seconds} s…"),)),
            Part(seconds / 2, (BotMessage("Halfway there…"),)),
            Part(float(seconds), (BotMessage(f"Done after {seconds} s."),)),
        ),
        task=fulfilled("Slow"),
    )


def _fail(argument: str) -> Turn:
    if argument.isdigit() and int(argument) in ERROR_STATUSES:
        return Turn(error_status=int(argument))
    return say("`fail` takes an HTTP error status, e.g. `fail 503`.", task=fulfilled("Fail"))
