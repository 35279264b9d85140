"""Who is connected to a room on every instance, and agents coming and going.

`counts` is each instance's own tally and the `Presence` interface;
`in_memory` answers from it alone; `in_redis` shares it through Redis with
heartbeats, so a crashed instance's entries vanish; `keys` names every key.
May import: `websocket.protocol`, `websocket.broker`.
"""
