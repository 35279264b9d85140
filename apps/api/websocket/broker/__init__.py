"""Moving events between processes: every Redis connection, the bus, the transports.

`connection` is the one place Redis clients are built (bounded timeouts, one
retry; a single Redis or a Redis Cluster, told apart on first use), names the
channels and holds the bounded publisher; `subscriber` keeps this instance's
pub/sub connections (one, or one per cluster master) subscribed to the
control channel and to the channel of each room with a local member, reading
through `resp`'s batched reader; `redis_manager` and `local_manager` are
python-socketio's client managers for several instances and for one;
`messages` checks what travels on the channels; `transport` numbers an event
in its room's history and publishes it on the room's channel; `revocations`
keeps revocations in Redis.
May import: `websocket.protocol`, `websocket.access`, `websocket.history`,
`websocket.internals`, redis-py, python-socketio.
"""
