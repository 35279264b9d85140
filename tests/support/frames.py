"""Hand-made malformed frames: what a broken or hostile peer sends (raw-protocol and soak tests)."""

from __future__ import annotations

from tests.support.tokens import token

TOKEN = token("raw-user")  # a valid token, for frames that smuggle one in


FRAMES: dict[str, list[str | bytes]] = {
    "garbage": ["xyz", "4", "9", "4garbage", "\x00\x01\x02", "b", "b!!!!", "4{}", "42", "4é"],
    "truncated": [
        '42/ws,1["subscribe",{"room":', '42/ws,["subscr', '43/ws,1[', '42/ws,1', '42/ws', "40/ws,{",
    ],
    "wrong packet types": [
        "0", "5", "6", "3", '44/ws,{"message":"x"}', "43/ws,99[1]", "47/ws,[]", "4x/ws,[]", "41/ws,",
    ],
    "unknown namespaces": ["40/nope,{}", '42/nope,["subscribe",{}]', '42/nope,1["debug:rooms"]', "41/nope,"],
    "binary attachments": [
        b"\x04binary", b"\xff\xfe\xfd", '451-/ws,1["subscribe",{"_placeholder":true,"num":0}]',
        "459999999999-/ws,[]", "461-/ws,1[]",
    ],
    "non-string event names": [
        "42/ws,1[42]", "42/ws,2[null,{}]", '42/ws,3[["a"],{}]', "42/ws,4[]", "42/ws,5{}",
        '42/ws,6"subscribe"', '42/ws,7[{"a":1}]', "42/ws,8[true]",
    ],
    "reserved event names": [
        '42/ws,1["connect",{"asgi.scope":{"client":["6.6.6.6",1]}},{"token":"' + TOKEN + '"}]',
        '42/ws,2["disconnect","bye"]', '42/ws,3["connect"]', '42/ws,4["connect_error",{}]',
    ],
    "odd but valid JSON": [
        '42/ws,1["subscribe",{"room":"\\ud800"}]', '42/ws,2["subscribe",{"room":1e400}]',
        '42/ws,3["subscribe",' + "[" * 3000 + "]" * 3000 + "]",
        '42/ws,99999999999999999999999["debug:rooms"]',
        '42/ws,4["subscribe",{"room":"global"},{"extra":"argument"}]',
    ],
    "oversized": ['42/ws,1["subscribe",{"room":"' + "x" * 1_000_100 + '"}]'],
}  # fmt: skip
