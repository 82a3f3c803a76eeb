"""The connect-time guard against a real aiohttp server on loopback: nothing reaches the server
unless the policy allows its address (literal URLs, names, rebinding DNS and redirects).

The client is the hub's own ``HTTPClient``, the only one webhook requests go out on."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from yarl import URL

from fineract_hub.delivery.attempt import send_attempt
from fineract_hub.delivery.http_client import HTTPClient
from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.delivery.ssrf import AddressPolicy, BlockedDestination
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


def rebinding_dns(address: str) -> Callable[[str, int], Awaitable[list[tuple[int, str]]]]:
    """DNS that answered a public address at registration and now answers ``address``."""

    async def resolve(host: str, port: int) -> list[tuple[int, str]]:
        return [(socket.AF_INET, address)]

    return resolve


@pytest.fixture
async def open_client() -> AsyncIterator[HTTPClient]:
    client = HTTPClient(LOOPBACK_ALLOWED)
    yield client
    await client.close()


async def post(client: HTTPClient, url: str) -> int:
    response = await client.request("POST", URL(url), {"Content-Type": "application/json"}, b"{}")
    return response.status


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "[::1]", "127.1"])
async def test_loopback_is_blocked_before_connecting(server: Server, host: str) -> None:
    if ":" in host and not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")
    client = HTTPClient(AddressPolicy())
    with pytest.raises(BlockedDestination, match="is blocked"):
        await post(client, f"http://{host}:{server.port}/hook")
    await client.close()
    assert server.hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "[::1]"])
async def test_loopback_is_reachable_when_allowlisted(
    server: Server, open_client: HTTPClient, host: str
) -> None:
    if ":" in host and not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")
    assert await post(open_client, f"http://{host}:{server.port}/hook") == 200
    assert server.hits == ["/hook"]


async def test_rebinding_dns_answer_is_blocked_at_connect_time(server: Server) -> None:
    client = HTTPClient(LOOPBACK_ALLOWED, resolve=rebinding_dns("169.254.169.254"))
    with pytest.raises(BlockedDestination, match="cloud metadata") as caught:
        await post(client, f"http://hooks.example.com:{server.port}/hook")
    await client.close()
    assert caught.value.host == "hooks.example.com"
    assert caught.value.address == "169.254.169.254"


async def test_one_blocked_answer_among_several_refuses_the_name(server: Server) -> None:
    async def mixed(host: str, port: int) -> list[tuple[int, str]]:
        return [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "10.1.2.3")]

    client = HTTPClient(LOOPBACK_ALLOWED, resolve=mixed)
    with pytest.raises(BlockedDestination, match=r"10\.1\.2\.3"):
        await post(client, f"http://hooks.example.com:{server.port}/hook")
    await client.close()
    assert server.hits == []


async def test_blocked_destination_is_not_a_network_error(server: Server) -> None:
    client = HTTPClient(AddressPolicy())
    with pytest.raises(BlockedDestination) as caught:
        await post(client, f"http://127.0.0.1:{server.port}/hook")
    await client.close()
    assert not isinstance(caught.value, OSError)


async def test_redirect_response_is_returned_not_followed(
    server: Server, open_client: HTTPClient
) -> None:
    assert await post(open_client, f"http://127.0.0.1:{server.port}/bounce") == 302
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
    client = HTTPClient(LOOPBACK_ALLOWED)
    result = await send_attempt(client, webhook, event, "msg_1", [b"k" * 32], 1 << 20)
    await client.close()
    assert result.status == 302
    assert result.kind is OutcomeKind.FAILURE
    assert server.hits == ["/bounce"]


async def test_cookies_set_by_a_receiver_are_never_sent_back(
    server: Server, open_client: HTTPClient
) -> None:
    await post(open_client, f"http://localhost:{server.port}/cookie")
    await post(open_client, f"http://localhost:{server.port}/cookie")
    assert server.hits == ["-", "-"]


async def test_client_ignores_proxy_environment(
    server: Server, open_client: HTTPClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    assert await post(open_client, f"http://127.0.0.1:{server.port}/hook") == 200
