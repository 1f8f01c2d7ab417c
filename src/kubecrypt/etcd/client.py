"""A small async etcd v3 client on etcd3aio, for everything in kubecrypt that touches etcd.

etcd3aio supplies the typed service facades (KV, Auth) and their retries; the gRPC channel is
ours so that it dials like etcdctl: host names as well as IPs, TLS with the first endpoint's
name, and no 4 MiB cap on responses (etcdctl sets MaxCallRecvMsgSize to MaxInt32; a page of
large Secrets passes 4 MiB easily). Ranges are paged and read from one revision, so a scan of
100,000 keys is a consistent snapshot without ever holding more than one page (plus the one
being fetched ahead) in memory.

Every failure becomes a :class:`~kubecrypt.etcd.errors.EtcdError` whose sentence names the
endpoint (and the key, where there is one)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator, Awaitable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

# gRPC core logs a failed TLS handshake at INFO on stderr; our error already says it, once.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc
import grpc.aio
from etcd3aio import (
    EtcdConnectionError,
    EtcdPermissionDeniedError,
    EtcdTransientError,
    EtcdUnauthenticatedError,
    prefix_range_end,
)
from etcd3aio import (
    EtcdError as AioEtcdError,
)
from etcd3aio._protobuf import Compare  # the generated message; etcd3aio re-exports no helper
from etcd3aio.auth import AuthService
from etcd3aio.kv import KVService

from kubecrypt.etcd.errors import EtcdAuthError, EtcdError, EtcdUnavailable
from kubecrypt.etcd.kv import KeyValue
from kubecrypt.etcd.settings import EtcdSettings

if TYPE_CHECKING:
    from kubecrypt.etcd.watch import WatchBatch

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 1000
_MAX_MESSAGE = 2**31 - 1
_TXN_MAX_OPS = 128  # etcd --max-txn-ops default
_TXN_MAX_BYTES = 1024 * 1024  # below etcd's --max-request-bytes default of 1.5 MiB


@dataclass(frozen=True, slots=True)
class Page:
    items: list[KeyValue]
    revision: int
    """The store revision this page was read at (for a snapshot, the whole range's)."""


def _kv(pb: object) -> KeyValue:
    return KeyValue(pb.key, pb.value, pb.mod_revision, pb.create_revision, pb.version)  # type: ignore[attr-defined]


def _b(key: str | bytes) -> bytes:
    return key.encode() if isinstance(key, str) else key


def _show(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


class EtcdClient:
    """``async with EtcdClient(settings) as etcd: await etcd.get("/registry/...")``."""

    def __init__(self, settings: EtcdSettings | None = None, *, max_attempts: int = 3) -> None:
        self.settings = settings or EtcdSettings()
        self._max_attempts = max_attempts
        self._channel: grpc.aio.Channel | None = None
        self._kv: KVService | None = None
        self._auth: AuthService | None = None
        self._token: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        s = self.settings
        tls = s.load_tls() if s.tls else None
        options: list[tuple[str, str | int]] = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 5_000),
        ]
        target = self._target()
        if len(s.endpoints) > 1:
            options.append(("grpc.lb_policy_name", "round_robin"))
        if tls is not None:
            creds = grpc.ssl_channel_credentials(tls.ca_cert, tls.private_key, tls.cert_chain)
            # One name to check the server certificate against, as etcdctl does per endpoint;
            # with several endpoints they share a certificate (or SANs) in practice.
            options.append(("grpc.ssl_target_name_override", s.endpoints[0].host))
            self._channel = grpc.aio.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=options)
        self._kv = KVService(self._channel, max_attempts=self._max_attempts)
        self._auth = AuthService(self._channel, max_attempts=self._max_attempts)
        try:
            # Fail here, with the reason, rather than on the first real request. With auth on,
            # authenticating is that first request (a Range would be refused without a token).
            if s.user:
                if s.password is None:
                    raise EtcdAuthError(
                        f"--user {s.user} has no password; use --user NAME:PASSWORD, --password "
                        "or ETCDCTL_PASSWORD"
                    )
                resp = await self._call(
                    self._auth.authenticate(s.user, s.password, timeout=s.dial_timeout)
                )
                self._kv.set_token(resp.token)
                self._auth.set_token(resp.token)
                self._token = resp.token
            else:
                await self._call(self._kv.get(b"\x00", count_only=True, timeout=s.dial_timeout))
        except BaseException:
            await self.close()
            raise

    def _target(self) -> str:
        eps = self.settings.endpoints
        if len(eps) == 1:
            ep = eps[0]
            return f"ipv6:{ep.address}" if ep.is_ip and ":" in ep.host else f"dns:///{ep.address}"
        if all(e.is_ip and ":" not in e.host for e in eps):
            return "ipv4:" + ",".join(e.address for e in eps)
        # Several host names: gRPC's resolvers take one name, so fall back to the first.
        return f"dns:///{eps[0].address}"

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()
        self._kv = self._auth = None

    async def __aenter__(self) -> EtcdClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("EtcdClient is not connected; use 'async with EtcdClient(...)'")
        return self._channel

    def grpc_metadata(self) -> tuple[tuple[str, str], ...] | None:
        """What every call sends besides the request: the auth token, when there is one."""
        return (("token", self._token),) if self._token else None

    def watch(
        self,
        prefix: str | bytes,
        *,
        start_revision: int = 0,
        prev_kv: bool = True,
        progress_notify: bool = False,
        reconnect_for: float = 30.0,
    ) -> AsyncGenerator[WatchBatch, None]:
        """Batches of events under ``prefix`` from ``start_revision`` (see etcd/watch.py);
        raises WatchCompacted when that revision is gone."""
        from kubecrypt.etcd.watch import watch

        return watch(
            self, prefix, start_revision=start_revision, prev_kv=prev_kv,
            progress_notify=progress_notify, reconnect_for=reconnect_for,
        )

    @property
    def kv(self) -> KVService:
        if self._kv is None:
            raise RuntimeError("EtcdClient is not connected; use 'async with EtcdClient(...)'")
        return self._kv

    # ------------------------------------------------------------------ errors

    async def _call(self, aw: Awaitable[T], key: bytes | None = None) -> T:
        where = self.settings.describe()
        about = f" on key {_show(key)}" if key is not None else ""
        try:
            return await aw
        except (EtcdConnectionError, EtcdTransientError, TimeoutError) as exc:
            raise EtcdUnavailable(self._unreachable(where, exc)) from None
        except EtcdUnauthenticatedError as exc:
            raise EtcdAuthError(
                f"etcd at {where} rejected the credentials ({_detail(exc)}); "
                "check --user and --password"
            ) from None
        except EtcdPermissionDeniedError as exc:
            raise EtcdAuthError(
                f"etcd at {where} denied permission{about} ({_detail(exc)}); "
                "grant the user a role for the key range"
            ) from None
        except grpc.aio.AioRpcError as exc:
            if "has been compacted" in (exc.details() or ""):
                raise EtcdError(
                    f"etcd at {where} compacted the revision this read started at, during the read; "
                    "run the command again"
                ) from None
            if "authentication failed" in (exc.details() or ""):  # etcd answers INVALID_ARGUMENT
                raise EtcdAuthError(
                    f"etcd at {where} rejected the credentials ({exc.details()}); "
                    "check --user and --password"
                ) from None
            raise EtcdError(
                f"etcd at {where} failed{about}: {exc.details() or exc.code().name}"
            ) from None
        except AioEtcdError as exc:
            raise EtcdError(f"etcd at {where} failed{about}: {exc}") from None

    def _unreachable(self, where: str, exc: BaseException) -> str:
        text = _detail(exc)
        low = text.lower()
        if any(w in low for w in ("ssl", "tls", "certificate", "handshake")):
            return (
                f"cannot connect to etcd at {where}: the TLS handshake failed; check --cacert, "
                "--cert and --key (and that the server certificate names this host)"
            )
        if isinstance(exc, TimeoutError) or "deadline" in low:
            return f"cannot connect to etcd at {where}: no answer in time; is etcd running there?"
        return f"cannot connect to etcd at {where}: {_short(text)}; is etcd running there?"

    # ------------------------------------------------------------------ single keys

    async def get(self, key: str | bytes) -> KeyValue | None:
        k = _b(key)
        resp = await self._call(self.kv.get(k, timeout=self.settings.command_timeout), k)
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def put(self, key: str | bytes, value: bytes) -> int:
        """Writes unconditionally; returns the new store revision (the key's mod_revision)."""
        k = _b(key)
        resp = await self._call(self.kv.put(k, value, timeout=self.settings.command_timeout), k)
        return int(resp.header.revision)

    async def delete(self, key: str | bytes) -> bool:
        k = _b(key)
        resp = await self._call(self.kv.delete(k, timeout=self.settings.command_timeout), k)
        return bool(resp.deleted)

    async def put_many(self, items: Iterable[tuple[bytes, bytes]]) -> int:
        """Unconditional bulk load (fixtures, benchmarks, restores): one Txn per batch, kept
        under etcd's default limits of 128 operations and 1.5 MiB per request."""
        batch: list[Any] = []
        count = size = 0
        for key, value in items:
            if batch and (
                len(batch) == _TXN_MAX_OPS or size + len(key) + len(value) > _TXN_MAX_BYTES
            ):
                await self._call(self.kv.txn([], batch, timeout=self.settings.command_timeout))
                batch, size = [], 0
            batch.append(KVService.txn_op_put(key, value))
            size += len(key) + len(value) + 16
            count += 1
        if batch:
            await self._call(self.kv.txn([], batch, timeout=self.settings.command_timeout))
        return count

    async def compare_and_swap(self, key: str | bytes, value: bytes, mod_revision: int) -> bool:
        """Writes ``value`` only if the key's mod_revision is still ``mod_revision`` (0: only if
        the key does not exist). False means someone else wrote first: re-read and decide again."""
        k = _b(key)
        compare = Compare(
            result=Compare.EQUAL, target=Compare.MOD, key=k, mod_revision=mod_revision
        )
        txn = self.kv.txn(
            [compare], [KVService.txn_op_put(k, value)], timeout=self.settings.command_timeout
        )
        resp = await self._call(txn, k)
        return bool(resp.succeeded)

    async def compare_and_delete(self, key: str | bytes, mod_revision: int) -> bool:
        k = _b(key)
        compare = Compare(
            result=Compare.EQUAL, target=Compare.MOD, key=k, mod_revision=mod_revision
        )
        txn = self.kv.txn(
            [compare], [KVService.txn_op_delete(k)], timeout=self.settings.command_timeout
        )
        resp = await self._call(txn, k)
        return bool(resp.succeeded)

    # ------------------------------------------------------------------ ranges

    async def count(self, prefix: str | bytes) -> int:
        p = _b(prefix)
        resp = await self._call(
            self.kv.get(
                p, prefix_range_end(p), count_only=True, timeout=self.settings.command_timeout
            ),
            p,
        )
        return int(resp.count)

    async def pages(
        self,
        prefix: str | bytes,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        revision: int = 0,
        keys_only: bool = False,
        snapshot: bool = True,
    ) -> AsyncGenerator[Page, None]:
        """Pages of keys under ``prefix`` in key order, all read at one revision (the current
        one unless given). The next page is fetched while the caller works on this one.

        ``snapshot=False`` reads each page at the then-current revision instead: no consistent
        picture, but no failure when etcd compacts during a long walk (each key is still seen
        once; writers that compare-and-swap, like rewrite, do not need the snapshot)."""
        if page_size < 1:
            raise ValueError("page_size must be positive")
        start = _b(prefix)
        end = prefix_range_end(start) if start else b"\x00"

        async def fetch_page(key: bytes, rev: int) -> Any:
            return await self._call(
                self.kv.get(
                    key,
                    end,
                    revision=rev,
                    limit=page_size,
                    keys_only=keys_only,
                    timeout=self.settings.command_timeout,
                ),
                start,
            )

        def fetch(key: bytes, rev: int) -> asyncio.Task[Any]:
            return asyncio.ensure_future(fetch_page(key, rev))

        task = fetch(start, revision)
        try:
            while True:
                resp = await task
                rev = int(resp.header.revision)
                if snapshot:
                    revision = revision or rev
                kvs = resp.kvs
                more = bool(resp.more) and len(kvs) > 0
                if more:
                    task = fetch(kvs[-1].key + b"\x00", revision)
                yield Page([_kv(kv) for kv in kvs], revision or rev)
                if not more:
                    return
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def items(
        self, prefix: str | bytes, *, page_size: int = DEFAULT_PAGE_SIZE, revision: int = 0
    ) -> AsyncGenerator[KeyValue, None]:
        async with contextlib.aclosing(
            self.pages(prefix, page_size=page_size, revision=revision)
        ) as pages:
            async for page in pages:
                for kv in page.items:
                    yield kv


def _detail(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(cause, grpc.aio.AioRpcError):
        return cause.details() or cause.code().name
    return str(exc) or type(exc).__name__


def _short(text: str) -> str:
    # gRPC's details are long ("failed to connect to all addresses; last error: UNKNOWN:
    # ipv4:127.0.0.1:1: Failed to connect to remote host: Connection refused"); keep the end.
    tail = text.rsplit(": ", 1)[-1].strip(" .]}\"'")
    return tail or "unreachable"
