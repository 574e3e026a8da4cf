"""IP addresses from a vSwitch's CIDR, unique among live container groups.

Addresses are handed out next-fit (from just after the last one handed out, wrapping around),
skipping the network address, the first three hosts and the broadcast address. A released address goes
back to the pool, but is not handed out again at once. After an operator restart the allocations are
rebuilt with ``reserve``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

RESERVED_AT_START = 3  # gateway and service addresses at the bottom of each vSwitch


class AddressExhausted(Exception):
    """The vSwitch has no free address."""


class VSwitchPool:
    def __init__(self, vswitch_id: str, cidr: str) -> None:
        self.vswitch_id = vswitch_id
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._used: set[int] = set()
        self._first = int(self.network.network_address) + 1 + RESERVED_AT_START
        self._last = int(self.network.broadcast_address) - 1
        self._cursor = self._first

    @property
    def size(self) -> int:
        return max(0, self._last - self._first + 1)

    @property
    def used(self) -> int:
        return len(self._used)

    def _candidates(self) -> Iterator[int]:
        yield from range(self._cursor, self._last + 1)
        yield from range(self._first, self._cursor)

    def allocate(self) -> str:
        if len(self._used) >= self.size:
            raise AddressExhausted(f"vSwitch {self.vswitch_id} ({self.network}) has no free IP address")
        for candidate in self._candidates():
            if candidate not in self._used:
                self._used.add(candidate)
                # Next-fit: a just-released address is not handed out again at once.
                self._cursor = candidate + 1 if candidate < self._last else self._first
                return str(ipaddress.ip_address(candidate))
        raise AddressExhausted(f"vSwitch {self.vswitch_id} ({self.network}) has no free IP address")

    def reserve(self, address: str) -> bool:
        """Mark ``address`` used (rebuilding after a restart); False if it is not in this pool."""
        value = int(ipaddress.ip_address(address))
        if not self._first <= value <= self._last:
            return False
        self._used.add(value)
        return True

    def release(self, address: str) -> None:
        self._used.discard(int(ipaddress.ip_address(address)))
