"""Room history: offsets and epochs, bounded storage, and the rules of resuming.

`positions` holds the rules (pure); `in_memory` and `in_redis` keep the
streams for one instance or for all. Redis is reached through the object the
broker hands in (`in_redis.ScriptRunner`), never imported from it.
May import: `websocket.protocol`, redis-py (types and scripts only).
"""
