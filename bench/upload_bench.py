"""How much server CPU one upload of a 10 MB file costs, for each allowed type.

Run: .venv/bin/python bench/upload_bench.py [--uploads 20]
Starts the product's server (production mode, one worker), uploads files of ATTACHMENT_MAX_BYTES
(10 MiB by default) of each allowed type to POST /api/v1/attachments, and reads the server
process's CPU time (user + system) before and after each upload. Prints the mean
milliseconds of server CPU per upload, per type; the budget is 50 ms. Results in
bench/results/upload.json.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PRODUCT_SERVE, check, command_line, save, server

BUDGET_MS = 50.0
SIZE = 10 * 1024 * 1024


def files() -> dict[str, tuple[str, bytes]]:
    """One file of each allowed type at the size cap; the text ones are what was costly."""
    noise = os.urandom(SIZE)
    line = "A line of plain text, and some more of it, for the benchmark.\n"
    accents = "Ünïcödé tëxt, ελληνικά, 日本語のテキスト, and emoji 🙂.\n"
    return {
        "text/plain (ASCII)": ("notes.txt", (line * (SIZE // len(line) + 1)).encode()[:SIZE]),
        "text/plain (UTF-8)": ("notes.txt", _utf8_prefix(accents, SIZE)),
        "image/png": ("photo.png", b"\x89PNG\r\n\x1a\n" + noise[8:]),
        "image/jpeg": ("photo.jpg", b"\xff\xd8\xff\xe0" + noise[4:]),
        "image/gif": ("anim.gif", b"GIF89a" + noise[6:]),
        "image/webp": ("photo.webp", b"RIFF\x00\x00\x00\x00WEBP" + noise[12:]),
        "application/pdf": ("doc.pdf", b"%PDF-1.7\n" + noise[9:]),
    }


def _utf8_prefix(text: str, size: int) -> bytes:
    """`text` repeated, cut to at most `size` bytes on a character boundary."""
    data = (text * (size // len(text.encode()) + 1)).encode()[:size]
    return data.decode("utf-8", errors="ignore").encode()


def main() -> None:
    options = command_line(__doc__, "upload.json", uploads=20)
    found: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        server(
            Path(tmp) / "db.sqlite3",
            {
                "MEDIA_ROOT": str(Path(tmp) / "media"),
                "ATTACHMENT_QUOTA_PER_IDENTITY": "0",
                "ATTACHMENT_QUOTA_PER_CONVERSATION": "0",
            },
            serve=PRODUCT_SERVE,
        ) as running,
    ):
        http = httpx.Client(base_url=running.url, timeout=60)
        # One user uploading again and again: what a file costs, not what a first request
        # costs (the conversation's creation). Quotas off, so that it may.
        token = http.post("/api/v1/sts", json={"bot": "demo"}).json()["jwt"]
        auth = {"Authorization": f"Bearer {token}"}
        for kind, (name, content) in files().items():
            # The process's CPU clock ticks every 10 ms: the mean over many uploads, not
            # each upload's own reading, says what one costs.
            before = running.cpu()
            for _ in range(options.uploads):
                answer = http.post(
                    "/api/v1/attachments",
                    files={"file": (name, content, "application/octet-stream")},
                    headers=auth,
                )
                check(answer.status_code == 201, f"{kind}: {answer.status_code} {answer.text}")
            found[kind] = (running.cpu() - before) * 1000 / options.uploads
            print(
                f"{kind:22} {found[kind]:6.1f} ms of server CPU per upload (budget {BUDGET_MS:.0f})"
            )
    save({"bytes": SIZE, "uploads": options.uploads, "cpu_ms_per_upload": found}, options.out)


if __name__ == "__main__":
    main()
