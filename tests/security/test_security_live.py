"""Attacks on the running server, started the documented way (tests/liveserver.py).

Each test is one class of attack from the red-team review (docs/security.md): bodies that
make a check super-linear, secrets in logs, forged X-Forwarded-For, HEAD long-polls that
hold threads, and slow clients.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from tests.client import ChatUser
from tests.liveserver import LiveServer
from tests.relay_helpers import final_history, has_bot_text
from tests.waiting import wait_until

API_CAP = 64 * 1024
METRICS = "metrics-token-for-the-live-security-tests"


def started(
    tmp_path_factory: pytest.TempPathFactory, name: str, access_log: bool = False, **env: str
) -> LiveServer:
    server = LiveServer(tmp_path_factory.mktemp(name) / "db.sqlite3", env, access_log=access_log)
    server.migrate()
    return server.start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = started(
        tmp_path_factory,
        "live",
        METRICS_TOKEN=METRICS,
        RATELIMIT_ENABLED="false",
        HTTP_HEADER_TIMEOUT="2",
        HTTP_BODY_TIMEOUT="3",
    )
    yield live
    live.stop()


def at_cap(prefix: str, unit: str, cap: int = API_CAP) -> bytes:
    body = prefix + unit * ((cap - len(prefix)) // len(unit))
    return body.encode()[:cap]


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# Unterminated strings full of escapes, brackets inside strings, deep nesting, form bodies
# of nothing but separators or broken escapes: each made some check before or during
# parsing super-linear, or could.
PATHOLOGICAL = {
    "escaped quotes": (JSON, at_cap('{"a":"', '\\"')),
    "backslashes": (JSON, at_cap('{"a":"', "\\")),
    "quote after backslashes": (JSON, at_cap('{"a":"', '\\\\\\"')),
    "brackets in a string": (JSON, at_cap('{"a":"', "[{")),
    "escaped quotes and brackets": (JSON, at_cap('{"a":"', '\\"[{')),
    "bare quotes": (JSON, at_cap("", '"')),
    "quote bracket pairs": (JSON, at_cap("", '"[')),
    "deep nesting": (JSON, at_cap("", "[")),
    "many short strings": (JSON, at_cap("[", '"",')),
    "huge number": (JSON, at_cap('{"a":', "9")),
    "form separators": (FORM, at_cap("bot=", "&")),
    "form broken escapes": (FORM, at_cap("bot=", "%")),
    "form many fields": (FORM, at_cap("", "a=1&")),
}


def timed_post(url: str, content_type: str, body: bytes) -> tuple[float, int]:
    start = time.perf_counter()
    answer = httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=20)
    return time.perf_counter() - start, answer.status_code


def server_cpu(server: LiveServer) -> float:
    """CPU seconds the server's processes have used so far: unlike the wall clock, not
    stretched by whatever else the machine runs."""
    process = psutil.Process(server.pid)
    used = 0.0
    for each in [process, *process.children(recursive=True)]:
        times = each.cpu_times()
        used += times.user + times.system
    return used


def posts_costing(
    server: LiveServer, url: str, content_type: str, body: bytes
) -> tuple[float, list[tuple[float, int]]]:
    """The server's CPU seconds for five posts of this body, and each post's time and status."""
    before = server_cpu(server)
    answers = [timed_post(url, content_type, body) for _ in range(5)]
    return server_cpu(server) - before, answers


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_a_pathological_body_at_the_cap_is_answered_at_once_while_others_are_served(
    server: LiveServer, name: str
) -> None:
    content_type, body = PATHOLOGICAL[name]
    assert len(body) <= API_CAP
    url = f"{server.url}/api/v1/sts"
    # Against a benign body of the same size and type, answered the same 4xx way: the
    # pathological one may cost the server no more than a small multiple of its CPU, or
    # 100 ms a request (a backtracking or quadratic parse costs seconds). CPU time, not the
    # wall clock: the machine is shared with other work.
    plain = (JSON, at_cap('{"a":"', "a")) if content_type == JSON else (FORM, at_cap("a=", "a"))
    baseline, _ = posts_costing(server, url, *plain)
    cost, times = posts_costing(server, url, content_type, body)
    assert all(400 <= status < 500 for _, status in times), times
    assert cost < max(0.5, 4 * baseline), (baseline, cost)

    quiet = [timed_get(f"{server.url}/healthz") for _ in range(5)]
    health: list[float] = []
    stop = threading.Event()

    def attack() -> None:
        while not stop.is_set():
            timed_post(url, content_type, body)

    attackers = [threading.Thread(target=attack) for _ in range(2)]
    for thread in attackers:
        thread.start()
    try:
        health = [timed_get(f"{server.url}/healthz") for _ in range(10)]
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    # /healthz waits at most for a request or two in flight, never for seconds.
    limit = max(0.2, 5 * statistics.median(quiet) + 2 * max(seconds for seconds, _ in times))
    assert statistics.median(health) < limit, (quiet, health)


def timed_get(url: str) -> float:
    start = time.perf_counter()
    assert httpx.get(url, timeout=20).status_code == 200
    return time.perf_counter() - start


def bot_secret(server: LiveServer, slug: str) -> str:
    return server.shell(
        f"from webclient.models import Bot\nprint(Bot.objects.get(slug={slug!r}).callback_secret)"
    )


def test_no_secret_reaches_any_log_line_at_debug_level(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    live = started(
        tmp_path_factory, "logs", access_log=True, LOG_LEVEL="DEBUG", RATELIMIT_ENABLED="false"
    )
    try:
        slug = "demo-v1-async"
        secret = bot_secret(live, slug)
        guess = "guessed-secret-0123456789"
        # The relay calls the emulator, which calls our POST_URL back with the secret.
        user = ChatUser(live.url, bot=slug)
        assert user.send(text="hello").status_code == 202
        final_history(user, has_bot_text("Nice to meet you"), timeout=20)
        # A delivery with the secret, a guess, and a guess without the trailing slash.
        for path in (f"{slug}/{secret}/", f"{slug}/{guess}/", f"demo/{guess}"):
            httpx.post(f"{live.url}/hooks/kore/{path}", json={"text": "x"}, timeout=10)
        # A direct link vouching for a user (its hash never expires) and a signed link to
        # an attachment (it works for a day): both are credentials.
        identity_hash = "9f" * 32
        page = httpx.get(
            f"{live.url}/",
            params={"bot": "demo", "identity": "alice", "identityHash": identity_hash},
        )
        assert page.status_code == 200
        uploaded = user.http.post(
            "/api/v1/attachments", files={"file": ("note.txt", b"hello", "text/plain")}
        )
        assert uploaded.status_code == 201
        signed = uploaded.json()["url"].rsplit("/", 1)[1]
        assert httpx.get(f"{live.url}/attachments/{signed}").status_code == 200
        # granian writes a request's access line once the application has returned, which a
        # streamed file's may do after its client has the whole answer.
        deadline = time.monotonic() + 10
        while '"GET /attachments/' not in live.log_path.read_text():
            assert time.monotonic() < deadline, "no access line for the attachment"
            time.sleep(0.05)
    finally:
        live.stop()
    log = live.log_path.read_text()
    assert secret not in log
    assert guess not in log
    assert user.token not in log
    assert identity_hash not in log
    for part in signed.split(":"):
        assert part not in log
    assert "identityHash=*** HTTP/1.1" in log
    assert '"GET /attachments/*** HTTP/1.1" 200' in log
    # The lines are there, redacted: the access log and the relay's HTTP client log.
    assert f'"POST /hooks/kore/{slug}/***/ HTTP/1.1"' in log
    assert "HTTP Request: POST" in log


def sts_statuses(server: LiveServer, forwarded: list[str]) -> list[int]:
    return [
        httpx.post(
            f"{server.url}/api/v1/sts",
            json={"bot": "demo"},
            headers={"X-Forwarded-For": hop, "X-Real-IP": hop},
            timeout=10,
        ).status_code
        for hop in forwarded
    ]


def test_x_forwarded_for_from_an_untrusted_peer_does_not_dodge_per_ip_limits(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    live = started(tmp_path_factory, "xff", RATELIMIT_STS_PER_IP="3")
    try:
        statuses = sts_statuses(live, [f"203.0.113.{n}" for n in range(5)])
    finally:
        live.stop()
    assert statuses == [200, 200, 200, 429, 429]


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    live = started(
        tmp_path_factory, "xff-trusted", RATELIMIT_STS_PER_IP="2", TRUSTED_PROXIES="127.0.0.1"
    )
    try:
        # The proxy appended each client; what a client wrote left of it changes nothing.
        distinct = sts_statuses(live, [f"203.0.113.{n}" for n in range(3)])
        same = sts_statuses(live, [f"198.51.100.{n}, 192.0.2.7" for n in range(3)])
    finally:
        live.stop()
    assert distinct == [200, 200, 200]
    assert same == [200, 200, 429]


def test_head_long_polls_hold_no_thread(server: LiveServer) -> None:
    user = ChatUser(server.url)
    before = server.threads()
    url = f"{server.url}/api/v1/messages?after=0&wait=20"
    headers = {"Authorization": f"Bearer {user.token}"}

    def head() -> tuple[int, float]:
        start = time.perf_counter()
        answer = httpx.head(url, headers=headers, timeout=30)
        return answer.status_code, time.perf_counter() - start

    with ThreadPoolExecutor(100) as pool:
        answers = [pool.submit(head) for _ in range(100)]
        # Every poll arrived: held, or answered at once (one identity may hold only a few).
        wait_until(
            lambda: sum(answer.done() for answer in answers) + held_polls(server) == 100,
            message="the polls never all arrived",
        )
        during = server.threads()
        # A message of the conversation answers them all.
        assert user.send(text="wake up").status_code == 202
        results = [answer.result() for answer in answers]
    assert all(status == 200 for status, _ in results)
    assert during - before < 10, (before, during)


def held_polls(server: LiveServer) -> float:
    answer = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS}"}, timeout=10
    )
    answer.raise_for_status()
    for line in answer.text.splitlines():
        if line.startswith("kore_chat_longpolls_held "):
            return float(line.split()[1])
    raise AssertionError("no kore_chat_longpolls_held in /metrics")


def open_socket(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.setblocking(False)
    return sock


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b"" or closed(sock)
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_slow_clients_are_cut_off_within_the_configured_timeouts(server: LiveServer) -> None:
    request = b"POST /api/v1/sts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    body_request = request + b"Content-Length: 5000\r\n\r\n"
    drips: list[tuple[socket.socket, bytes]] = []
    for _ in range(20):  # headers a byte at a time
        drips.append((open_socket(server), request + b"X-Slow: " + b"a" * 1000))
    for _ in range(15):  # complete headers, then the body a byte at a time
        sock = open_socket(server)
        sock.sendall(body_request)
        drips.append((sock, b"{" * 5000))
    for _ in range(5):  # a finished request, then the next one a byte at a time
        sock = open_socket(server)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        drips.append((sock, request))
    opened = time.monotonic()
    cut: dict[int, float] = {}
    while len(cut) < len(drips) and time.monotonic() - opened < 10:
        for index, (sock, data) in enumerate(drips):
            if index in cut:
                continue
            position = int((time.monotonic() - opened) / 0.2)
            try:
                sock.send(data[position : position + 1])
            except OSError:
                cut[index] = time.monotonic() - opened
                continue
            if closed(sock):
                cut[index] = time.monotonic() - opened
        time.sleep(0.2)
    for sock, _ in drips:
        sock.close()
    # Headers within 2 s (of the opening, or of the previous response), the body within
    # 3 s of its headers.
    assert len(cut) == len(drips), f"{len(drips) - len(cut)} slow connections still open"
    assert max(cut.values()) < 5, cut
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def status_of(server: LiveServer, head: bytes, piece: int) -> int:
    """The status answered to `head` written `piece` bytes at a time (0 if none came)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        try:
            for start in range(0, len(head), piece):
                sock.sendall(head[start : start + piece])
                time.sleep(0.005 if piece < len(head) else 0)
        except OSError:
            pass  # refused and closed while we were still writing
        try:
            status_line = sock.recv(4096).split(b"\r\n", 1)[0]
        except OSError:
            return 0
    return int(status_line.split()[1]) if status_line else 0


