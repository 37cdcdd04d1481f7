"""Token check (docs/performance.md): microseconds per check of a bearer token, as each poll
makes it, against PyJWT's full verification measured in the same run.

Measured: `sts.token_verify_cached` (the event loop's check: the bot from this process's
cache, the token's signature checked once per token and key) on one token presented again
and again, and on tokens each presented for the first time; baseline: `jwt.decode` with the
signature, the same options and leeway, each time. With `--compare DIR`, the same
measurement of the code checked out in DIR (another commit, e.g. the one before a change)
runs first in a child process: before and after in one run. Checked: every check accepted
the token, with the identity it was issued for.

Usage: .venv/bin/python bench/token_check_bench.py [--checks 20000] [--compare DIR]
       [--out bench/results/token-check.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CODE = Path(__file__).resolve().parent.parent


def _code_from_arguments() -> Path:
    """The checkout to measure: --code DIR (the child of --compare), else this one."""
    if "--code" in sys.argv:
        return Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    return CODE


sys.path.insert(0, str(_code_from_arguments()))

from bench.harness import check, migrate, setup_django  # noqa: E402

ROUNDS = 5  # the best of these, each of --checks checks, in CPU time: the machine is shared


def per_check_us(check_once: Any, checks: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(checks):
            check_once()
        best = min(best, time.process_time() - started)
    return best / checks * 1e6


def measure(checks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "token.sqlite3"
        migrate(database)
        setup_django(database)
        import jwt

        from webclient import sts
        from webclient.models import Bot

        bot = Bot.objects.get(slug="demo")
        token = sts.token_issue(
            bot=bot, identity="bench", anonymous=False, proof=sts.Proof.BROWSER
        ).jwt
        check(sts.token_verify(token).identity == "bench", "the token is accepted")
        accepted = sts.token_verify_cached(token)
        check(accepted is not None, "the bot is in this process's cache")
        check(accepted is not None and accepted.identity == "bench", "the cached check accepts")

        def cached() -> None:
            principal = sts.token_verify_cached(token)
            if principal is None or principal.identity != "bench":
                raise AssertionError("a check did not accept the token")

        key = bot.client_secret.encode()

        def full() -> None:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                options={"require": ["exp", "iat", "sub", "appId"]},
                leeway=sts.LEEWAY_SECONDS,
            )
            if claims["sub"] != "bench":
                raise AssertionError("PyJWT did not accept the token")

        first_tokens = [
            sts.token_issue(
                bot=bot, identity=f"bench-{n}", anonymous=False, proof=sts.Proof.BROWSER
            ).jwt
            for n in range(checks * ROUNDS)
        ]
        first_checks = iter(first_tokens)

        def first() -> None:
            if sts.token_verify_cached(next(first_checks)) is None:
                raise AssertionError("a first check did not accept its token")

        return {
            "token_check_us": per_check_us(cached, checks),
            "first_check_us": per_check_us(first, checks),
            "pyjwt_full_decode_us": per_check_us(full, checks),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--compare", default="", help="another checkout, measured first")
    parser.add_argument("--code", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.code:
        print(json.dumps(measure(args.checks)))
        return
    found: dict[str, Any] = {}
    if args.compare:
        child = subprocess.run(
            [sys.executable, __file__, "--checks", str(args.checks), "--code", args.compare],
            check=True,
            capture_output=True,
            text=True,
        )
        found["compared"] = {"code": args.compare, **json.loads(child.stdout.splitlines()[-1])}
    found["this"] = {"code": str(CODE), **measure(args.checks)}
    for row in (found.get("compared"), found["this"]):
        if row is not None:
            print(
                f"{row['code']}: token check {row['token_check_us']:.1f} µs, "
                f"a token's first check {row['first_check_us']:.1f} µs "
                f"(PyJWT's full verification, same run: {row['pyjwt_full_decode_us']:.1f} µs)"
            )
    if args.out:
        Path(args.out).write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
