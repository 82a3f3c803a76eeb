"""Readiness probe for a Kafka broker, standard library only.

Sends ApiVersions v0 and Metadata v4 (both valid on Kafka 3.x and 4.x) and
succeeds when the broker answers the metadata request with at least one broker.
Usage: python3 kafka_probe.py HOST:PORT [timeout_seconds]
"""

from __future__ import annotations

import socket
import struct
import sys


def _request(sock: socket.socket, api_key: int, api_version: int, corr: int, body: bytes) -> bytes:
    client_id = b"fineract-hub-probe"
    header = struct.pack(">hhih", api_key, api_version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _read(sock, 4))[0]
    data = _read(sock, size)
    (got_corr,) = struct.unpack(">i", data[:4])
    if got_corr != corr:
        raise RuntimeError(f"correlation id mismatch: {got_corr} != {corr}")
    return data[4:]


def _read(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def probe(bootstrap: str, timeout: float = 5.0) -> str:
    host, _, port = bootstrap.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        resp = _request(sock, 18, 0, 1, b"")  # ApiVersions v0
        (err,) = struct.unpack(">h", resp[:2])
        if err:
            raise RuntimeError(f"ApiVersions error code {err}")
        # Metadata v4: topics = null (all), allow_auto_topic_creation = false
        resp = _request(sock, 3, 4, 2, struct.pack(">ib", -1, 0))
        _throttle, n_brokers = struct.unpack(">ii", resp[:8])
        if n_brokers < 1:
            raise RuntimeError("metadata lists no brokers yet")
        off = 8
        node_id, hlen = struct.unpack(">ih", resp[off : off + 6])
        off += 6
        bhost = resp[off : off + hlen].decode()
        off += hlen
        (bport,) = struct.unpack(">i", resp[off : off + 4])
        return f"broker {node_id} at {bhost}:{bport}"


def main() -> int:
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    try:
        print(probe(bootstrap, timeout))
    except Exception as exc:  # the caller only needs yes/no plus a reason
        print(f"not ready: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
