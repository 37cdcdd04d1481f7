"""`python -m kore_chat.serve`: the one documented way to run kore-chat (`make run`,
docs/deployment.md). It runs uvicorn on kore_chat.asgi:application, with its C parser
(httptools) on uvloop, and with what bare `uvicorn` would get wrong:

- logging: Django's LOGGING, whose filter redacts secrets, for uvicorn's own loggers too
  (its access log prints the callback URL, secret included);
- forwarded headers: believed only from TRUSTED_PROXIES (uvicorn trusts loopback's by
  default, so anyone on the host could pick the address per-IP rate limits count);
- slow clients: deadlines for a request's headers and body (HTTP_HEADER_TIMEOUT,
  HTTP_BODY_TIMEOUT), which uvicorn lacks: its only timeout is the idle keep-alive, and
  any byte restarts that. A client sending a byte a second kept its connection forever;
- headers: at most 16 KB (httptools has no limit of its own);
- --no-access-log: uvicorn's flag, which Django's logging setup undid;
- many open widgets: a listen backlog for a reconnect storm (HTTP_BACKLOG) and the
  process's open-file limit raised to the system's maximum.

Options: --host (default 127.0.0.1, or $HOST), --port (8000, or $PORT), --workers (1, or
$WEB_CONCURRENCY: several need PostgreSQL, docs/deployment.md) and --no-access-log;
everything else comes from the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kore_chat.settings")

from django.conf import settings

log = logging.getLogger(__name__)

# What a request may spend on its request line and headers (h11's limit, which uvicorn's
# pure-Python protocol enforced; httptools has none).
MAX_HEADER_BYTES = 16 * 1024
HEADERS, BODY = "headers", "body"


# A body up to this size goes out in one send() with its head (copying it costs less).
MAX_JOINED_BODY = 64 * 1024


class HeadWithBody:
    """A connection's transport as uvicorn's protocol sees it, writing a response's head
    and body in one send() instead of two (a send is a system call and, with TCP_NODELAY,
    a packet).

    uvicorn writes the status line and headers in one write and the body in the next: a
    head (a write starting with a final status line) is held until the next write, which
    it then precedes in one. Closing, the end of the event loop's iteration, or a large
    body write it out first: nothing is reordered or held past the iteration.
    """

    __slots__ = ("_head", "_loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if len(data) <= MAX_JOINED_BODY:
                self.transport.write(head + data)
                return
            self.transport.write(head)
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 1"):
            self._head = data
            self._loop.call_soon(self.flush)
            return
        self.transport.write(data)

    def flush(self) -> None:
        head, self._head = self._head, None
        if head is not None and not self.transport.is_closing():
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class HeadersTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into a parser error, which uvicorn
    answers with a 400 and a closed connection (as it did h11's)."""


