"""``etcd get``: decrypt and decode straight from etcd, one key or a prefix as a List, and the
clear failures (missing key, no config, wrong key, etcd down)."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from atrest_vectorlib import VectorTransformers, load_vectors, vector_config
from shared_paths import VECTORS

from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.recover import Recoverer
from kubecrypt.storage.codec import decode

from .conftest import EtcdServer, keyed, load_config, run, secret_value, write_config

Kubecrypt = Callable[..., subprocess.CompletedProcess[bytes]]
OK_VECTORS = [v for v in load_vectors(VECTORS) if v["expect"]["ok"]]
KEYED_VECTORS = [v for v in OK_VECTORS if not any("kms" in p for p in v["providers"])]


@pytest.fixture
def stored(etcd_server: EtcdServer, tmp_path: Path) -> dict[str, Any]:
    cfg = write_config(tmp_path / "c.json", [(["secrets"], [keyed("secretbox", "sb"), {"identity": {}}])])
    chain = load_config(cfg).for_resource("secrets")

    async def go() -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            for name in ("db", "api"):
                key = f"/g1/registry/secrets/prod/{name}"
                value = secret_value("prod", name, {"password": f"pw-{name}".encode()})
                await etcd.put(key, chain.encrypt(value, key.encode()))
            await etcd.put("/g1/registry/secrets/prod/plain", secret_value("prod", "plain"))
            await etcd.put("/g1/registry/secrets/prod/zz-broken", b"k8s:enc:secretbox:v1:sb:" + b"\x00" * 60)

    run(go())
    return {"config": cfg}


@pytest.mark.slow
def test_get_one_decrypted(stored: dict[str, Any], etcd_server: EtcdServer, kubecrypt: Kubecrypt) -> None:
    r = kubecrypt("etcd", "get", "/g1/registry/secrets/prod/db", "--config", str(stored["config"]),
                  "--etcd-prefix", "/g1/registry", env=etcd_server.env())
    assert r.returncode == 0, r.stderr
    obj = yaml.safe_load(r.stdout)
    assert obj["kind"] == "Secret" and obj["metadata"]["name"] == "db"
    assert base64.b64decode(obj["data"]["password"]) == b"pw-db"
    assert int(obj["metadata"]["resourceVersion"]) > 0
    j = kubecrypt("etcd", "get", "/g1/registry/secrets/prod/db", "--config", str(stored["config"]),
                  "--etcd-prefix", "/g1/registry", "-o", "json", env=etcd_server.env())
    assert json.loads(j.stdout) == obj
    raw = kubecrypt("etcd", "get", "/g1/registry/secrets/prod/db", "--config", str(stored["config"]),
                    "--etcd-prefix", "/g1/registry", "-o", "raw", env=etcd_server.env())
    assert raw.stdout.startswith(b"k8s\x00") and decode(raw.stdout)["metadata"]["name"] == "db"
    enc = kubecrypt("etcd", "get", "/g1/registry/secrets/prod/db", "--no-decrypt", "-o", "raw",
                    env=etcd_server.env())
    assert enc.stdout.startswith(b"k8s:enc:secretbox:v1:sb:")


def test_get_prefix_as_list(stored: dict[str, Any], etcd_server: EtcdServer, kubecrypt: Kubecrypt) -> None:
    r = kubecrypt("etcd", "get", "--prefix", "/g1/registry/secrets/prod/", "--config",
                  str(stored["config"]), "--etcd-prefix", "/g1/registry", "-o", "json", env=etcd_server.env())
    lst = json.loads(r.stdout)
    assert lst["kind"] == "List"
    assert [i["metadata"]["name"] for i in lst["items"]] == ["api", "db", "plain"]
    # The value no provider reads is named, and the exit says the List is partial.
    assert r.returncode == 1
    assert b"/g1/registry/secrets/prod/zz-broken" in r.stderr
    assert b"1 of 4 values under /g1/registry/secrets/prod/ could not be read" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["/g1/registry/secrets/prod/", "--prefix"],  # etcdctl's habit
        ["--prefix", "/g1/registry/secrets/prod/"],
        ["/g1/registry/secrets/prod/", "--prefix=true"],
        ["--prefix=true", "/g1/registry/secrets/prod/"],
        ["--prefix=/g1/registry/secrets/prod/"],
    ],
)
def test_get_prefix_etcdctl_forms(args: list[str], stored: dict[str, Any],
                                  etcd_server: EtcdServer, kubecrypt: Kubecrypt) -> None:
    r = kubecrypt("etcd", "get", *args, "--config", str(stored["config"]), "--etcd-prefix",
                  "/g1/registry", "-o", "json", env=etcd_server.env())
    assert b"unexpected extra argument" not in r.stderr and b"requires an argument" not in r.stderr
    lst = json.loads(r.stdout)
    assert [i["metadata"]["name"] for i in lst["items"]] == ["api", "db", "plain"]
    assert r.returncode == 1 and b"1 of 4 values under /g1/registry/secrets/prod/" in r.stderr


def test_get_prefix_false_reads_one_key(stored: dict[str, Any], etcd_server: EtcdServer,
                                        kubecrypt: Kubecrypt) -> None:
    r = kubecrypt("etcd", "get", "/g1/registry/secrets/prod/db", "--prefix=false", "--config",
                  str(stored["config"]), "--etcd-prefix", "/g1/registry", "-o", "json",
                  env=etcd_server.env())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metadata"]["name"] == "db"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefix"], b"--prefix without a value needs KEY"),
        (["/g1/registry/secrets/prod/missing"], b"key /g1/registry/secrets/prod/missing not found in etcd at"),
        (["/g1/registry/secrets/prod/db"], b"is encrypted with secretbox key sb; pass --config"),
        (["/g1/registry/secrets/prod/zz-broken", "--config", "CONFIG"],
         b"cannot decrypt /g1/registry/secrets/prod/zz-broken with the config"),
        ([], b"give exactly one of KEY or --prefix"),
        (["--prefix", "/g1/", "-o", "raw"], b"-o raw prints one value"),
    ],
)
def test_get_failures(
    args: list[str], message: bytes, stored: dict[str, Any], etcd_server: EtcdServer, kubecrypt: Kubecrypt
) -> None:
    args = [str(stored["config"]) if a == "CONFIG" else a for a in args]
    r = kubecrypt("etcd", "get", *args, "--etcd-prefix", "/g1/registry", env=etcd_server.env())
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert r.stderr.startswith(b"error: ") and b"Traceback" not in r.stderr
    assert r.stdout == b""


def test_get_when_etcd_is_down(kubecrypt: Kubecrypt, free_port: Callable[[], int]) -> None:
    port = free_port()
    r = kubecrypt("etcd", "get", "/registry/secrets/a/b", "--endpoints", f"127.0.0.1:{port}",
                  "--dial-timeout", "1s")
    assert r.returncode == 1
    assert f"cannot connect to etcd at 127.0.0.1:{port}".encode() in r.stderr
    assert b"Traceback" not in r.stderr


@pytest.mark.parametrize("v", OK_VECTORS, ids=[v["id"] for v in OK_VECTORS])
def test_get_vector_at_its_etcd_key(v: dict[str, Any], etcd_server: EtcdServer) -> None:
    """Every readable vector, stored at its etcd key, comes back as the upstream plaintext."""
    key = v["etcd_key"]
    root = key[: key.index("/registry/") + len("/registry")]

    async def go() -> bytes:
        async with EtcdClient(etcd_server.settings()) as etcd:
            await etcd.put(key, base64.b64decode(v["stored_b64"]))
            ts = VectorTransformers(v)
            try:
                return (await Recoverer(etcd, ts, root).one(key)).stored
            finally:
                ts.close()
                await etcd.delete(key)

    plaintext = run(go())
    assert plaintext == base64.b64decode(v["expect"]["plaintext_b64"])
    if "object" in v:
        # kubectl shows an unset creationTimestamp as null; the vector leaves it out.
        assert _drop_nulls(decode(plaintext)) == v["object"]


def _drop_nulls(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_nulls(val) for k, val in x.items() if val is not None}
    return x


@pytest.mark.parametrize("v", KEYED_VECTORS, ids=[v["id"] for v in KEYED_VECTORS])
def test_get_vector_through_the_cli(
    v: dict[str, Any], etcd_server: EtcdServer, tmp_path: Path, kubecrypt: Kubecrypt
) -> None:
    key = v["etcd_key"]
    root = key[: key.index("/registry/") + len("/registry")]
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(vector_config(v)))

    async def put(value: bytes | None) -> None:
        async with EtcdClient(etcd_server.settings()) as etcd:
            await (etcd.put(key, value) if value is not None else etcd.delete(key))

    run(put(base64.b64decode(v["stored_b64"])))
    try:
        r = kubecrypt("etcd", "get", key, "--config", str(cfg), "--etcd-prefix", root, "-o", "raw",
                      env=etcd_server.env())
    finally:
        run(put(None))
    assert r.returncode == 0, r.stderr
    assert r.stdout == base64.b64decode(v["expect"]["plaintext_b64"])
