"""Which addresses webhooks may reach, and what a URL must look like at registration (F9)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver

from fineract_hub.delivery.ssrf import AddressPolicy, check_url
from fineract_hub.errors import ValidationError

OPEN = AddressPolicy()


class StaticResolver(AbstractResolver):
    """Answers every name with fixed addresses; never touches the network."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.addresses
        ]

    async def close(self) -> None:
        pass


BLOCKED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "10.0.0.1": "private network (10.0.0.0/8)",
    "172.16.5.4": "private network (172.16.0.0/12)",
    "192.168.1.1": "private network (192.168.0.0/16)",
    "169.254.169.254": "cloud metadata",
    "169.254.1.1": "link-local",
    "100.64.0.1": "carrier-grade NAT",
    "100.100.100.200": "carrier-grade NAT",
    "0.0.0.0": "'this network'",  # noqa: S104 - an address under test, not a bind
    "0.1.2.3": "'this network'",
    "224.0.0.1": "multicast",
    "255.255.255.255": "broadcast",
    "240.0.0.1": "reserved",
    "168.63.129.16": "Azure WireServer",
    "192.0.2.10": "documentation",
    "198.51.100.7": "documentation",
    "203.0.113.9": "documentation",
    "198.18.0.1": "benchmarking",
    "::": "unspecified",
    "::1": "loopback (::1)",
    "fe80::1": "link-local (fe80::/10)",
    "fc00::1": "unique local",
    "fd00:ec2::254": "unique local",
    "ff02::1": "multicast",
    "2001:db8::1": "documentation",
    "::ffff:127.0.0.1": "IPv4-mapped address of 127.0.0.1: loopback",
    "::ffff:169.254.169.254": "IPv4-mapped address of 169.254.169.254: cloud metadata",
    "::7f00:1": "IPv4-compatible",
    "64:ff9b::a9fe:a9fe": "NAT64 address of 169.254.169.254: cloud metadata",
    "64:ff9b::7f00:1": "NAT64 address of 127.0.0.1",
    "64:ff9b:1::1": "local-use NAT64",
    "2002:7f00:1::1": "6to4 address of 127.0.0.1: loopback",
    "2002:a9fe:a9fe::1": "6to4 address of 169.254.169.254",
    "2001:0:4136:e378:8000:63bf:80ff:fffe": "Teredo address of 127.0.0.1",
}

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize(("address", "reason"), sorted(BLOCKED.items()))
def test_internal_address_is_blocked_with_its_reason(address: str, reason: str) -> None:
    verdict = OPEN.is_blocked(address)
    assert verdict is not None and reason in verdict


@pytest.mark.parametrize("address", ALLOWED)
def test_public_address_is_allowed(address: str) -> None:
    assert OPEN.is_blocked(address) is None


def test_allowlisted_network_passes() -> None:
    policy = AddressPolicy(allowlist=[ipaddress.ip_network("127.0.0.0/8")])
    assert policy.is_blocked("127.0.0.1") is None
    assert policy.is_blocked("10.0.0.1") is not None


def test_allowlist_covers_the_ipv4_mapped_spelling_of_an_allowlisted_address() -> None:
    policy = AddressPolicy(allowlist=[ipaddress.ip_network("127.0.0.0/8")])
    assert policy.is_blocked("::ffff:127.0.0.1") is None


def test_allowlist_does_not_cover_translated_spellings() -> None:
    # 6to4 and NAT64 addresses go to a relay, not to the allowlisted host itself.
    policy = AddressPolicy(allowlist=[ipaddress.ip_network("127.0.0.0/8")])
    assert policy.is_blocked("2002:7f00:1::1") is not None
    assert policy.is_blocked("64:ff9b::7f00:1") is not None


def test_text_that_is_not_an_address_is_blocked() -> None:
    assert "not an IP address" in (OPEN.is_blocked("localhost") or "")


F9_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://100.64.0.1/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::1]/",
    "http://0.0.0.0:8080/",
    "http://10.0.0.1/",
    "http://168.63.129.16/machine?comp=goalstate",
    "http://127.0.0.1:6066/",
    "http://[::1]/",
]


@pytest.mark.parametrize("url", F9_URLS)
async def test_registration_rejects_urls_with_internal_ip_literals(url: str) -> None:
    with pytest.raises(ValidationError, match="blocked address"):
        await check_url(url, OPEN, resolver=StaticResolver("8.8.8.8"))


async def test_registration_rejects_a_name_resolving_to_an_internal_address() -> None:
    with pytest.raises(ValidationError, match=r"resolves to 169\.254\.169\.254"):
        await check_url("https://metadata.example/", OPEN, StaticResolver("169.254.169.254"))


async def test_registration_rejects_a_name_if_any_answer_is_internal() -> None:
    with pytest.raises(ValidationError, match=r"resolves to 10\.1\.2\.3"):
        await check_url("https://mixed.example/", OPEN, StaticResolver("8.8.8.8", "10.1.2.3"))


async def test_registration_accepts_a_name_resolving_to_public_addresses() -> None:
    resolver = StaticResolver("93.184.216.34", "2606:2800:220:1::1")
    await check_url("https://hooks.example.com/fineract", OPEN, resolver)
    assert resolver.asked == ["hooks.example.com"]


async def test_registration_resolves_localhost_and_rejects_it() -> None:
    with pytest.raises(ValidationError, match="loopback"):
        await check_url("http://localhost:8080/", OPEN)


async def test_registration_accepts_internal_address_in_the_allowlist() -> None:
    policy = AddressPolicy(allowlist=[ipaddress.ip_network("10.0.0.0/8")])
    await check_url("http://10.0.0.1/hook", policy)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "//x/"])
async def test_registration_rejects_schemes_other_than_http(url: str) -> None:
    with pytest.raises(ValidationError, match="http or https"):
        await check_url(url, OPEN, StaticResolver("8.8.8.8"))


async def test_registration_rejects_http_when_https_only() -> None:
    with pytest.raises(ValidationError, match="must use https"):
        await check_url(
            "http://example.com/", AddressPolicy(https_only=True), StaticResolver("8.8.8.8")
        )


async def test_registration_rejects_userinfo() -> None:
    with pytest.raises(ValidationError, match="user name or password"):
        await check_url("https://user:pw@example.com/", OPEN, StaticResolver("8.8.8.8"))


async def test_registration_rejects_userinfo_used_to_disguise_the_host() -> None:
    with pytest.raises(ValidationError):
        await check_url("https://example.com@127.0.0.1/", OPEN, StaticResolver("8.8.8.8"))


async def test_registration_rejects_a_url_without_host() -> None:
    with pytest.raises(ValidationError, match="no host"):
        await check_url("http:///path", OPEN, StaticResolver("8.8.8.8"))


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0177.0.0.1"])
async def test_registration_rejects_legacy_numeric_ipv4_hosts(host: str) -> None:
    with pytest.raises(ValidationError, match="canonical IPv4"):
        await check_url(f"http://{host}/", OPEN, StaticResolver("8.8.8.8"))


async def test_registration_rejects_a_name_that_does_not_resolve() -> None:
    class Failing(StaticResolver):
        async def resolve(self, host: str, port: int = 0, family: Any = 0) -> Any:
            raise OSError("Name or service not known")

    with pytest.raises(ValidationError, match="could not be resolved"):
        await check_url("https://nowhere.invalid/", OPEN, Failing())
