"""The HTTP/1.1 client that webhook attempts go out on: one request, one small response.

Why not ``aiohttp.ClientSession``: a webhook attempt needs a status code, ``Retry-After`` and
the first 2 KiB of the body, nothing more, and ClientSession's generality (cookies, redirects,
proxies, decompression, traces, multipart, per-request objects) cost about 110 µs of CPU per
request here, a quarter of a whole delivery; this client does the same request in about 25 µs.

What it does, and deliberately does not:

* HTTP/1.1 over TCP or TLS (``ssl.create_default_context()``: certificates and host names are
  verified, SNI is sent), keep-alive connections pooled per scheme, host and port;
* every address a name resolves to is judged by the SSRF ``AddressPolicy`` before a socket is
  opened, and the socket connects to exactly the address judged (no second lookup to rebind);
* responses framed by ``Content-Length``, ``chunked`` or the end of the connection; of the body
  it keeps ``excerpt_bytes`` and reads at most ``drain_bytes`` to reuse the connection, beyond
  that it closes it; a connection is reused only after a complete, unambiguous response;
* never follows redirects (a 3xx is a failed delivery), never uses a proxy, sends no cookies,
  asks for no compression.

Errors are ``TimeoutError``, ``OSError`` (DNS, refused, reset, TLS), ``BlockedDestination`` or
``ResponseError`` (the receiver's bytes are not an HTTP/1.x response), each with a message an
operator can act on.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import cast

from yarl import URL

from fineract_hub.delivery.ssrf import AddressPolicy, BlockedDestination, host_literal

__all__ = ["HTTP_TOKEN", "HTTPClient", "Response", "ResponseError", "parse_head"]

MAX_HEAD_BYTES = 64 * 1024
#: Connections idle longer than this are closed rather than reused (servers commonly close
#: theirs after 5 to 75 s; reusing one the server is closing fails the attempt).
IDLE_SECONDS = 15.0
MAX_IDLE_PER_ORIGIN = 256
_SWEEP_SECONDS = 5.0

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n]*))?")
#: An HTTP token (RFC 9110 5.6.2): what a header name may be, here and at registration.
HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: Bytes a hostile receiver may push at us before we look at them (reading is paused beyond).
_BUFFER_CAP = 1024 * 1024


#: host, port -> (address family, address) of every address the name stands for.
Resolve = Callable[[str, int], Awaitable[list[tuple[int, str]]]]


async def resolve_with_getaddrinfo(host: str, port: int) -> list[tuple[int, str]]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise socket.gaierror(exc.errno, f"cannot resolve {host}: {exc.strerror}") from exc
    return list(dict.fromkeys((family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos))


class ResponseError(Exception):
    """The receiver answered with something that is not a usable HTTP/1.x response."""


# Not frozen: a frozen dataclass's __init__ costs a microsecond per response here.
@dataclass(slots=True)
class ResponseHead:
    version: int  # minor version: 0 or 1
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    content_lengths: tuple[str, ...]


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]  # lower-case names
    excerpt: bytes


#: Header names seen before (as sent -> lower case): checked once, not in every response.
_header_keys: dict[bytes, str] = {}


def _header_key(name_raw: bytes, colon: bytes, raw: bytes) -> str:
    name = name_raw.decode("latin-1")
    if not colon or not HTTP_TOKEN.fullmatch(name):
        raise ResponseError(f"malformed header line in response: {raw[:80]!r}")
    key = name.lower()
    if len(_header_keys) < 1024:
        _header_keys[name_raw] = key
    return key


def parse_head(block: bytes) -> ResponseHead:
    """Status line and header fields of one response (``block`` without the blank line).

    Strict where framing depends on it (obsolete line folding, header names with spaces and
    malformed lines are refused, since a lenient parser is how responses get misframed) and
    lenient elsewhere (any reason phrase, values as latin-1)."""
    # One scan of the whole head instead of one per line: every CR must start a CRLF and every
    # LF end one (a bare LF ends a line for other parsers, not for us), and no NUL anywhere.
    crlf = block.count(b"\r\n")
    if block.count(b"\r") != crlf or block.count(b"\n") != crlf or b"\x00" in block:
        raise ResponseError(f"response head holds a bare LF, CR or NUL: {block[:120]!r}")
    lines = block.split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ResponseError(
            f"response does not start with an HTTP/1.x status line: {lines[0][:80]!r}"
        )
    headers: dict[str, str] = {}
    lengths: list[str] = []
    for raw in lines[1:]:
        name_raw, colon, value_raw = raw.partition(b":")
        key = _header_keys.get(name_raw) if colon else None
        if key is None:
            key = _header_key(name_raw, colon, raw)
        value = value_raw.strip(b" \t").decode("latin-1")
        if key == "content-length":
            lengths.append(value)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return ResponseHead(
        int(match.group(1)),
        int(match.group(2)),
        (match.group(3) or b"").decode("latin-1"),
        headers,
        tuple(lengths),
    )


def content_length(head: ResponseHead) -> int | None:
    """The body length the head declares, ``None`` if it declares none; refuses conflicts."""
    if not head.content_lengths:
        return None
    values = {part.strip() for value in head.content_lengths for part in value.split(",")}
    if len(values) != 1:
        raise ResponseError(f"response has conflicting Content-Length values {sorted(values)}")
    (value,) = values
    if not value.isascii() or not value.isdigit():
        raise ResponseError(f"response has an invalid Content-Length {value!r}")
    return int(value)


_checked_names: set[str] = set()


def request_head(
    method: str, url: URL, headers: Mapping[str, str], body_length: int
) -> bytes:
    """The request line and headers. Names and values are checked here too (registration
    validates them already): a CR or LF in either would let a header split the request."""
    lines = [f"{method} {url.raw_path_qs or '/'} HTTP/1.1", f"Host: {url.host_port_subcomponent}"]
    for name, value in headers.items():
        if name not in _checked_names:
            if not HTTP_TOKEN.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if len(_checked_names) < 4096:
                _checked_names.add(name)
        if "\r" in value or "\n" in value or "\x00" in value:
            raise ValueError(f"header {name!r} has a CR, LF or NUL in its value")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


class _Connection(asyncio.Protocol):
    """One socket; its bytes arrive in ``buffer``, and ``wait`` sleeps until more come."""

    def __init__(self, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None

    @property
    def usable(self) -> bool:
        return not self.eof and self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _BUFFER_CAP and self.transport is not None:
            self.transport.pause_reading()  # we never need that much; the exchange ends soon
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until more bytes or the end of the stream; raises if it ended before."""
        if self.eof:
            raise ConnectionResetError(
                f"receiver closed the connection ({self.error or 'end of stream'})"
            )
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        self.eof = True


