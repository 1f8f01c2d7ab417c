"""The one HTTP server, used by the lab API server and the Sealed Secrets controller: HTTP/1.1
(over TLS or not) on asyncio streams, with h11 doing the protocol: keep-alive, request bodies
with Content-Length or chunked, and chunked streaming responses for watches.

Every connection is bounded, as Go's ``http.Server`` bounds it (:class:`Limits`): a request must
arrive whole within the read timeout, a keep-alive connection waits for the next one for the
idle timeout, writing a response (or one chunk of a stream) must finish within the write timeout,
and connections over the cap are answered 503 and closed. A slow client cannot hold a
connection, nor many of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

log = logging.getLogger("kubecrypt.httpserver")
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request limit is 3 MiB


@dataclass(frozen=True)
class Limits:
    """Seconds, and a connection count."""

    read_timeout: float = 60.0  # a whole request: headers and body
    write_timeout: float = 60.0  # writing one response, or one chunk of a streamed one
    idle_timeout: float = 120.0  # a keep-alive connection waiting for its next request
    max_connections: int = 1024  # open at once; more are answered 503 and closed


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_cn: str = ""  # CN of a client certificate the TLS layer verified against the client CA

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: AsyncIterator[bytes] | None = None  # chunked body, sent as it is produced


Handler = Callable[[Request], Awaitable[Response]]


class BodyTooLarge(Exception):
    pass


class _Deadline:
    """When the request being read must be complete. Between keep-alive requests the idle
    timeout runs; the first bytes of a request start its read timeout."""

    def __init__(self, limits: Limits, first: bool) -> None:
        now = asyncio.get_running_loop().time()
        self.read_timeout = limits.read_timeout
        self.idle = not first
        self.at = now + (limits.idle_timeout if self.idle else limits.read_timeout)

    def got_data(self) -> None:
        if self.idle:
            self.idle = False
            self.at = asyncio.get_running_loop().time() + self.read_timeout


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader,
                      deadline: _Deadline) -> object:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            async with asyncio.timeout_at(deadline.at):
                data = await reader.read(65536)
            deadline.got_data()
            conn.receive_data(data)
            continue
        return event


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader, limits: Limits,
                        first: bool) -> Request | None:
    return await _read_whole(conn, reader, _Deadline(limits, first))


async def _read_whole(conn: h11.Connection, reader: asyncio.StreamReader,
                      deadline: _Deadline) -> Request | None:
    event = await _next_event(conn, reader, deadline)
    if isinstance(event, h11.ConnectionClosed) or event is None:
        return None
    if not isinstance(event, h11.Request):
        return None
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
    body = bytearray()
    while True:
        ev = await _next_event(conn, reader, deadline)
        if isinstance(ev, h11.Data):
            body += ev.data
            if len(body) > MAX_BODY:
                raise BodyTooLarge()
        elif isinstance(ev, h11.EndOfMessage):
            break
        else:
            return None
    target = urlsplit(event.target.decode("latin-1"))
    query = dict(parse_qsl(target.query, keep_blank_values=True))
    return Request(event.method.decode(), unquote(target.path), query, headers, bytes(body))


async def _send(conn: h11.Connection, writer: asyncio.StreamWriter,
                event: h11.Response | h11.Data | h11.EndOfMessage, limits: Limits) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)
        async with asyncio.timeout(limits.write_timeout):
            await writer.drain()


async def _stream(conn: h11.Connection, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter, stream: AsyncIterator[bytes],
                  limits: Limits) -> None:
    """Sends chunks until the stream ends or the client goes away (a watch's usual end)."""

    async def pump() -> None:
        async for chunk in stream:
            await _send(conn, writer, h11.Data(data=chunk), limits)

    pump_task = asyncio.ensure_future(pump())
    gone = asyncio.ensure_future(reader.read(1))
    try:
        await asyncio.wait({pump_task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (pump_task, gone):
            if not t.done():
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    if gone.done() and not gone.cancelled():
        raise ConnectionResetError("client closed the stream")
    pump_task.result()
    await _send(conn, writer, h11.EndOfMessage(), limits)


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           handler: Handler, limits: Limits = Limits()) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    peer = writer.get_extra_info("peercert") or {}
    client_cn = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"),
                     "")
    first = True
    try:
        while True:
            try:
                request = await _read_request(conn, reader, limits, first)
            except (h11.RemoteProtocolError, BodyTooLarge) as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    status = 413 if isinstance(exc, BodyTooLarge) else 400
                    await _send(conn, writer, h11.Response(status_code=status, headers=[
                        ("content-length", "0"), ("connection", "close")]), limits)
                return
            first = False
            if request is None:
                return
            request.client_cn = client_cn
            response = await handler(request)
            headers = [("content-type", response.content_type),
                       ("cache-control", "no-cache, private"), *response.headers]
            if response.stream is None:
                headers.append(("content-length", str(len(response.body))))
                await _send(conn, writer, h11.Response(status_code=response.status,
                                                       headers=headers), limits)
                if response.body:
                    await _send(conn, writer, h11.Data(data=response.body), limits)
                await _send(conn, writer, h11.EndOfMessage(), limits)
            else:
                headers.append(("transfer-encoding", "chunked"))
                await _send(conn, writer, h11.Response(status_code=response.status,
                                                       headers=headers), limits)
                await _stream(conn, reader, writer, response.stream, limits)
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except TimeoutError:
        # As Go's server: the connection is closed, with whatever it had not sent dropped (a
        # client that stopped reading would otherwise hold it while the buffer drains).
        writer.transport.abort()
    except (ConnectionError, ssl.SSLError, h11.LocalProtocolError, asyncio.IncompleteReadError):
        return
    except h11.RemoteProtocolError:
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(limits.write_timeout):
                await writer.wait_closed()
        writer.transport.abort()


_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 1\r\n"
         b"connection: close\r\n\r\n")


class HTTPServer:
    """The listening server and the connections it holds (at most ``limits.max_connections``)."""

    def __init__(self, handler: Handler, limits: Limits) -> None:
        self.handler = handler
        self.limits = limits
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.limits.max_connections:
            # The answer, then our end closed; the client gets a second to take it and close
            # its end (closing while its request sits unread would reset the connection and
            # lose the answer).
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1):
                    writer.write(_BUSY)
                    if writer.can_write_eof():
                        writer.write_eof()
                    while await reader.read(65536):
                        pass
            writer.transport.abort()
            return
        self.connections += 1
        try:
            await serve_connection(reader, writer, self.handler, self.limits)
        except Exception:  # a bug in one request must not take the server down
            log.exception("connection failed")
        finally:
            self.connections -= 1

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self.server.sockets) if self.server else ()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def wait_closed(self) -> None:
        if self.server is not None:
            await self.server.wait_closed()


async def start(handler: Handler, host: str, port: int, ssl_context: ssl.SSLContext | None,
                limits: Limits = Limits()) -> HTTPServer:
    server = HTTPServer(handler, limits)
    server.server = await asyncio.start_server(
        server._on_connect, host, port, ssl=ssl_context, reuse_address=True,
        ssl_handshake_timeout=limits.read_timeout if ssl_context else None)
    return server
