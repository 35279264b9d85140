"""The wire vocabulary: what clients and publishers send and receive.

Event types and payload models, the envelope and how it is serialised once,
client commands and their acknowledgements, error codes, room names, the
namespace and Engine.IO paths, and the JSON codec. Pure: no FastAPI, no
Starlette, no python-socketio, no Redis, no I/O; imports pydantic, orjson and
nothing else of this service, so clients, tools and docs can use it freely.
"""
