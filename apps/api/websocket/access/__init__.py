"""Who may do what: access tokens, the room policy, revocations.

`tokens` validates JWTs (the same rules for Socket.IO and REST); `dev_tokens`
issues the development token; `policy` decides who may join a room;
`revocation` says what a revocation is and remembers them. Applying them to
live connections is the server's job (websocket/server/revoker.py).
May import: `websocket.protocol`, PyJWT, `config`.
"""
