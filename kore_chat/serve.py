"""`python -m kore_chat.serve`: the one documented way to run kore-chat (`make run`,
docs/deployment.md). It runs granian (an HTTP server written in Rust on hyper, serving
ASGI) on kore_chat.asgi:application, through granian's public Python API, configured from
our settings:

- slow clients: a request's line and headers must arrive within HTTP_HEADER_TIMEOUT
  (granian's HTTP/1 `header_read_timeout`, which also ends a keep-alive connection idle for
  as long); its body within HTTP_BODY_TIMEOUT of its headers (kore_chat/bodydeadline.py,
  as granian has no body deadline), else 408;
- headers: at most 16 KB (granian's HTTP/1 buffer size; more is answered 431);
- forwarded headers: believed only from TRUSTED_PROXIES, through granian's own ASGI
  wrapper (granian.utils.proxies), and not at all when the list is empty;
- logging: Django's LOGGING, whose filter redacts secrets, for granian's loggers too, and
  its access lines in our format (webclient/logs.py); --no-access-log turns them off;
- many open widgets: the process's open-file limit raised to the system's maximum, and
  granian's backpressure (the requests a worker takes on at once, held polls included)
  bound by it rather than by the listen backlog (HTTP_BACKLOG).

Options: --host (default 127.0.0.1, or $HOST), --port (8000, or $PORT), --workers (1, or
$WEB_CONCURRENCY: several need PostgreSQL, docs/deployment.md) and --no-access-log;
everything else comes from the settings.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import resource
import signal
import sys
from functools import partial
from importlib import import_module
from typing import Any

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.utils.proxies import wrap_asgi_with_proxy_headers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kore_chat.settings")

from django.conf import settings

from kore_chat.bodydeadline import body_deadline

log = logging.getLogger(__name__)

# What a request may spend on its request line and headers: h11's limit, which uvicorn's
# pure-Python protocol enforced. granian's HTTP/1 read buffer holds a request's head
# whole, and a head that does not fit it is answered 431 (hyper's rule).
MAX_HEADER_BYTES = 16 * 1024
# granian takes the header deadline in milliseconds, up to a minute (its command line's
# bounds).
MAX_HEADER_TIMEOUT = 60
# The access line: as uvicorn's was (client, method, target, HTTP version, status), which
# webclient.logs.AccessLine rebuilds from granian's fields.
ACCESS_FORMAT = '%(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d'


def header_timeout_error() -> str | None:
    """Why HTTP_HEADER_TIMEOUT cannot be granian's header deadline, if it cannot."""
    if not 1 <= settings.HTTP_HEADER_TIMEOUT <= MAX_HEADER_TIMEOUT:
        return f"HTTP_HEADER_TIMEOUT must be 1 to {MAX_HEADER_TIMEOUT} seconds (granian's bounds)"
    return None


def open_file_limit() -> int:
    """Each open widget holds a connection: allow as many open files as the system lets
    this process have (the soft limit is often 1,024); the limit then in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d: %s", soft, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# prctl(2)'s option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with(main_pid: int) -> None:
    """Have this worker killed when granian's main process dies, however it dies.

    granian runs the application in worker processes, even with one worker: killed with -9
    (by an operator, an out-of-memory killer, a test), its main process would leave them
    serving on the shared socket, unsupervised. Stopped normally, it stops them first.
    """
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != main_pid:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def wrapped(target: str, *, main_pid: int) -> Any:
    """The ASGI application `target` names ("module:attribute"), with what granian leaves
    to the application: the body deadline and, from trusted proxies, forwarded headers.
    granian calls this in each worker process, which it first ties to the main one."""
    die_with(main_pid)
    module, _, attribute = target.partition(":")
    app = body_deadline(getattr(import_module(module), attribute), settings.HTTP_BODY_TIMEOUT)
    trusted = list(settings.TRUSTED_PROXIES)
    return wrap_asgi_with_proxy_headers(app, trusted) if trusted else app


def granian_options(*, access_log: bool) -> dict[str, Any]:
    """granian's settings, derived from ours."""
    return {
        "interface": Interfaces.ASGI,
        "loop": Loops.uvloop,
        "http": HTTPModes.http1,
        "backlog": settings.HTTP_BACKLOG,
        # Each request in progress holds a descriptor, a held poll as much as any.
        "backpressure": open_file_limit(),
        "http1_settings": HTTP1Settings(
            header_read_timeout=settings.HTTP_HEADER_TIMEOUT * 1000,
            keep_alive=True,
            max_buffer_size=MAX_HEADER_BYTES,
        ),
        "log_level": LogLevels(settings.LOGGING["root"]["level"].lower()),
        "log_dictconfig": settings.LOGGING,
        "log_access": access_log,
        "log_access_format": ACCESS_FORMAT,
    }


def serve(app: str, host: str, port: int, *, access_log: bool, workers: int = 1) -> None:
    """Run `app` (an import string) as this module runs the product."""
    server = Granian(
        app, address=host, port=port, workers=workers, **granian_options(access_log=access_log)
    )
    server.serve(target_loader=partial(wrapped, main_pid=os.getpid()))


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
    if error := header_timeout_error():
        parser.error(error)
    serve(app, args.host, args.port, access_log=args.access_log, workers=args.workers)


if __name__ == "__main__":
    main()