class SlowClientTimeouts(HttpToolsProtocol):
    """uvicorn's httptools protocol (C parser) with a deadline on reading each request.

    The headers must arrive within HTTP_HEADER_TIMEOUT of the connection opening or of the
    previous response's end, the body within HTTP_BODY_TIMEOUT of the headers; past either,
    the connection is closed (the application, if it was reading the body, sees a
    disconnect). Nothing limits the time the application takes to answer: long-polls wait
    as long as they were asked to. The parser's callbacks say what the client still owes:
    headers from a message's beginning, its body once they are complete, nothing once the
    message is (until the response ends, unless another request was already read).

    Headers beyond MAX_HEADER_BYTES are refused: the request line and each header as the
    parser hands them over, plus what it has not handed over yet (a header still arriving),
    however the client split its writes. That rest is what a read brought beyond what the
    parser handed over from it (request lines, headers, bodies), plus any rest carried
    from earlier reads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn drops the access log's handlers for --no-access-log, and Django's setup
        # (loading the application) puts them back: the flag decides.
        self.access_log = self.access_log and self.config.access_log
        self._reading: str | None = HEADERS
        self._deadline: asyncio.TimerHandle | None = None
        self._armed_for: str | None = None
        self._header_bytes = 0
        # Bytes of the current message's head not handed over yet, and the bytes of the
        # current read the parser handed over.
        self._unfinished = 0
        self._handed = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = cast(asyncio.Transport, HeadWithBody(transport, self.loop))
        self._follow()

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol that takes the connection over gets the transport itself.
        self.transport = cast(HeadWithBody, self.transport).transport
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        carried = self._unfinished if self._reading is HEADERS else 0
        self._handed = 0
        super().data_received(data)
        if self._reading is HEADERS:
            # Handing over an element that began in an earlier read counts its carried
            # part again: hence the floor at 0.
            self._unfinished = max(0, carried + len(data) - self._handed)
            too_large = self._header_bytes + self._unfinished > MAX_HEADER_BYTES
            if too_large and not self.transport.is_closing():
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
        self._follow()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = HEADERS
        self._header_bytes = 0

    # The callbacks below run for every request line, header and body chunk: counted inline.
    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._handed += len(url)
        self._header_bytes += len(url)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise HeadersTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        size = len(name) + len(value) + 4
        self._handed += size
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise HeadersTooLarge

    def on_headers_complete(self) -> None:
        self._reading = BODY
        self._header_bytes = self._unfinished = 0
        # The method, the version and the line ends around them, besides the URL.
        self._handed += len(self.parser.get_method()) + len(" HTTP/1.1\r\n\r\n") + 1
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._handed += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._reading = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        super().on_response_complete()
        if self._reading is None and not queued:
            self._reading = HEADERS
        self._follow()

    def _follow(self) -> None:
        """Keep the one deadline that matches what the client still owes us."""
        if self._armed_for is self._reading:
            return
        self._disarm()
        if self._reading is not None:
            header = self._reading is HEADERS
            timeout = settings.HTTP_HEADER_TIMEOUT if header else settings.HTTP_BODY_TIMEOUT
            self._deadline = self.loop.call_later(timeout, self._timed_out)
            self._armed_for = self._reading

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._armed_for = None

    def _timed_out(self) -> None:
        what = self._armed_for
        self._deadline = None
        self._armed_for = None
        if not self.transport.is_closing():
            log.debug("closing a connection whose request %s came too slowly", what)
            self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """uvicorn's settings, derived from ours."""
    trusted = list(settings.TRUSTED_PROXIES)
    return {
        "http": SlowClientTimeouts,
        "loop": "uvloop",
        "log_config": settings.LOGGING,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "timeout_keep_alive": settings.HTTP_KEEPALIVE_TIMEOUT,
        "backlog": settings.HTTP_BACKLOG,
        "server_header": False,
    }


def raise_open_file_limit() -> None:
    """Each open widget holds a connection: allow as many open files as the system lets
    this process have (the soft limit is often 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)


def main(
    argv: list[str] | None = None,
    *,
    app: str = "kore_chat.asgi:application",
    prog: str = "python -m kore_chat.serve",
    description: str | None = __doc__,
) -> None:
    """The command line; the benchmark's server (bench/serve.py) runs its own `app` with it."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default=os.getenv("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.getenv("PORT", "8000")))
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.getenv("WEB_CONCURRENCY", "1")),
        help="worker processes (default $WEB_CONCURRENCY, else 1); more than one needs "
        "PostgreSQL (DATABASE_URL): see docs/deployment.md",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="no access log lines (the reverse proxy may keep them instead)",
    )
    args = parser.parse_args(argv)
    if args.workers > 1 and settings.NOTIFY_BACKEND == "local":
        # The local notifier wakes only its own process's polls, and knows each
        # conversation's newest message only because that process stores them all.
        parser.error(
            "several workers need a shared notifier: PostgreSQL (DATABASE_URL) or "
            "NOTIFY_BACKEND=redis (docs/deployment.md)"
        )
    serve(
        app,
        args.host,
        args.port,
        access_log=args.access_log,
        workers=args.workers,
    )


def serve(app: str, host: str, port: int, *, access_log: bool, workers: int = 1) -> None:
    """Run `app` (an import string) as this module runs the product."""
    raise_open_file_limit()
    uvicorn.run(
        app, host=host, port=port, access_log=access_log, workers=workers, **uvicorn_options()
    )


if __name__ == "__main__":
    main()
