"""IP addresses from a vSwitch's CIDR: a seeded-random free address, unique among live container groups.

Alibaba reserves the first address and the last three of every vSwitch CIDR (192.168.1.0, .253, .254 and
.255 of a /24; VPC's CreateVSwitch page) and ECI assigns a random free address of the vSwitch. Ours is
random but reproducible: each group probes the pool along its own sequence (a start and a stride coprime
with the pool size, both drawn from a key of the profile seed and the pod uid), taking the first free
address. A probe costs O(1) on average while the pool is not nearly full, so a /16 with 20,000 live groups
never scans. After an operator restart the allocations are rebuilt with ``reserve`` (the record keeps the IP).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math

RESERVED_AT_END = 3  # the last three addresses (the first one is reserved too)


class AddressExhausted(Exception):
    """The vSwitch has no free address."""


class VSwitchPool:
    def __init__(self, vswitch_id: str, cidr: str) -> None:
        self.vswitch_id = vswitch_id
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._used: set[int] = set()
        self._first = int(self.network.network_address) + 1
        self._last = int(self.network.broadcast_address) - RESERVED_AT_END

    @property
    def size(self) -> int:
        return max(0, self._last - self._first + 1)

    @property
    def used(self) -> int:
        return len(self._used)

    def _probe(self, key: str) -> tuple[int, int]:
        """The start offset and stride of ``key``'s probe sequence (the stride is coprime with the size)."""
        digest = hashlib.sha256(f"ip:{self.vswitch_id}:{key}".encode()).digest()
        start = int.from_bytes(digest[:8], "big") % self.size
        stride = 1 + int.from_bytes(digest[8:16], "big") % max(1, self.size - 1)
        while math.gcd(stride, self.size) != 1:
            stride += 1
        return start, stride

    def allocate(self, key: str = "") -> str:
        """A free address for ``key`` (seed and pod uid): the first free one along its probe sequence."""
        if len(self._used) >= self.size:
            raise AddressExhausted(f"vSwitch {self.vswitch_id} ({self.network}) has no free IP address")
        offset, stride = self._probe(key)
        while (candidate := self._first + offset) in self._used:
            offset = (offset + stride) % self.size
        self._used.add(candidate)
        return str(ipaddress.ip_address(candidate))

    def reserve(self, address: str) -> bool:
        """Mark ``address`` used (rebuilding after a restart); False if it is not in this pool."""
        value = int(ipaddress.ip_address(address))
        if not self._first <= value <= self._last:
            return False
        self._used.add(value)
        return True

    def release(self, address: str) -> None:
        self._used.discard(int(ipaddress.ip_address(address)))
