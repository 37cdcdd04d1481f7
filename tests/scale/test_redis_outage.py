"""A Redis outage: the shared cache goes away and comes back, and the service keeps working.

With REDIS_URL set, killing Redis made every token request, send, refresh and upload a 500
(the rate-limit counter's ConnectionError) while `/readyz` stayed green. The test starts a
redis-server of its own (tests/servers.py), kills it and starts it again on the same port.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.client import ChatUser
from tests.liveserver import LiveServer
from tests.servers import redis_server
from tests.waiting import wait_until
from tests.widget.files import PNG

OUTAGE_WARNING = "the shared cache is unreachable"


def ready(server: LiveServer) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{server.url}/readyz", timeout=10)
    return answer.status_code, answer.json()


def every_write(server: LiveServer) -> list[int]:
    """Statuses of a token request, a send, a refresh and an upload."""
    user = ChatUser(server.url)  # raises on a refused token request
    sent = user.send(text="hello")
    refreshed = user.http.post("/api/v1/sts/refresh")
    uploaded = user.http.post("/api/v1/attachments", files={"file": ("dot.png", PNG, "image/png")})
    return [200, sent.status_code, refreshed.status_code, uploaded.status_code]


def test_with_redis_down_every_write_still_works_readyz_says_so_and_all_recovers(
    tmp_path: Path,
) -> None:
    with redis_server(tmp_path) as cache:
        server = LiveServer(
            tmp_path / "db.sqlite3",
            {
                "REDIS_URL": cache.url,
                "CACHE_KEY_PREFIX": f"outage-{uuid.uuid4().hex[:8]}",
                "RATELIMIT_STS_PER_IP": "1000",
                "RATELIMIT_SEND_PER_IP": "1000",
                "KORE_DISPATCHER": "false",
            },
        )
        server.migrate()
        server.start()
        try:
            assert every_write(server) == [200, 202, 200, 201]
            assert ready(server) == (200, {"status": "ready", "bots": ready(server)[1]["bots"]})
            client = redis.Redis.from_url(cache.url)
            assert client.keys("*ratelimit*"), "the counters were not in Redis"

            cache.kill()
            for _ in range(3):
                assert every_write(server) == [200, 202, 200, 201]
            status, body = ready(server)
            assert (status, body["status"], body["down"]) == (200, "degraded", ["redis"])
            # One warning for the outage, not one per request.
            assert server.log_path.read_text().count(OUTAGE_WARNING) == 1

            cache.start()
            assert wait_until(lambda: ready(server)[1]["status"] == "ready", timeout=30)
            assert every_write(server) == [200, 202, 200, 201]
            # Counting is shared again.
            assert wait_until(lambda: bool(client.keys("*ratelimit*")), timeout=10)
        finally:
            server.stop()
