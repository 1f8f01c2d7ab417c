"""The etcd client against a real etcd: single keys, compare-and-swap, paged ranges, TLS, auth,
and clean errors naming the endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from kubecrypt.errors import InputError
from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.errors import EtcdAuthError, EtcdTLSConfigError, EtcdUnavailable
from kubecrypt.etcd.settings import Endpoint, EtcdSettings

from .conftest import ROOT_PASSWORD, EtcdServer, run


def test_get_put_delete(etcd_server: EtcdServer) -> None:
    async def go() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            rev = await etcd.put("/t/client/a", b"\x00binary\xff")
            kv = await etcd.get("/t/client/a")
            assert kv is not None
            assert kv.value == b"\x00binary\xff"
            assert kv.mod_revision == rev and kv.version == 1
            assert await etcd.get("/t/client/missing") is None
            assert await etcd.delete("/t/client/a") is True
            assert await etcd.delete("/t/client/a") is False
            assert await etcd.get("/t/client/a") is None

    run(go())


def test_compare_and_swap_on_mod_revision(etcd_server: EtcdServer) -> None:
    async def go() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            assert await etcd.compare_and_swap("/t/cas/k", b"v1", 0)  # create only if absent
            assert not await etcd.compare_and_swap("/t/cas/k", b"again", 0)
            kv = await etcd.get("/t/cas/k")
            assert kv is not None
            assert await etcd.compare_and_swap("/t/cas/k", b"v2", kv.mod_revision)
            # The old revision no longer matches: a concurrent writer's update is never lost.
            assert not await etcd.compare_and_swap("/t/cas/k", b"v3", kv.mod_revision)
            now = await etcd.get("/t/cas/k")
            assert now is not None and now.value == b"v2"
            assert not await etcd.compare_and_delete("/t/cas/k", kv.mod_revision)
            assert await etcd.compare_and_delete("/t/cas/k", now.mod_revision)
            assert await etcd.get("/t/cas/k") is None

    run(go())


def test_paged_range_is_a_snapshot(etcd_server: EtcdServer) -> None:
    async def go() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            n = await etcd.put_many(
                (f"/t/pages/{i:04}".encode(), f"v{i}".encode()) for i in range(250)
            )
            assert n == 250
            # A key just past the prefix must not be included.
            await etcd.put("/t/pages0", b"outside")
            sizes, keys, revisions = [], [], set()
            async with contextlib.aclosing(etcd.pages("/t/pages/", page_size=100)) as pages:
                async for page in pages:
                    sizes.append(len(page.items))
                    revisions.add(page.revision)
                    keys += [kv.key for kv in page.items]
                    if len(sizes) == 1:
                        # Written after the first page: not part of this snapshot.
                        await etcd.put("/t/pages/9999", b"late")
            assert sizes == [100, 100, 50]
            assert len(revisions) == 1
            assert keys == sorted(keys) and len(set(keys)) == 250
            assert await etcd.count("/t/pages/") == 251

    run(go())


def test_breaking_out_of_a_range_cancels_the_prefetch(etcd_server: EtcdServer) -> None:
    async def go() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put_many((f"/t/brk/{i:03}".encode(), b"v") for i in range(30))
            seen = 0
            async with contextlib.aclosing(etcd.items("/t/brk/", page_size=10)) as items:
                async for _ in items:
                    seen += 1
                    if seen == 5:
                        break
            assert seen == 5
            assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    run(go())


def test_unreachable_names_the_endpoint(free_port: object) -> None:
    port = free_port()  # type: ignore[operator]
    settings = EtcdSettings.resolve({}, endpoints=f"127.0.0.1:{port}", dial_timeout="1s")
    with pytest.raises(EtcdUnavailable, match=rf"cannot connect to etcd at 127\.0\.0\.1:{port}"):
        run(_connect(settings))


async def _connect(settings: EtcdSettings) -> None:
    async with EtcdClient(settings) as etcd:
        await etcd.get("/")


def test_tls_with_client_certificate_and_auth(etcd_tls_server: EtcdServer) -> None:
    async def go() -> None:
        async with EtcdClient(etcd_tls_server.settings(user=f"root:{ROOT_PASSWORD}")) as etcd:
            await etcd.put("/t/tls/a", b"over tls")
            kv = await etcd.get("/t/tls/a")
            assert kv is not None and kv.value == b"over tls"

    run(go())
    # --password separately, as etcdctl allows.
    run(_connect(etcd_tls_server.settings(user="root", password=ROOT_PASSWORD)))


def test_tls_wrong_ca_is_a_handshake_error(
    etcd_tls_server: EtcdServer, tls_material: dict[str, dict[str, Path]]
) -> None:
    other = tls_material["other"]
    settings = etcd_tls_server.settings(cacert=str(other["ca"]), user=f"root:{ROOT_PASSWORD}")
    with pytest.raises(EtcdUnavailable, match="TLS handshake failed") as err:
        run(_connect(settings))
    assert etcd_tls_server.endpoint in str(err.value)


def test_tls_client_certificate_from_another_ca_is_refused(
    etcd_tls_server: EtcdServer, tls_material: dict[str, dict[str, Path]]
) -> None:
    other = tls_material["other"]
    settings = etcd_tls_server.settings(
        cert=str(other["client_cert"]), key=str(other["client_key"]), user=f"root:{ROOT_PASSWORD}"
    )
    with pytest.raises(EtcdUnavailable) as err:
        run(_connect(settings))
    assert etcd_tls_server.endpoint in str(err.value)


def test_plain_client_against_tls_server(etcd_tls_server: EtcdServer) -> None:
    port = etcd_tls_server.endpoint.rsplit(":", 1)[1]
    with pytest.raises(EtcdUnavailable, match=f"127.0.0.1:{port}"):
        run(_connect(EtcdSettings.resolve({}, endpoints=f"127.0.0.1:{port}", dial_timeout="1s")))


def test_wrong_password(etcd_tls_server: EtcdServer) -> None:
    with pytest.raises(EtcdAuthError, match="rejected the credentials"):
        run(_connect(etcd_tls_server.settings(user="root:wrong")))


def test_no_credentials_with_auth_on(etcd_tls_server: EtcdServer) -> None:
    with pytest.raises(EtcdAuthError):
        run(_connect(etcd_tls_server.settings()))


def test_missing_and_bad_pem_files(tmp_path: Path, etcd_tls_server: EtcdServer) -> None:
    with pytest.raises(EtcdTLSConfigError, match="cannot read --cacert"):
        run(_connect(etcd_tls_server.settings(cacert=str(tmp_path / "nope.pem"))))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(EtcdTLSConfigError, match=r"--cert .* is not a PEM certificate"):
        run(_connect(etcd_tls_server.settings(cert=str(junk))))
    with pytest.raises(EtcdTLSConfigError, match=r"--key .* is not an unencrypted PEM private key"):
        run(_connect(etcd_tls_server.settings(key=str(junk))))


def test_settings_follow_etcdctl() -> None:
    env = {
        "ETCDCTL_ENDPOINTS": "https://10.0.0.1:2379,https://10.0.0.2:2379",
        "ETCDCTL_CACERT": "/ca.pem",
        "ETCDCTL_USER": "alice:s3cret",
        "ETCDCTL_DIAL_TIMEOUT": "500ms",
    }
    s = EtcdSettings.from_env(env)
    assert s.endpoints == (Endpoint("https", "10.0.0.1", 2379), Endpoint("https", "10.0.0.2", 2379))
    assert s.cacert == "/ca.pem" and s.tls
    assert (s.user, s.password) == ("alice", "s3cret")
    assert s.dial_timeout == 0.5
    # A flag wins over its environment variable.
    s2 = EtcdSettings.resolve(env, endpoints="127.0.0.1:1234", password="other", user="bob")
    assert s2.endpoints == (Endpoint("", "127.0.0.1", 1234),)
    assert (s2.user, s2.password) == ("bob", "other")
    assert EtcdSettings.from_env({}).endpoints == (Endpoint("", "127.0.0.1", 2379),)
    assert not EtcdSettings.from_env({}).tls
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    "bad", ["nohost", "http://:80", "ftp://a:1", "a:99999", "unix:///run/etcd.sock"]
)
def test_bad_endpoints(bad: str) -> None:
    with pytest.raises(InputError):
        EtcdSettings.resolve({}, endpoints=bad)


def test_blocking_client_for_synchronous_callers(etcd_server: EtcdServer, free_port: object) -> None:
    from kubecrypt.etcd.blocking import BlockingEtcdClient

    with BlockingEtcdClient(etcd_server.settings()) as etcd:
        rev = etcd.put("/t/sync/a", b"1")
        assert etcd.compare_and_swap("/t/sync/a", b"2", rev)
        assert not etcd.compare_and_swap("/t/sync/a", b"3", rev)
        assert etcd.put_many((f"/t/sync/p{i:02}".encode(), b"x") for i in range(25)) == 25
        assert [len(p.items) for p in etcd.pages("/t/sync/p", page_size=10)] == [10, 10, 5]
        first = next(iter(etcd.items("/t/sync/p", page_size=10)))  # abandoned mid-range
        assert first.key == b"/t/sync/p00"
        kv = etcd.get("/t/sync/a")
        assert kv is not None and kv.value == b"2"
        assert etcd.count("/t/sync/") == 26
        assert etcd.compare_and_delete("/t/sync/a", kv.mod_revision) and etcd.get("/t/sync/a") is None
    port = free_port()  # type: ignore[operator]
    with pytest.raises(EtcdUnavailable, match=f"127.0.0.1:{port}"):
        BlockingEtcdClient(EtcdSettings.resolve({}, endpoints=f"127.0.0.1:{port}"))


def test_a_range_outlived_by_compaction_says_so(etcd_server: EtcdServer) -> None:
    from kubecrypt.etcd.errors import EtcdError

    async def go() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put_many((f"/t/compact/{i:02}".encode(), b"v") for i in range(20))
            async with contextlib.aclosing(etcd.pages("/t/compact/", page_size=5)) as pages:
                async for page in pages:
                    rev = await etcd.put("/t/compact-other", b"x")
                    await etcd.kv.compact(rev, physical=True)
                    assert page.items

    with pytest.raises(EtcdError, match="compacted the revision this read started at"):
        run(go())


def test_a_range_without_snapshot_survives_compaction(etcd_server: EtcdServer) -> None:
    async def go() -> list[bytes]:
        keys: list[bytes] = []
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put_many((f"/t/nosnap/{i:02}".encode(), b"v") for i in range(20))
            pages = etcd.pages("/t/nosnap/", page_size=5, snapshot=False)
            async with contextlib.aclosing(pages) as it:
                async for page in it:
                    keys += [kv.key for kv in page.items]
                    rev = await etcd.put("/t/nosnap/99", b"late")  # ahead of the walk: seen
                    await etcd.kv.compact(rev, physical=True)
        return keys

    keys = run(go())
    assert keys == sorted(set(keys)) and len(keys) == 21 and keys[-1] == b"/t/nosnap/99"


def test_host_names_as_endpoints(etcd_server: EtcdServer, etcd_tls_server: EtcdServer) -> None:
    """etcd3aio's own channel only dials IPs; ours resolves names and checks TLS against them."""
    port = etcd_server.endpoint.rsplit(":", 1)[1]
    run(_connect(EtcdSettings.resolve({}, endpoints=f"localhost:{port}")))
    tls_port = etcd_tls_server.endpoint.rsplit(":", 1)[1]
    run(_connect(etcd_tls_server.settings(endpoints=f"https://localhost:{tls_port}",
                                          user=f"root:{ROOT_PASSWORD}")))
    # Two endpoints (the same member twice) go round robin.
    two = f"127.0.0.1:{port},127.0.0.1:{port}"
    run(_connect(EtcdSettings.resolve({}, endpoints=two)))