class HTTPClient:
    """Webhook requests with pooled connections; one per hub, closed with ``close()``."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        excerpt_bytes: int = 2048,
        drain_bytes: int = 64 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        resolve: Resolve = resolve_with_getaddrinfo,
    ) -> None:
        self.policy = policy
        self.resolve = resolve
        # Reading pauses once a connection has buffered _BUFFER_CAP bytes (hostile receivers),
        # so neither limit may reach it.
        self.excerpt_bytes = min(excerpt_bytes, _BUFFER_CAP // 2)
        self.drain_bytes = min(max(drain_bytes, self.excerpt_bytes), _BUFFER_CAP // 2)
        self._ssl = ssl_context
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def request(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        """One exchange. No deadline of its own: callers wrap it in ``asyncio.timeout`` (an
        attempt's deadline covers connecting, sending and reading alike)."""
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise ValueError(f"cannot send a webhook to {url}: needs an http(s) URL with a host")
        head = request_head(method, url, headers, len(body))
        payload = head + body if len(body) < 65536 else None
        origin = (url.scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        conn = self._take_idle(origin)
        if conn is not None:
            try:
                return await self._exchange(conn, method, head, body, payload)
            except _StaleConnection:
                pass  # the server closed it while idle: not an answer, try a fresh one
        conn = await self._connect(origin)
        return await self._exchange(conn, method, head, body, payload)

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    # -- connections ----------------------------------------------------------------------------
    def _take_idle(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()  # most recently used: the least likely to have been closed
            if conn.usable and not conn.buffer and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    def _put_idle(self, conn: _Connection) -> None:
        if self._closed or not conn.usable:
            conn.close()
            return
        idle = self._idle.setdefault(conn.origin, deque())
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            idle.popleft().close()
        conn.idle_since = time.monotonic()
        idle.append(conn)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle too long, so endpoints no longer used hold no sockets."""
        self._sweeper = None
        now = time.monotonic()
        for origin in list(self._idle):
            idle = self._idle[origin]
            while idle and (not idle[0].usable or now - idle[0].idle_since >= IDLE_SECONDS):
                idle.popleft().close()
            if not idle:
                del self._idle[origin]
        if self._idle and not self._closed:
            self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_SECONDS, self._sweep)

    async def _connect(self, origin: tuple[str, str, int]) -> _Connection:
        scheme, host, port = origin
        addresses = await self._addresses(host, port)
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if scheme == "https" else None
        # SNI and the certificate check use the name as connected to: the ASCII (punycode) form.
        # yarl's decoded url.host would be re-encoded by ssl with IDNA 2003, which maps some
        # names (faß.de) onto other domains (fass.de). An IP literal is checked as an address.
        server_hostname = host if tls is not None else None
        errors: list[str] = []
        for family, address in addresses:
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(origin),
                    address,
                    port,
                    family=family,
                    ssl=tls,
                    server_hostname=server_hostname,
                )
                return conn
            except ssl.SSLError as exc:
                raise ssl.SSLError(exc.errno, f"TLS with {host}:{port} failed: {exc}") from exc
            except OSError as exc:
                errors.append(f"{address}: {exc.strerror or exc}")
        raise ConnectionRefusedError(f"cannot connect to {host}:{port} ({'; '.join(errors)})")

    async def _addresses(self, host: str, port: int) -> list[tuple[int, str]]:
        """Every address ``host`` stands for, each judged by the policy: one blocked answer is
        enough to refuse (``AddressPolicy.first_blocked``)."""
        literal = host_literal(host)
        if literal is not None:
            found = [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))]
        else:
            found = await self.resolve(host, port)
            if not found:
                raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
        blocked = self.policy.first_blocked(address for _, address in found)
        if blocked is not None:
            raise BlockedDestination(host, *blocked)
        return found

    # -- one exchange ---------------------------------------------------------------------------
    async def _exchange(
        self, conn: _Connection, method: str, head: bytes, body: bytes, payload: bytes | None
    ) -> Response:
        reused = conn.idle_since > 0
        transport = conn.transport
        assert transport is not None
        try:
            if payload is not None:
                transport.write(payload)
            else:
                transport.writelines((head, body))
            response_head = await self._read_head(conn, reused)
            response = await self._read_body(conn, method, response_head)
        except BaseException:
            conn.close()
            raise
        return response

    async def _read_head(self, conn: _Connection, reused: bool) -> ResponseHead:
        while True:
            end = conn.buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(conn.buffer) > MAX_HEAD_BYTES:
                    raise ResponseError(f"response head is over {MAX_HEAD_BYTES} bytes")
                try:
                    await conn.wait()
                except ConnectionResetError as exc:
                    if reused and not conn.buffer:
                        raise _StaleConnection from exc
                    raise
                end = conn.buffer.find(b"\r\n\r\n")
            if end > MAX_HEAD_BYTES:
                raise ResponseError(f"response head is over {MAX_HEAD_BYTES} bytes")
            head = parse_head(bytes(conn.buffer[:end]))
            del conn.buffer[: end + 4]
            if 100 <= head.status < 200 and head.status != 101:
                reused = False  # an interim response (100 Continue, 103 Early Hints): skip it
                continue
            return head

    async def _read_body(self, conn: _Connection, method: str, head: ResponseHead) -> Response:
        headers = head.headers
        encoding = headers.get("transfer-encoding")
        keep = head.version == 1 and "close" not in headers.get("connection", "").lower()
        if head.status == 101:
            raise ResponseError("receiver switched protocols (101), which a webhook cannot use")
        if head.status in (204, 304) or method == "HEAD":
            excerpt, complete = b"", True
        elif encoding is not None:
            if head.content_lengths:
                # Both framings (RFC 9112 6.3: an error, and the classic desync): the status is
                # read by Transfer-Encoding, and the connection is never used again.
                keep = False
            if encoding.lower().rsplit(",", 1)[-1].strip() != "chunked":
                excerpt, complete, keep = await self._read_to_end(conn), False, False
            else:
                excerpt, complete = await self._read_chunked(conn)
        else:
            length = content_length(head)
            if length is None:
                excerpt, complete, keep = await self._read_to_end(conn), False, False
            else:
                excerpt, complete = await self._read_length(conn, length)
        if keep and complete and not conn.buffer:
            self._put_idle(conn)
        else:
            conn.close()
        return Response(head.status, head.reason, headers, excerpt)

    async def _read_length(self, conn: _Connection, length: int) -> tuple[bytes, bool]:
        wanted = length if length <= self.drain_bytes else self.excerpt_bytes
        while len(conn.buffer) < wanted:
            await conn.wait()
        excerpt = bytes(conn.buffer[: min(length, self.excerpt_bytes)])
        if length <= self.drain_bytes:
            del conn.buffer[:length]
            return excerpt, True
        return excerpt, False  # too long to drain: the connection is closed instead

    async def _read_to_end(self, conn: _Connection) -> bytes:
        """A body that ends with the connection: up to the excerpt, then the connection goes."""
        while len(conn.buffer) < self.excerpt_bytes and not conn.eof:
            await conn.wait()
        return bytes(conn.buffer[: self.excerpt_bytes])

    async def _read_chunked(self, conn: _Connection) -> tuple[bytes, bool]:
        excerpt = bytearray()
        read = 0
        while True:
            line = await self._read_line(conn)
            size_text = line.split(b";", 1)[0].rstrip(b" \t")
            if _CHUNK_SIZE.fullmatch(size_text) is None:
                raise ResponseError(f"malformed chunk size {line[:40]!r} in response")
            size = int(size_text, 16)
            if size == 0:
                while await self._read_line(conn):  # trailer fields, up to the blank line
                    pass
                return bytes(excerpt), True
            read += size
            if read > self.drain_bytes:  # too long to drain: keep the excerpt, then close
                need = min(size, self.excerpt_bytes - len(excerpt))
                while len(conn.buffer) < need:
                    await conn.wait()
                excerpt += conn.buffer[: max(need, 0)]
                return bytes(excerpt), False
            while len(conn.buffer) < size + 2:
                await conn.wait()
            if conn.buffer[size : size + 2] != b"\r\n":
                raise ResponseError("chunk in response is not followed by CRLF")
            if len(excerpt) < self.excerpt_bytes:
                excerpt += conn.buffer[: min(size, self.excerpt_bytes - len(excerpt))]
            del conn.buffer[: size + 2]

    async def _read_line(self, conn: _Connection) -> bytes:
        end = conn.buffer.find(b"\r\n")
        while end < 0:
            if len(conn.buffer) > 4096:
                raise ResponseError("chunk header line in response is over 4096 bytes")
            await conn.wait()
            end = conn.buffer.find(b"\r\n")
        line = bytes(conn.buffer[:end])
        del conn.buffer[: end + 2]
        return line


class _StaleConnection(Exception):
    """A reused keep-alive connection ended before any byte of the response came back."""
