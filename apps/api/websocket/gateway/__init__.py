"""The front door: what is refused before python-engineio or python-socketio act on a request.

`http_guard` refuses bad polling POSTs and WebSocket frames and over-limit
handshakes before Engine.IO reads them; `admission` counts each client
address's pending sessions and failed connects; `cors` decides which browser
origins may talk to the server.
May import: `websocket.protocol`, `websocket.limits`, `websocket.audit`,
`websocket.internals`, `config`.
"""
