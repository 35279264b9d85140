"""The HTTP front: what a connection may cost before the application sees a request.

uvicorn bounds neither how long a client may take to send its request headers
nor how long a request body may stall. `header_timeout` gives uvicorn's HTTP
protocol a deadline for request headers (the only module here that touches
uvicorn's internals); `body_timeout` is an ASGI middleware that ends a request
whose body stops arriving. Both are configured in `serving.uvicorn_options`
and `main.create_app`. This package imports nothing of the application but
`config`, `logging_setup` and `websocket.audit` / `websocket.errors`.
"""
