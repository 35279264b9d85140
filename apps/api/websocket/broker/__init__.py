"""Moving events between processes: every Redis connection, the bus, the transports.

`connection` is the one place Redis clients are built (bounded timeouts, one
retry) and holds the bounded publisher; `redis_manager` and `local_manager` are
python-socketio's client managers for several instances and for one;
`messages` checks what travels on the shared channel; `transport` numbers an
event in its room's history and hands it to every instance; `revocations`
keeps revocations in Redis.
May import: `websocket.protocol`, `websocket.access`, `websocket.history`,
`websocket.internals`, redis-py, python-socketio.
"""
