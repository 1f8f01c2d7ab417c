"""kubecrypt.httpserver, the one HTTP server of the lab and the controller: slow or idle clients
are disconnected after the read, idle and write timeouts, and the connection cap holds."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

from kubecrypt import httpserver
from kubecrypt.httpserver import Limits, Request, Response

GET = b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n"


async def _ok(req: Request) -> Response:
    return Response(200, b"ok:" + req.path.encode(), "text/plain")


def _run(limits: Limits, body: Callable[[int, httpserver.HTTPServer], Awaitable[None]],
         handler: httpserver.Handler = _ok) -> None:
    async def main() -> None:
        server = await httpserver.start(handler, "127.0.0.1", 0, None, limits)
        try:
            await body(int(server.sockets[0].getsockname()[1]), server)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


async def _closed_after(reader: asyncio.StreamReader, limit: float) -> float:
    """Seconds until the server closes the connection (reads everything it sends)."""
    t0 = time.monotonic()
    async with asyncio.timeout(limit):
        while await reader.read(65536):
            pass
    return time.monotonic() - t0


def test_a_request_is_served_and_the_connection_kept_alive() -> None:
    async def body(port: int, _: httpserver.HTTPServer) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _i in range(2):
            writer.write(GET)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert await reader.readexactly(5) == b"ok:/x"
        writer.close()

    _run(Limits(read_timeout=1, idle_timeout=1), body)


def test_half_a_request_is_disconnected_after_the_read_timeout() -> None:
    async def body(port: int, server: httpserver.HTTPServer) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nhost: t\r\n")  # and never the blank line
        took = await _closed_after(reader, 5)
        assert 0.4 <= took < 2.5
        assert server.connections == 0

    _run(Limits(read_timeout=0.5, idle_timeout=30), body)


def test_a_trickled_body_does_not_extend_the_read_timeout() -> None:
    async def body(port: int, _: httpserver.HTTPServer) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 1000\r\n\r\n")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 5 and not closed:
            try:
                writer.write(b"a")  # one byte every 0.1 s: each read succeeds
                await writer.drain()
            except ConnectionError:
                closed = True
            try:
                closed = await asyncio.wait_for(reader.read(1), 0.1) == b""
            except TimeoutError:
                pass
            except ConnectionError:
                closed = True
        assert closed and time.monotonic() - t0 < 2.5

    _run(Limits(read_timeout=0.8, idle_timeout=30), body)


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> None:
    async def body(port: int, _: httpserver.HTTPServer) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET)
        await reader.readuntil(b"ok:/x")
        took = await _closed_after(reader, 5)
        assert 0.4 <= took < 2.5

    _run(Limits(read_timeout=30, idle_timeout=0.5), body)


def test_a_client_that_does_not_read_is_disconnected_after_the_write_timeout() -> None:
    big = b"x" * (32 << 20)

    async def large(req: Request) -> Response:
        return Response(200, big, "text/plain")

    async def body(port: int, server: httpserver.HTTPServer) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(GET)  # and never read the 32 MiB answer
        while not server.connections:
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        while server.connections and time.monotonic() - t0 < 5:
            await asyncio.sleep(0.05)
        took = time.monotonic() - t0
        sock.close()
        assert server.connections == 0 and 0.4 <= took < 2.5

    _run(Limits(write_timeout=0.5), body, large)


def test_connections_over_the_cap_are_refused_with_503() -> None:
    async def body(port: int, server: httpserver.HTTPServer) -> None:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        while server.connections < 2:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET)
        answer = await asyncio.wait_for(reader.read(), 2)
        assert answer.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in answer
        assert server.connections == 2
        held[0][1].close()  # one goes: a new connection is served again
        while server.connections > 1:
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET)
        assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
        held[1][1].close()

    _run(Limits(read_timeout=30, idle_timeout=30, max_connections=2), body)
