"""The production server's transport (kore_chat/serve.py): a response's head waits for its
body so that both leave in one send, and nothing is lost, reordered or held for long."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import uvloop

from kore_chat.serve import MAX_JOINED_BODY, HeadWithBody

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"

Steps = Callable[[HeadWithBody, Callable[[], bytes]], Awaitable[None]]


def run(steps: Steps) -> None:
    """`steps` against a wrapped uvloop transport whose peer reads what was sent so far."""

    async def main() -> None:
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)

        def received() -> bytes:
            chunks: list[bytes] = []
            while True:
                try:
                    chunk = theirs.recv(1 << 20)
                except BlockingIOError:
                    return b"".join(chunks)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

        try:
            await steps(HeadWithBody(transport, loop), received)
        finally:
            transport.close()
            theirs.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def test_a_head_waits_for_its_body_and_leaves_with_it() -> None:
    async def steps(transport: HeadWithBody, received: Callable[[], bytes]) -> None:
        transport.write(HEAD)
        assert received() == b""
        transport.write(b"{}")
        assert received() == HEAD + b"{}"

    run(steps)


def test_a_head_without_a_body_leaves_by_the_end_of_the_loops_iteration() -> None:
    async def steps(transport: HeadWithBody, received: Callable[[], bytes]) -> None:
        transport.write(HEAD)
        await asyncio.sleep(0)
        assert received() == HEAD

    run(steps)


def test_closing_sends_a_held_head_first() -> None:
    async def steps(transport: HeadWithBody, received: Callable[[], bytes]) -> None:
        transport.write(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")
        transport.close()
        await asyncio.sleep(0.01)
        assert received() == b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"

    run(steps)


def test_a_large_body_follows_its_head_in_order() -> None:
    async def steps(transport: HeadWithBody, received: Callable[[], bytes]) -> None:
        body = b"x" * (MAX_JOINED_BODY + 1)
        transport.write(HEAD)
        transport.write(body)
        got = b""
        for _ in range(100):
            got += received()
            if len(got) >= len(HEAD + body):
                break
            await asyncio.sleep(0.01)
        assert got == HEAD + body

    run(steps)


def test_an_interim_100_continue_is_sent_at_once() -> None:
    async def steps(transport: HeadWithBody, received: Callable[[], bytes]) -> None:
        transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert received() == b"HTTP/1.1 100 Continue\r\n\r\n"

    run(steps)
