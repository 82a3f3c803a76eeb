"""The webhook HTTP client against loopback servers that answer with scripted bytes.

Each server reads whole requests (head and Content-Length body) and answers each with the next
scripted response of its connection, so framing, keep-alive and hostile answers are exact.
Every test runs on asyncio's own loop and on uvloop (the worker's), see ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from yarl import URL

from fineract_hub.delivery.http_client import HTTPClient, ResponseError, parse_head, request_head
from fineract_hub.delivery.ssrf import AddressPolicy

LOOPBACK = AddressPolicy(allowlist=[ipaddress.ip_network("127.0.0.0/8")])
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

#: Per connection, per request: what to send back (None: close without answering).
Script = Callable[[int, int], bytes | None]


@dataclass
class ScriptedServer:
    script: Script
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    @property
    def url(self) -> URL:
        return URL(f"http://127.0.0.1:{self.port}/hook?x=1")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        try:
            for index in range(1000):
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.script(number, index)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
            writer.close()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.disconnected.set()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., asyncio.Future[ScriptedServer]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script, ssl_context: ssl.SSLContext | None = None) -> ScriptedServer:
        state = ScriptedServer(script)
        server = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(server)
        state.server = server
        state.port = server.sockets[0].getsockname()[1]
        return state

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


@pytest.fixture
async def client() -> AsyncIterator[HTTPClient]:
    http = HTTPClient(LOOPBACK, excerpt_bytes=16, drain_bytes=1024)
    yield http
    await http.close()


def always(answer: bytes | None) -> Script:
    return lambda connection, request: answer


async def post(client: HTTPClient, url: URL, body: bytes = b"{}") -> tuple[int, bytes]:
    response = await client.request("POST", url, {"Content-Type": "application/json"}, body)
    return response.status, response.excerpt


async def test_keep_alive_connection_is_reused(serve, client: HTTPClient) -> None:
    server = await serve(always(OK))
    assert await post(client, server.url) == (200, b"ok")
    assert await post(client, server.url) == (200, b"ok")
    assert server.connections == 1


async def test_connection_close_response_is_not_reused(serve, client: HTTPClient) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = await serve(always(closing))
    await post(client, server.url)
    await post(client, server.url)
    assert server.connections == 2


async def test_http_1_0_response_is_not_reused(serve, client: HTTPClient) -> None:
    server = await serve(always(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"))
    await post(client, server.url)
    await post(client, server.url)
    assert server.connections == 2


async def test_request_carries_host_path_query_headers_and_body(serve, client: HTTPClient) -> None:
    server = await serve(always(OK))
    await post(client, server.url, b'{"a":1}')
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hook?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: 7" in lines
    assert body == b'{"a":1}'


def test_default_port_is_left_out_of_the_host_header() -> None:
    head = request_head("POST", URL("https://hooks.example.com/in"), {}, 0)
    assert b"\r\nHost: hooks.example.com\r\n" in head


def test_header_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        request_head("POST", URL("http://x.example/"), {"X-A": "1\r\nX-Injected: 2"}, 0)


def test_header_name_that_is_not_a_token_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid HTTP token"):
        request_head("POST", URL("http://x.example/"), {"X A": "1"}, 0)


async def test_chunked_response_is_decoded_and_connection_reused(serve, client: HTTPClient) -> None:
    chunked = (
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    server = await serve(always(chunked))
    assert await post(client, server.url) == (202, b"hello world")
    assert await post(client, server.url) == (202, b"hello world")
    assert server.connections == 1


async def test_body_ending_with_the_connection_is_read_up_to_the_excerpt(
    serve, client: HTTPClient
) -> None:
    server = await serve(always(b"HTTP/1.1 500 Oops\r\n\r\nsomething broke badly, details follow"))
    status, excerpt = await post(client, server.url)
    assert (status, excerpt) == (500, b"something broke ")
    await post(client, server.url)
    assert server.connections == 2


async def test_body_longer_than_the_drain_limit_closes_instead_of_reading_it_all(
    serve, client: HTTPClient
) -> None:
    huge = b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 100_000
    server = await serve(always(huge))  # then stays silent: the rest never comes
    assert await asyncio.wait_for(post(client, server.url), 5) == (200, b"x" * 16)
    await asyncio.wait_for(server.disconnected.wait(), 5)


async def test_chunked_body_longer_than_the_drain_limit_closes(serve, client: HTTPClient) -> None:
    server = await serve(always(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"100000\r\n" + b"y" * 50_000))
    assert await asyncio.wait_for(post(client, server.url), 5) == (200, b"y" * 16)
    await asyncio.wait_for(server.disconnected.wait(), 5)


async def test_interim_100_continue_is_skipped(serve, client: HTTPClient) -> None:
    server = await serve(always(b"HTTP/1.1 100 Continue\r\n\r\n" + OK))
    assert await post(client, server.url) == (200, b"ok")


async def test_no_content_response_has_no_body_and_keeps_the_connection(
    serve, client: HTTPClient
) -> None:
    server = await serve(always(b"HTTP/1.1 204 No Content\r\n\r\n"))
    assert await post(client, server.url) == (204, b"")
    assert await post(client, server.url) == (204, b"")
    assert server.connections == 1


async def test_response_with_both_content_length_and_chunked_is_read_chunked_and_not_reused(
    serve, client: HTTPClient
) -> None:
    answer = (b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"2\r\nok\r\n0\r\n\r\n")
    server = await serve(always(answer))
    assert await post(client, server.url) == (200, b"ok")
    await post(client, server.url)
    assert server.connections == 2


async def test_a_drain_limit_past_the_buffer_cap_is_clamped_so_large_bodies_still_end(
    serve,
) -> None:
    body = b"x" * 1_500_000
    server = await serve(always(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                                + body))
    http = HTTPClient(LOOPBACK, drain_bytes=2_000_000)
    async with asyncio.timeout(5):
        assert (await post(http, server.url))[0] == 200
    await http.close()


async def test_bytes_after_the_response_mean_the_connection_is_not_reused(
    serve, client: HTTPClient
) -> None:
    server = await serve(always(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    await post(client, server.url)
    await post(client, server.url)
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"SMTP ready\r\n\r\n", "status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
        (b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\x0b5\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n", "bare LF"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\rContent-Length: 0\r\n\r\n", "bare LF, CR"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\x00\r\nContent-Length: 0\r\n\r\n", "NUL"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
    ],
)
async def test_malformed_response_is_a_clear_error(
    serve, client: HTTPClient, answer: bytes, reason: str
) -> None:
    server = await serve(always(answer))
    with pytest.raises(ResponseError, match=reason):
        await post(client, server.url)


async def test_response_head_without_end_is_cut_off(serve, client: HTTPClient) -> None:
    server = await serve(always(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 70_000))
    with pytest.raises(ResponseError, match="response head is over"):
        await asyncio.wait_for(post(client, server.url), 5)


async def test_close_without_answer_on_a_fresh_connection_is_a_connection_error(
    serve, client: HTTPClient
) -> None:
    server = await serve(always(None))
    with pytest.raises(ConnectionResetError, match="closed the connection"):
        await post(client, server.url)


async def test_keep_alive_connection_closed_by_the_server_is_replaced_once(
    serve, client: HTTPClient
) -> None:
    # Each connection answers its first request and closes before a second one: the classic
    # race of reusing an idle connection the server has just timed out.
    server = await serve(lambda connection, request: OK if request == 0 else None)
    assert await post(client, server.url) == (200, b"ok")
    assert await post(client, server.url) == (200, b"ok")
    assert server.connections == 2


async def test_deadline_closes_the_connection(serve, client: HTTPClient) -> None:
    server = await serve(lambda connection, request: b"")  # accepts, never answers
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await post(client, server.url)
    await asyncio.wait_for(server.disconnected.wait(), 5)


async def test_refused_connection_names_host_and_reason(client: HTTPClient) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(OSError, match=f"cannot connect to 127.0.0.1:{port}"):
        await post(client, URL(f"http://127.0.0.1:{port}/"))


async def test_unresolvable_name_is_a_clear_error(client: HTTPClient) -> None:
    with pytest.raises(OSError, match=r"cannot resolve nowhere\.invalid"):
        await post(client, URL("http://nowhere.invalid/"))


def test_repeated_headers_are_joined_and_names_lower_cased() -> None:
    head = parse_head(b"HTTP/1.1 429 Too Many\r\nRetry-After: 5\r\nVia: a\r\nvia: b")
    assert (head.status, head.reason) == (429, "Too Many")
    assert head.headers == {"retry-after": "5", "via": "a, b"}


# -- TLS -------------------------------------------------------------------------------------------
def self_signed(
    tmp_path: Path, dns_name: str | None = None
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1 (or ``dns_name``), and a client
    context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name or "127.0.0.1")])
    names: list[x509.GeneralName] = (
        [x509.DNSName(dns_name)] if dns_name
        else [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_https_receiver_with_a_trusted_certificate_is_reached(serve, tmp_path: Path) -> None:
    server_context, client_context = self_signed(tmp_path)
    server = await serve(always(OK), ssl_context=server_context)
    client = HTTPClient(LOOPBACK, ssl_context=client_context)
    url = URL(f"https://127.0.0.1:{server.port}/hook")
    assert await post(client, url) == (200, b"ok")
    assert await post(client, url) == (200, b"ok")
    await client.close()
    assert server.connections == 1


async def test_https_receiver_with_an_untrusted_certificate_is_refused(
    serve, tmp_path: Path
) -> None:
    server_context, _ = self_signed(tmp_path)
    server = await serve(always(OK), ssl_context=server_context)
    client = HTTPClient(LOOPBACK)  # the system's trust store: the self-signed cert is not in it
    with pytest.raises(ssl.SSLError, match="certificate verify failed"):
        await post(client, URL(f"https://127.0.0.1:{server.port}/hook"))
    await client.close()
    assert server.requests == []


async def test_tls_for_an_international_name_checks_the_name_connected_to(
    serve, tmp_path: Path
) -> None:
    # faß.de: IDNA 2008 gives xn--fa-hia.de; re-encoding the decoded name with Python's IDNA
    # 2003 codec would give fass.de, another domain, for SNI and the certificate check.
    server_context, client_context = self_signed(tmp_path, "xn--fa-hia.de")
    sent: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: sent.append(name)  # type: ignore[assignment,misc]

    async def to_loopback(host: str, port: int) -> list[tuple[int, str]]:
        return [(socket.AF_INET, "127.0.0.1")]

    server = await serve(always(OK), ssl_context=server_context)
    client = HTTPClient(LOOPBACK, ssl_context=client_context, resolve=to_loopback)
    assert await post(client, URL(f"https://xn--fa-hia.de:{server.port}/hook")) == (200, b"ok")
    await client.close()
    assert sent == ["xn--fa-hia.de"]
