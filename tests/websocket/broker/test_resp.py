"""The pub/sub link's RESP reader: frames cut anywhere are read whole, once."""

from __future__ import annotations

from websocket.broker.resp import RespError, encode, parse_all


def test_frames_split_at_every_byte_are_parsed_once_complete() -> None:
    wire = (
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhe\r\nl\r\n"
        b"*2\r\n$4\r\npong\r\n$0\r\n\r\n-MOVED 12 127.0.0.1:7001\r\n"
    )
    for cut in range(len(wire)):
        frames, used = parse_all(wire[:cut])
        rest, _ = parse_all(wire[used:])
        assert len(frames) + len(rest) == 4
    frames, used = parse_all(wire)
    assert used == len(wire)
    assert frames[0] == [b"subscribe", b"ch", 1]
    assert frames[1] == [b"message", b"ch", b"he\r\nl"]  # a payload may hold CRLF
    assert frames[2] == [b"pong", b""]
    assert isinstance(frames[3], RespError) and str(frames[3]).startswith("MOVED")


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert encode("SUBSCRIBE", "a{b}", b"\x00") == b"*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\na{b}\r\n$1\r\n\x00\r\n"
