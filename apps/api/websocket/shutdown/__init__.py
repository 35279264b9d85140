"""Draining an instance on SIGTERM: finish what is in flight, say goodbye, close.

`drain` runs the steps; `requests` counts HTTP requests in flight and answers
new ones 503 while draining; `goodbye` closes one session, waiting only while
its client is still collecting.
May import: `websocket.protocol`, `websocket.server`, `websocket.internals`.
"""
