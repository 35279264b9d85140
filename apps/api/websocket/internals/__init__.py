"""The one seam to other libraries' internals: every private name they do not promise to keep.

python-engineio's socket loops (`fastsocket`, `ws_writer`, `packet_queue`,
`engine`), python-socketio's manager hooks (`manager`), the ASGI short cut
past Starlette's layers (`fastlane`), uvicorn's protocol and transport
(`header_timeout`, `tcp_reset`). Each private name is listed, with the
version it was verified on, in tests/websocket/internals/test_library_internals.py,
which fails on any version change and checks behaviour, not only presence.
The rest of the code uses public APIs or this package.
May import: `websocket.protocol`, `websocket.audit`, the libraries it adapts.
"""
