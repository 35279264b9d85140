"""The Socket.IO application: the server, its handlers and everything a connection goes through.

`sio` builds the python-socketio server and its ASGI mounts; `lifecycle`
connects and disconnects; `dispatch` runs every command of the protocol's table
through `rate_limit` to its implementation in `commands`; `gate` decides who
gets in (per user and instance); `subscriptions` joins, resumes and leaves
rooms; `token_lifetime` and `revoker` end access, acting on connections only
through `control`; `slow_consumers` cuts clients that stop reading; `backends`
wires the stateful parts (memory or Redis) from one setting.
May import: every other `websocket` subpackage, `config`, `logging_setup`.
"""
