"""`python -m bench.serve`: the product's server, as `python -m kore_chat.serve` runs it
(same uvicorn options: slow-client deadlines, backlog, open-file limit), serving the
benchmark's application (bench/server.py), optionally with several worker processes.
"""

from __future__ import annotations

import argparse
import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from kore_chat.serve import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    args = parser.parse_args()
    serve(
        "bench.server:application",
        args.host,
        args.port,
        access_log=args.access_log,
        workers=args.workers,
    )


if __name__ == "__main__":
    main()
