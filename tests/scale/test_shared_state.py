"""Shared state across workers: with REDIS_URL, rate-limit counters are Redis's, not each
worker's own."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx

from tests.scale.cluster import cluster
from tests.servers import redis_url


def token_requests(url: str, count: int) -> list[int]:
    return [
        httpx.post(f"{url}/api/v1/sts", json={"bot": "demo"}, timeout=10).status_code
        for _ in range(count)
    ]


def test_rate_limit_counters_are_shared_by_workers_through_redis(tmp_path: Path) -> None:
    env = {
        "REDIS_URL": redis_url(),
        # Keys of this test's own: parallel runs share the Redis server.
        "CACHE_KEY_PREFIX": f"kc-test-{secrets.token_hex(6)}",
        "RATELIMIT_ENABLED": "true",
        "RATELIMIT_STS_PER_IP": "4",
    }
    with cluster(tmp_path, 2, env) as group:
        a, b = group.workers
        # Four token requests from this address, two through each worker: the limit.
        assert token_requests(a.url, 2) + token_requests(b.url, 2) == [200] * 4
        # The fifth is refused by either worker, as each sees the other's count.
        assert token_requests(a.url, 1) == [429]
        assert token_requests(b.url, 1) == [429]
