"""Keep webhook traffic away from internal addresses (SSRF), at registration and at connect time.

A webhook URL is attacker-chosen text that makes our workers send requests from inside the
network. Checking the URL once is not enough: DNS can answer differently at delivery time
(rebinding), an IP literal never goes through DNS, and IPv6 has several ways to spell an IPv4
address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) that naive
range checks miss (formbricks/hub PR #129). So:

* ``AddressPolicy.is_blocked`` judges one address, decoding embedded IPv4 first;
* ``check_url`` rejects bad URLs when a webhook is registered, with a reason the user can act on;
* ``delivery.http_client.HTTPClient``, the only client webhook requests go out on, re-judges
  every address a URL's host stands for (resolved names and IP literals alike) and raises
  ``BlockedDestination`` before a socket is opened, then connects to exactly that address.

Redirects: a 3xx is a failed delivery (Standard Webhooks), and following one would let an allowed
host bounce us anywhere; the client cannot follow redirects at all. It uses no proxy either: the
guard would then judge the proxy's address, not the destination's.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from fineract_hub.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

#: Checked in order; the first match names the reason. Anything else that Python does not consider
#: globally routable is blocked too, with a generic reason.
_BLOCKED_V4: Final[tuple[tuple[IPNetwork, str], ...]] = (
    (_V4("169.254.169.254/32"), "cloud metadata service (169.254.169.254)"),
    (_V4("168.63.129.16/32"), "Azure WireServer (168.63.129.16)"),
    (_V4("0.0.0.0/8"), "'this network' (0.0.0.0/8), reaches the local host"),
    (_V4("10.0.0.0/8"), "private network (10.0.0.0/8)"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (100.64.0.0/10)"),
    (_V4("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
    (_V4("169.254.0.0/16"), "link-local (169.254.0.0/16)"),
    (_V4("172.16.0.0/12"), "private network (172.16.0.0/12)"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"),
    (_V4("192.0.2.0/24"), "documentation range (192.0.2.0/24)"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast (192.88.99.0/24)"),
    (_V4("192.168.0.0/16"), "private network (192.168.0.0/16)"),
    (_V4("198.18.0.0/15"), "benchmarking range (198.18.0.0/15)"),
    (_V4("198.51.100.0/24"), "documentation range (198.51.100.0/24)"),
    (_V4("203.0.113.0/24"), "documentation range (203.0.113.0/24)"),
    (_V4("224.0.0.0/4"), "multicast (224.0.0.0/4)"),
    (_V4("255.255.255.255/32"), "broadcast (255.255.255.255)"),
    (_V4("240.0.0.0/4"), "reserved (240.0.0.0/4)"),
)
_BLOCKED_V6: Final[tuple[tuple[IPNetwork, str], ...]] = (
    (_V6("::/128"), "unspecified address (::)"),
    (_V6("::1/128"), "loopback (::1)"),
    (_V6("::/96"), "IPv4-compatible IPv6 address (deprecated ::a.b.c.d)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64 prefix (64:ff9b:1::/48)"),
    (_V6("::ffff:0:0:0/96"), "IPv4-translated (SIIT) address (::ffff:0:a.b.c.d)"),
    (_V6("100::/64"), "discard-only range (100::/64)"),
    (_V6("2001:db8::/32"), "documentation range (2001:db8::/32)"),
    (_V6("3fff::/20"), "documentation range (3fff::/20)"),
    (_V6("2001::/23"), "IETF protocol assignments (2001::/23)"),
    (_V6("fc00::/7"), "unique local address (fc00::/7)"),
    (_V6("fe80::/10"), "link-local (fe80::/10)"),
    (_V6("fec0::/10"), "site-local (fec0::/10, deprecated)"),
    (_V6("ff00::/8"), "multicast (ff00::/8)"),
)
_NAT64: Final = _V6("64:ff9b::/96")
_TEREDO: Final = _V6("2001::/32")
_SIXTOFOUR: Final = _V6("2002::/16")


class BlockedDestination(Exception):
    """Connecting was refused by policy; no socket was opened.

    Not an ``OSError``, so that no handler of network errors mistakes it for a DNS or connect
    failure: ``outcome.classify`` maps it to ``BLOCKED``, since retrying cannot help.
    """

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(host, address, reason)
        self.host = host
        self.address = address
        self.reason = reason

    def __str__(self) -> str:
        shown = self.host if self.host == self.address else f"{self.host} ({self.address})"
        return f"destination {shown} is blocked: {self.reason}"


def _parse(ip: IPAddress | str) -> IPAddress:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    return ipaddress.ip_address(ip.strip("[]"))


@dataclass(frozen=True)
class AddressPolicy:
    #: Networks reachable even though they are internal, e.g. ``127.0.0.0/8`` in tests or a
    #: partner's private range (Svix ``whitelist_subnets``).
    allowlist: Sequence[IPNetwork] = ()
    https_only: bool = False

    def is_allowlisted(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)  # ::ffff:a.b.c.d *is* a.b.c.d on this host
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.allowlist
        )

    def is_blocked(self, ip: IPAddress | str) -> str | None:
        """Why ``ip`` must not be contacted, or ``None`` if it may be. Unparseable input is
        blocked (we cannot judge what we cannot read)."""
        try:
            address = _parse(ip)
        except ValueError:
            return f"{ip!r} is not an IP address"
        if self.is_allowlisted(address):
            return None
        return _judge(address)

    def first_blocked(self, addresses: Iterable[IPAddress | str]) -> tuple[str, str] | None:
        """The first of a name's addresses that must not be contacted, and why. One is enough
        to refuse the name: which answer a connection would get is the resolver's choice."""
        for address in addresses:
            reason = self.is_blocked(address)
            if reason:
                return str(address), reason
        return None


