"""Inbound webhooks that turn other systems' notifications into events."""
