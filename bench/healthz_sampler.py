"""Ask /healthz every ~50 ms on a fresh connection, as a load balancer would, and append
`start latency status` lines to a file until terminated. Its own process, so that the
benchmark's busy event loop cannot delay the samples.

Usage: python bench/healthz_sampler.py PORT OUTPUT [INTERVAL_S]
"""

from __future__ import annotations

import http.client
import signal
import sys
import time


def main(port: int, output: str, interval: float) -> None:
    running = True

    def stop(signum: int, frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    with open(output, "a", buffering=1) as out:
        while running:
            start = time.time()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("GET", "/healthz")
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0
            elapsed = time.time() - start
            out.write(f"{start:.6f} {elapsed:.6f} {status}\n")
            time.sleep(max(0.0, interval - elapsed))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.05)
