"""What one client address is for the per-address limits: an IPv4 address, an IPv6 network."""

from __future__ import annotations

import pytest

from websocket.limits.addresses import address_key


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same host, same /64
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is another site
        ("[2001:db8:1:2::5]", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped: the IPv4 host
        ("::1", "::/64"),
        ("unknown", "unknown"),
        ("not:an:address", "not:an:address"),
    ],
)
def test_ipv6_peers_count_by_their_64(address: str, counted_as: str) -> None:
    assert address_key()(address) == counted_as


def test_the_prefix_is_a_setting() -> None:
    assert address_key(48)("2001:db8:1:2::1") == "2001:db8:1::/48"
    assert address_key(128)("2001:db8:1:2::1") == "2001:db8:1:2::1"
    with pytest.raises(ValueError, match=r"within 1\.\.128"):
        address_key(0)
