"""The wire contract for clients, generated from the models in `websocket`.

JSON Schema (`jsonschemas`), an AsyncAPI 3.0 document (`asyncapi`) and
TypeScript definitions (`typescript`); `python -m contract` writes them under
`clients/`, and a test fails when the committed files differ from the models.
"""
