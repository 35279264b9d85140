"""The one seam to other libraries' internals: every name they do not promise to keep.

- python-socketio: its server's private methods handed to public-named hooks
  (`socketio_server`, which `server.sio.EventServer` extends), its Redis
  manager's hooks (`pubsub_manager`, extended by `broker.redis_manager`), its
  client managers' room bookkeeping (`manager`);
- python-engineio: a session's socket object (`sessions`), the fast path's
  socket loops and queues (`engine`, `fastsocket`, `ws_writer`,
  `packet_queue`), its wire codecs (`packets`), its ASGI environ (`environ`);
- uvicorn: its server's shutdown and connections (`uvicorn_server`, extended by
  `serving.GracefulServer`), its HTTP protocol (`header_timeout`), a
  connection's transport (`tcp_reset`);
- Starlette: the short cut past its layers for Engine.IO WebSockets (`fastlane`).

The list of those names, each with the library version it was verified on and
the behaviour relied on, is `TABLE` in
tests/websocket/internals/test_library_internals.py, which fails on any
version change of those libraries (patch included), checks each behaviour on
real objects, and fails when such a name is used anywhere else under apps/api.
The rest of the code uses public APIs or this package.
May import: `websocket.protocol`, `websocket.audit`, `logging_setup`, the libraries it adapts.
"""
