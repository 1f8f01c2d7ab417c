"""HTTP/1.1 over TLS on asyncio streams, with h11 doing the protocol: keep-alive, request bodies
with Content-Length or chunked, and chunked streaming responses for watches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

log = logging.getLogger("kubecrypt.lab.http")
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request limit is 3 MiB


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


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            continue
        return event


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
    event = await _next_event(conn, reader)
    if isinstance(event, h11.ConnectionClosed) or event is None:
        return None
    if not isinstance(event, h11.Request):
        return None
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
    body = bytearray()
    while True:
        ev = await _next_event(conn, reader)
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
                event: h11.Response | h11.Data | h11.EndOfMessage) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)
        await writer.drain()


async def _stream(conn: h11.Connection, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter, stream: AsyncIterator[bytes]) -> None:
    """Sends chunks until the stream ends or the client goes away (a watch's usual end)."""

    async def pump() -> None:
        async for chunk in stream:
            await _send(conn, writer, h11.Data(data=chunk))

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
    await _send(conn, writer, h11.EndOfMessage())


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           handler: Handler) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    peer = writer.get_extra_info("peercert") or {}
    client_cn = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"),
                     "")
    try:
        while True:
            try:
                request = await _read_request(conn, reader)
            except (h11.RemoteProtocolError, BodyTooLarge) as exc:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    status = 413 if isinstance(exc, BodyTooLarge) else 400
                    await _send(conn, writer, h11.Response(status_code=status, headers=[
                        ("content-length", "0"), ("connection", "close")]))
                return
            if request is None:
                return
            request.client_cn = client_cn
            response = await handler(request)
            headers = [("content-type", response.content_type),
                       ("cache-control", "no-cache, private"), *response.headers]
            if response.stream is None:
                headers.append(("content-length", str(len(response.body))))
                await _send(conn, writer, h11.Response(status_code=response.status,
                                                       headers=headers))
                if response.body:
                    await _send(conn, writer, h11.Data(data=response.body))
                await _send(conn, writer, h11.EndOfMessage())
            else:
                headers.append(("transfer-encoding", "chunked"))
                await _send(conn, writer, h11.Response(status_code=response.status,
                                                       headers=headers))
                await _stream(conn, reader, writer, response.stream)
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (ConnectionError, ssl.SSLError, h11.LocalProtocolError, asyncio.IncompleteReadError):
        return
    except h11.RemoteProtocolError:
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start(handler: Handler, host: str, port: int,
                ssl_context: ssl.SSLContext | None) -> asyncio.Server:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await serve_connection(reader, writer, handler)
        except Exception:  # a bug in one request must not take the server down
            log.exception("connection failed")

    return await asyncio.start_server(on_connect, host, port, ssl=ssl_context,
                                      reuse_address=True)