def test_headers_beyond_16_kb_are_refused_however_they_are_written(server: LiveServer) -> None:
    def request(*headers: bytes) -> bytes:
        return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(headers) + b"\r\n"

    one_long = request(b"X-Long: " + b"a" * 20_000 + b"\r\n")
    many = request(*(b"X-Many-%d: %s\r\n" % (n, b"b" * 1000) for n in range(20)))
    assert status_of(server, request(b"X-Fits: " + b"a" * 12_000 + b"\r\n"), 100_000) == 200
    assert status_of(server, one_long, 100_000) == 431
    assert status_of(server, many, 100_000) == 431
    assert status_of(server, one_long, 1000) == 431
    # A header still arriving is counted too, before the parser hands it over.
    assert status_of(server, one_long[:-4], 1000) == 431
    assert status_of(server, many, 1000) == 431
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_an_unfinished_header_over_16_kb_written_at_once_is_refused(server: LiveServer) -> None:
    # The request line and a first header complete, then 130 KB of a header that never
    # ends, in one write: refused at once, not held until the header deadline.
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 130_000
    started = time.monotonic()
    assert status_of(server, head, len(head)) == 431
    # The fixture's header deadline is 2 s: an answer before it is the refusal's.
    assert time.monotonic() - started < 2
    unfinished_second = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b\r\nX-Long: "
    assert status_of(server, unfinished_second + b"a" * 17_000, 100_000) == 431
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def answer_to_unfinished_body(server: LiveServer, head: bytes, body: bytes) -> bytes:
    """What the server answers to `head` and the start of a body that never ends: b"" if
    it answers nothing before its body deadline."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    return answer


@pytest.mark.parametrize("path", ["/api/v1/sts", "/api/v1/attachments", "/", "/admin/login/"])
def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(
    server: LiveServer, path: str
) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Origin: http://localhost:9\r\nContent-Length: {1 << 30}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = answer_to_unfinished_body(server, head, b"{" * 1000)
    # Answered before the fixture's 3 s body deadline: at once, not after reading 1 GiB.
    assert time.monotonic() - started < 3, answer[:200]
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":"body_too_large"' in answer
    assert b"connection: close" in answer.lower()
    # A cross-origin widget (a demo bot allows loopback pages) can read the refusal.
    allowed = b"access-control-allow-origin: http://localhost:9" in answer.lower()
    assert allowed == path.startswith("/api/")


def test_a_chunked_body_is_refused_once_it_passes_the_cap(server: LiveServer) -> None:
    head = (
        b"POST /api/v1/sts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (API_CAP // 4, b"[" * (API_CAP // 4))
    # Past the cap and unfinished: the body's end never comes.
    answer = answer_to_unfinished_body(server, head, chunk * 5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"code":"body_too_large"' in answer


def test_no_access_log_means_no_access_line(server: LiveServer) -> None:
    # --no-access-log (the tests' servers pass it) holds whatever Django's logging setup,
    # run when the application loads, configures.
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert "granian.access" not in server.log_path.read_text()
