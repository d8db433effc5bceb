"""Who is calling: the client address that throttling and fair queueing are keyed by.

`X-Forwarded-For` is believed only from a proxy listed in `--trusted-proxy`; otherwise anyone
could claim any address and walk around every per-address limit. IPv6 clients are keyed by
their /64, the block one subscriber usually gets, so a single host cannot pose as 2^64 clients.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import hdrs, web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The key of a peer with no IP address (a Unix socket).
UNKNOWN = "unknown"


def parse_networks(specs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`--trusted-proxy` values: addresses or CIDR networks. Raises ValueError on a bad one."""
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs)


def _address(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(address: IPAddress) -> str:
    """The throttling key of an address: itself for IPv4, its /64 for IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ClientAddresses:
    """Resolves a request's client address, walking X-Forwarded-For through trusted proxies."""

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._trusted = parse_networks(trusted_proxies)

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)

    def resolve(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The key of the client behind `peer`, given the request's X-Forwarded-For values."""
        client = self.client_address(peer, forwarded_for)
        return UNKNOWN if client is None else client_key(client)

    def client_address(self, peer: str | None, forwarded_for: Sequence[str]) -> IPAddress | None:
        """The address of the client behind `peer` (None: a peer with no IP address).

        From the right, each hop was appended by the proxy before it; the first hop that is not
        a trusted proxy is the client. An unparsable hop stops the walk: the proxy that appended
        it is the last party we can vouch for.
        """
        client = _address(peer)
        if client is None or not self._trusted or not self._is_trusted(client):
            return client
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break
            client = address
            if not self._is_trusted(address):
                break
        return client

    def of(self, request: web.BaseRequest) -> str:
        return self.resolve(request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, []))

    def address_of(self, request: web.BaseRequest) -> IPAddress | None:
        """The client's own address, as an IP allowlist is checked against it."""
        return self.client_address(request.remote,
                                   request.headers.getall(hdrs.X_FORWARDED_FOR, []))
