"""The connect-time guard against a real aiohttp server on loopback: nothing reaches the server
unless the policy allows its address (literal URLs, names, rebinding DNS and redirects)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from fineract_hub.delivery.attempt import send_attempt
from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.delivery.ssrf import (
    AddressPolicy,
    BlockedDestination,
    build_session,
    guarded_connector,
)
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook

LOOPBACK_ALLOWED = AddressPolicy(
    allowlist=[ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
)


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@dataclass
class Server:
    port: int
    hits: list[str] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(port=0)

    async def hook(request: web.Request) -> web.Response:
        state.hits.append(request.path)
        return web.Response(text="ok")

    async def cookie(request: web.Request) -> web.Response:
        state.hits.append(request.headers.get("Cookie", "-"))
        response = web.Response(text="ok")
        response.set_cookie("session", "from-receiver")
        return response

    async def bounce(request: web.Request) -> web.Response:
        state.hits.append(request.path)
        raise web.HTTPFound("/hook")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/hook", hook)
    app.router.add_post("/bounce", bounce)
    app.router.add_post("/cookie", cookie)
    runner = web.AppRunner(app)
    await runner.setup()
    hosts = ["127.0.0.1", "::1"] if ipv6_loopback_available() else ["127.0.0.1"]
    sock = socket.socket(socket.AF_INET6 if len(hosts) == 2 else socket.AF_INET)
    if len(hosts) == 2:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0))  # dual stack: reachable as 127.0.0.1, ::1 and ::ffff:127.0.0.1
    else:
        sock.bind(("127.0.0.1", 0))
    state.port = sock.getsockname()[1]
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield state
    finally:
        await runner.cleanup()


class RebindingResolver(AbstractResolver):
    """DNS that answered a public address at registration and now answers the metadata IP."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[dict[str, Any]]:
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


async def post(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(url, data=b"{}", allow_redirects=False) as response:
        return response.status


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "[::1]"])
async def test_loopback_is_blocked_before_connecting(server: Server, host: str) -> None:
    if ":" in host and not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")
    async with build_session(AddressPolicy(), timeout=5) as session:
        with pytest.raises(BlockedDestination, match="is blocked"):
            await post(session, f"http://{host}:{server.port}/hook")
    assert server.hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "[::1]"])
async def test_loopback_is_reachable_when_allowlisted(server: Server, host: str) -> None:
    if ":" in host and not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")
    async with build_session(LOOPBACK_ALLOWED, timeout=5) as session:
        assert await post(session, f"http://{host}:{server.port}/hook") == 200
    assert server.hits == ["/hook"]


async def test_rebinding_dns_answer_is_blocked_at_connect_time(server: Server) -> None:
    connector = guarded_connector(
        LOOPBACK_ALLOWED, resolver=RebindingResolver("169.254.169.254"), use_dns_cache=False
    )
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        with pytest.raises(BlockedDestination, match="cloud metadata") as caught:
            await post(session, f"http://hooks.example.com:{server.port}/hook")
    assert caught.value.host == "hooks.example.com"
    assert caught.value.address == "169.254.169.254"


async def test_blocked_destination_is_an_aiohttp_client_error_not_a_dns_error(
    server: Server,
) -> None:
    async with build_session(AddressPolicy(), timeout=5) as session:
        with pytest.raises(aiohttp.ClientConnectionError) as caught:
            await post(session, f"http://127.0.0.1:{server.port}/hook")
    assert type(caught.value) is BlockedDestination
    assert not isinstance(caught.value, OSError)


async def test_redirect_response_is_returned_not_followed(server: Server) -> None:
    async with build_session(LOOPBACK_ALLOWED, timeout=5) as session:
        assert await post(session, f"http://127.0.0.1:{server.port}/bounce") == 302
    assert server.hits == ["/bounce"]


async def test_a_delivery_attempt_never_follows_a_redirect(server: Server) -> None:
    webhook = Webhook(
        id="wh_1", name="bounce", event_type="client.created",
        url=f"http://127.0.0.1:{server.port}/bounce", http_method="POST",
        content_type="application/json", headers={}, payload_template=None, is_active=True,
        retry_count=None, retry_interval=None, timeout=5, ordered=False, secret_enc="unused",
    )
    event = CanonicalEvent(
        id="e1", type="client.created", fineract_type=None, category=None, tenant=None,
        created_at="2026-01-01T00:00:00Z", business_date=None, aggregate_id=1, data={},
    )
    async with build_session(LOOPBACK_ALLOWED, timeout=5) as session:
        result = await send_attempt(session, webhook, event, "msg_1", [b"k" * 32], 1 << 20)
    assert result.status == 302
    assert result.kind is OutcomeKind.FAILURE
    assert server.hits == ["/bounce"]


async def test_cookies_set_by_a_receiver_are_never_sent_back(server: Server) -> None:
    async with build_session(LOOPBACK_ALLOWED, timeout=5) as session:
        # A host name, not an IP literal: aiohttp's default jar ignores cookies from IPs.
        await post(session, f"http://localhost:{server.port}/cookie")
        await post(session, f"http://localhost:{server.port}/cookie")
    assert server.hits == ["-", "-"]


async def test_session_ignores_proxy_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    async with build_session(LOOPBACK_ALLOWED, timeout=5) as session:
        assert await post(session, f"http://127.0.0.1:{server.port}/hook") == 200
