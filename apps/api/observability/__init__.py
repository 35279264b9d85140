"""Operational views of the server: Prometheus metrics, the Socket.IO Admin UI."""
