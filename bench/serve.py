"""`python -m bench.serve`: the product's server, as `python -m kore_chat.serve` runs it
(same command line and granian options: slow-client deadlines, backlog, open-file limit),
serving the benchmark's application (bench/server.py), optionally with several worker
processes.
"""

from __future__ import annotations

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from kore_chat.serve import main as serve_main


def main() -> None:
    serve_main(app="bench.server:application", prog="python -m bench.serve", description=__doc__)


if __name__ == "__main__":
    main()
