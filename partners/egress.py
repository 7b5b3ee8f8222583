"""Where the gateway may send requests a partner chose the address of (webhooks): never to
this machine, a private network or a cloud metadata service.

The check runs twice: on the URL when it is subscribed (the scheme, and the address when the
host is an IP literal), and on the resolved addresses at every delivery, so a name that
resolved to a public address at subscription and to 127.0.0.1 later (DNS rebinding) is refused.
The delivery then connects to the address that was checked, not to a second resolution."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from loyalty.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(Exception):
    """A delivery whose address may not be reached; it is not attempted."""


# IPv6 prefixes that carry an IPv4 address in their low 32 bits, which a translator or relay
# may deliver to: IPv4-compatible (::/96, deprecated), NAT64 (64:ff9b::/96 and the local-use
# 64:ff9b:1::/48), and IPv4/IPv4 translation (::ffff:0:0:0/96, RFC 2765).
_EMBEDDING = [ipaddress.IPv6Network(n) for n in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48",
                                                 "::ffff:0:0:0/96")]  # fmt: skip


def _embedded(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through (mapped, 6to4, Teredo, NAT64, ...)."""
    found = [address.ipv4_mapped] if address.ipv4_mapped is not None else []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _EMBEDDING):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _public(address: IPAddress) -> bool:
    # is_global excludes loopback, private, link-local (169.254.169.254), shared (100.64/10),
    # multicast, reserved and unspecified addresses; an IPv6 address is public only if every
    # IPv4 address it embeds is too ([::7f00:1], [64:ff9b::7f00:1], [2002:7f00:1::1] are not).
    if isinstance(address, ipaddress.IPv6Address):
        if any(not _public(inner) for inner in _embedded(address)):
            return False
        if any(address in network for network in _EMBEDDING[:1]):  # ::/96 is never routable
            return False
    return address.is_global and not address.is_multicast


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """`https_only` in production; `allow_hosts` names hosts (e.g. a development receiver on
    127.0.0.1) exempt from the address check."""

    https_only: bool = True
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    def check_url(self, url: str) -> None:
        """Refuse, when subscribing, a URL that can never be delivered to."""
        parts = urlsplit(url)
        schemes = ("https",) if self.https_only else ("https", "http")
        if parts.scheme not in schemes or not parts.hostname or len(url) > 500:
            raise ValidationFailed(
                f"a webhook URL is {' or '.join(s + '://' for s in schemes)}... with a host"
                " (at most 500 characters)", argument="url",
            )  # fmt: skip
        if parts.username or parts.password:
            raise ValidationFailed("a webhook URL carries no credentials", argument="url")
        if parts.hostname in self.allow_hosts:
            return
        address = _literal(parts.hostname)
        if address is not None and not _public(address):
            raise ValidationFailed("a webhook URL may not point at a private, loopback,"
                                   " link-local or metadata address", argument="url")  # fmt: skip
        if address is None and parts.hostname.rstrip(".").endswith(("localhost", ".internal")):
            raise ValidationFailed("a webhook URL may not point at this machine", argument="url")

    async def pinned(self, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """(URL with the checked address, extra headers, request extensions) for a delivery:
        the host is resolved now and every address it resolves to must be public."""
        self.check_url(url)
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host in self.allow_hosts:
            return url, {}, {}
        literal = _literal(host)
        if literal is not None:
            return url, {}, {}
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise EgressRefused(f"cannot resolve {host}: {error}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        if not addresses or not all(_public(a) for a in addresses):
            raise EgressRefused(f"{host} resolves to an address that may not be reached")
        address = addresses[0]
        netloc = f"[{address}]" if address.version == 6 else str(address)
        if parts.port:
            netloc += f":{parts.port}"
        pinned_url = parts._replace(netloc=netloc).geturl()
        # Host for the server, SNI (and so certificate verification) for the real name.
        return pinned_url, {"host": parts.netloc.rpartition("@")[2]}, {"sni_hostname": host}

    async def post(
        self, http: httpx.AsyncClient, url: str, *, content: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        target, extra, extensions = await self.pinned(url)
        return await http.post(
            target, content=content, headers={**headers, **extra}, extensions=extensions
        )
