"""The wire contract, generated from the models in `websocket.protocol`.

For clients: JSON Schema (`jsonschemas`), an AsyncAPI 3.0 document
(`asyncapi`) and TypeScript definitions (`typescript`), written under
`clients/`. For producers: the broadcaster's typed `broadcast_<type>` methods
(`python`, written to events/broadcast_methods.py). For readers: the event
reference of WEBSOCKET_API.md (`markdown`). All walk the schemas the same way
(`walk`); `python -m contract` (and `make docs`) writes them, and tests fail
when a committed file differs from the models. Imports the wire vocabulary,
never `events`.
"""
