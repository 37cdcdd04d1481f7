"""Long-polls are admitted a few per turn of the event loop during a burst."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from webclient.api.admission import admitted


class TurnCounter:
    """Counts the turns of the running loop (a callback that reschedules itself)."""

    def __init__(self) -> None:
        self.turn = 0
        self._loop = asyncio.get_running_loop()
        self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.turn += 1
        self._loop.call_soon(self._tick)


def test_a_burst_of_polls_is_admitted_a_few_per_turn_in_arrival_order(settings: Any) -> None:
    settings.LONGPOLL_ADMIT_PER_TURN = 4

    async def scenario() -> tuple[list[int], Counter[int], int]:
        turns = TurnCounter()
        order: list[int] = []
        per_turn: Counter[int] = Counter()

        async def poll(n: int) -> None:
            await admitted()
            order.append(n)
            per_turn[turns.turn] += 1

        async def other_request() -> int:
            # Not a long-poll: it runs at once, however many polls wait.
            return turns.turn

        polls = [asyncio.ensure_future(poll(n)) for n in range(40)]
        await asyncio.sleep(0)
        served_at = await other_request()
        await asyncio.gather(*polls)
        return order, per_turn, served_at

    order, per_turn, served_at = asyncio.run(scenario())
    assert order == list(range(40))
    assert max(per_turn.values()) == 4
    assert len(per_turn) >= 10
    assert served_at <= 2


def test_with_no_burst_a_poll_is_admitted_without_waiting_a_turn(settings: Any) -> None:
    settings.LONGPOLL_ADMIT_PER_TURN = 4

    async def scenario() -> bool:
        entered = asyncio.ensure_future(admitted())
        await asyncio.sleep(0)  # one turn: enough only if it never waited
        return entered.done()

    assert asyncio.run(scenario())
