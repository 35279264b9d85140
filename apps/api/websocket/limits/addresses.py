"""What "one client address" means for the per-address limits.

An IPv4 host usually has one address; an IPv6 host is handed a whole /64 by
its provider and may use any address in it, so counting IPv6 peers one by one
would let a single host multiply every per-address limit by 2**64. The limits
count an IPv6 peer by its network of `ipv6_prefix` bits (64 by default, the
size an end site gets); an IPv4-mapped IPv6 address counts as its IPv4 address.
Anything that is not an IP address ("unknown", a Unix socket path) counts as
itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache

DEFAULT_IPV6_PREFIX = 64


def address_key(ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> Callable[[str], str]:
    """A function from a peer's address to the unit its limits count by."""
    if not 1 <= ipv6_prefix <= 128:
        raise ValueError(f"ipv6_prefix must be within 1..128, not {ipv6_prefix}")

    @lru_cache(maxsize=4096)  # one parse per address seen lately, not per handshake
    def key(address: str) -> str:
        if ":" not in address:
            return address  # IPv4 (or not an address): the address itself, unparsed
        try:
            ip = ipaddress.IPv6Address(address.strip("[]").split("%", 1)[0])
        except ValueError:
            return address
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ipv6_prefix == 128:
            return str(ip)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))

    return key
