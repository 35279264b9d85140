"""The integration guide's examples: application code that emits events.

WEBSOCKET_INTEGRATION_GUIDE.md shows these files' code blocks verbatim and the
tests run every one against a real server. The server never imports them
(its own app has no example routes); the tests mount `routes.router` on a
test app, as an application mounts its own routes.
"""
