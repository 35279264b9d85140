"""Budgets: how much a client may ask, at what rate. Pure arithmetic on a clock, no I/O.

`buckets` is the token bucket; `connection` holds the per-instance, per-user
and per-connection limits and the command limiter; `replay_budget` how much
history one connection may be re-sent. The server, the gateway and the REST
publish limit (routers/publish_limit.py) charge them.
May import: nothing of this service.
"""
