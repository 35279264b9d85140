"""The Socket.IO side of the service, one subpackage per concern (lowest first).

- `protocol`: the wire vocabulary: event and command models, the envelope,
  error codes, room names, paths. Pure: pydantic and orjson only.
- `limits`: budgets (token buckets, the command limiter, the replay budget).
  Pure arithmetic; imports nothing of the service.
- `audit.py`: the audit trail of refusals. Imports `protocol`.
- `internals`: every use of another library's internals, the fast path
  among them; the one seam, each name pinned by one contract test
  (tests/websocket/internals/test_library_internals.py). Imports `protocol`, `audit`.
- `access`: tokens, the room policy, what a revocation is. Imports `protocol`.
- `history`: room positions, bounded history, the rules of resuming. Imports `protocol`.
- `broker`: every Redis connection, the bus between instances, the transports.
  Imports `protocol`, `access`, `history`, `internals`.
- `presence`: who is in a room on every instance; agents coming and going.
  Imports `protocol`, `broker`.
- `gateway`: what is refused before python-engineio acts on a request:
  malformed packets, over-limit handshakes, foreign origins, per-address
  throttles. Imports `protocol`, `limits`, `audit`, `internals`.
- `server`: the Socket.IO application: handlers, admission, limits,
  subscriptions, the wiring of the stateful parts. Imports all of the above.
- `shutdown`: the SIGTERM drain. Imports `server` and below.

Nothing here imports `events/` (the application-facing broadcaster imports
this package, not the other way round). These rules are checked by
import-linter (`make lint`; the contracts, each with its reason, are in
pyproject.toml).
"""