def _judge(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            label, inner = embedded
            reason = _judge(inner)
            return None if reason is None else f"{label} of {inner}: {reason}"
        table = _BLOCKED_V6
    else:
        table = _BLOCKED_V4
    for network, reason in table:
        if address in network:
            return reason
    if not address.is_global:
        return "not a globally routable address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """IPv6 spellings that deliver to an IPv4 address: judge that address instead."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped address", address.ipv4_mapped
    if address in _NAT64:
        return "NAT64 address", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4 address", address.sixtofour
    if address.teredo is not None:
        server, client = address.teredo
        # The client is where the packets go; a Teredo server inside the network is as bad.
        return "Teredo address", client if _judge(client) else server
    return None


def host_literal(host: str) -> IPAddress | None:
    """The address a URL host spells out (``[::1]`` included), ``None`` for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def check_url(
    url: str, policy: AddressPolicy, resolver: AbstractResolver | None = None
) -> None:
    """Registration-time check; raises ``ValidationError`` with a reason the user can act on.

    Parsing uses yarl, the parser the delivery client sends with, so the host we judge is the
    host we connect to. Every A/AAAA answer must pass: one internal answer is enough to reject.
    """
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"webhook URL is not a valid URL: {exc}") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise ValidationError(f"webhook URL must use http or https, not {scheme or 'nothing'!r}")
    if policy.https_only and scheme != "https":
        raise ValidationError("webhook URL must use https (HUB_WEBHOOK_HTTPS_ONLY is on)")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise ValidationError("webhook URL must not contain a user name or password")
    host = parsed.raw_host
    if not host:
        raise ValidationError("webhook URL has no host")
    literal = host_literal(host)
    if literal is not None:
        reason = policy.is_blocked(literal)
        if reason:
            raise ValidationError(f"webhook URL points to a blocked address: {reason}")
        return
    if host.replace(".", "").isdigit():
        # 2130706433, 127.1, 0177.0.0.1: the OS maps these onto addresses; refuse the spelling.
        raise ValidationError(f"webhook URL host {host!r} is not a canonical IPv4 address")
    own_resolver = resolver is None
    active = resolver if resolver is not None else ThreadedResolver()
    try:
        answers = await active.resolve(host, parsed.port or 0, family=socket.AF_UNSPEC)
    except OSError as exc:
        raise ValidationError(f"webhook URL host {host!r} could not be resolved: {exc}") from None
    finally:
        if own_resolver:
            await active.close()
    if not answers:
        raise ValidationError(f"webhook URL host {host!r} has no addresses")
    blocked = policy.first_blocked(answer["host"] for answer in answers)
    if blocked is not None:
        address, reason = blocked
        raise ValidationError(
            f"webhook URL host {host!r} resolves to {address}, a blocked address: {reason}"
        )
