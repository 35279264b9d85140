"""The HTTP front: what a request may cost before the application sees it.

uvicorn bounds neither how long a client may take to send its request headers
nor how long a request body may stall. `body_timeout` is an ASGI middleware
that ends a request whose body stops arriving; the deadline for request
headers needs uvicorn's protocol internals and lives with the other library
internals, in `websocket.internals.header_timeout`. Both are configured in
`serving.uvicorn_options` and `main.create_app`.

May import: `config`, `logging_setup`, `websocket.audit`, `websocket.protocol`.
"""
