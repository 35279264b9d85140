"""What the pieces of one authenticated connect cost, alone: `python bench/connect_costs.py`.

A microbenchmark beside the ramp (bench/scenarios.py `ramp`), which measures
the whole: each line times one piece of the connect path in a loop, on the
load generator's core, and prints microseconds per call. Run it with nothing
else busy on the machine. Figures are per call on this machine, not shares of
a connect (which the ramp's connects/s gives: 1e6 / rate µs).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root), str(_root / "apps" / "api")]

import gc
import io
import logging
import os
import secrets
import time
from collections.abc import Callable

from bench.procs import LOAD_CORES


def per_call_us(fn: Callable[[int], object], n: int) -> float:
    fn(0)  # warm-up
    gc.collect()
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - started) / n * 1e6


def main() -> int:
    os.sched_setaffinity(0, LOAD_CORES)
    import jwt

    from logging_setup import configure_logging, get_logger
    from websocket.access.tokens import TokenValidator, mint_token

    secret = secrets.token_urlsafe(48)
    n = 20_000
    tokens = [mint_token(secret, sub=f"bench-{i}", email=f"u{i}@example.com") for i in range(n)]
    validator = TokenValidator(secret)
    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "TokenValidator.validate (PyJWT decode + our checks)",
            per_call_us(lambda i: validator.validate(tokens[i]), n),
        )
    )
    rows.append(
        (
            "jwt.decode alone (signature, exp, alg)",
            per_call_us(lambda i: jwt.decode(tokens[i], secret, algorithms=["HS256"]), n),
        )
    )
    import hashlib
    import hmac

    key = secret.encode()
    rows.append(
        (
            "HMAC-SHA256 of the signing input alone",
            per_call_us(
                lambda i: hmac.new(key, tokens[i].rpartition(".")[0].encode(), hashlib.sha256).digest(), n
            ),
        )
    )
    cache_validator = getattr(validator, "validate_cached", None)
    if cache_validator is not None:
        for token in tokens:
            cache_validator(token)
        rows.append(
            (
                "validate_cached, token seen before (reconnect)",
                per_call_us(lambda i: cache_validator(tokens[i]), n),
            )
        )

    sink = io.StringIO()
    configure_logging("INFO", "json")
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)
    log = get_logger("bench.connect_costs")
    rows.append(
        (
            "one JSON log line at INFO (websocket_connect's shape)",
            per_call_us(
                lambda i: log.info(
                    "websocket_connect",
                    connection_id="abcdefgh",
                    user_id="u",
                    role="user",
                    client_addr="127.0.0.1",
                ),
                n,
            ),
        )
    )
    rows.append(
        (
            "the same line at DEBUG (filtered out)",
            per_call_us(
                lambda i: log.debug(
                    "websocket_connect",
                    connection_id="abcdefgh",
                    user_id="u",
                    role="user",
                    client_addr="127.0.0.1",
                ),
                n,
            ),
        )
    )
    width = max(len(label) for label, _ in rows)
    print(f"{'piece of a connect':<{width}}  µs per call")
    for label, us in rows:
        print(f"{label:<{width}}  {us:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
