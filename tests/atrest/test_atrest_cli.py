"""The atrest and etcd encode/decode commands, through the real ``kubecrypt`` entry point."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from atrest_vectorlib import load_vectors

from kubecrypt.atrest.config import load_file

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "type": "Opaque",
    "metadata": {"name": "db", "namespace": "default", "creationTimestamp": "2024-06-01T12:00:00Z"},
    "data": {"password": base64.b64encode(b"hunter2").decode()},
}
KEY = "/registry/secrets/default/db"


def keygen(kubecrypt: Any, tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "config.yaml"
    r = kubecrypt("atrest", "keygen", *args, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_keygen_outputs_valid_config_and_private_file(kubecrypt: Any, tmp_path: Path) -> None:
    for provider in ("aesgcm", "aescbc", "secretbox"):
        path = keygen(
            kubecrypt,
            tmp_path,
            "--provider",
            provider,
            "--name",
            "k9",
            "--resources",
            "secrets,configmaps",
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        cfg = load_file(path)
        assert cfg.resources[0].resources == ("secrets", "configmaps")
        first = cfg.resources[0].providers[0]
        assert (
            first.type == provider
            and first.keys[0].name == "k9"
            and len(first.keys[0].secret) == 32
        )  # type: ignore[union-attr]
        assert cfg.resources[0].providers[1].type == "identity"
    r = kubecrypt("atrest", "keygen", "--key-only")
    assert r.returncode == 0 and len(base64.b64decode(r.stdout.strip(), validate=True)) == 32
    r2 = kubecrypt("atrest", "keygen", "--key-only")
    assert r2.stdout != r.stdout


@pytest.mark.slow
def test_validate(kubecrypt: Any, tmp_path: Path) -> None:
    good = keygen(kubecrypt, tmp_path)
    r = kubecrypt("atrest", "validate", str(good))
    assert r.returncode == 0 and b"valid" in r.stdout
    bad = tmp_path / "bad.yaml"
    doc = yaml.safe_load(good.read_text())
    doc["resources"][0]["providers"][0]["aesgcm"]["keys"][0]["secret"] = base64.b64encode(
        b"s" * 20
    ).decode()
    doc["resources"][0]["resources"].append("Secrets")
    bad.write_text(yaml.safe_dump(doc))
    r = kubecrypt("atrest", "validate", str(bad))
    assert r.returncode == 1 and r.stdout == b""
    err = r.stderr.decode()
    assert "resources[0].providers[0].aesgcm.keys[0].secret" in err and "got 20" in err
    assert "resources[0].resources[1]" in err and "Traceback" not in err
    r = kubecrypt("atrest", "validate", str(tmp_path / "missing.yaml"))
    assert r.returncode == 1 and b"no such file" in r.stderr


@pytest.mark.slow
def test_encrypt_decrypt_round_trip_through_the_cli(kubecrypt: Any, tmp_path: Path) -> None:
    cfg = keygen(kubecrypt, tmp_path, "--name", "key1")
    pb = kubecrypt("etcd", "encode", input=json.dumps(SECRET).encode())
    assert pb.returncode == 0 and pb.stdout.startswith(b"k8s\x00")
    enc = kubecrypt("atrest", "encrypt", "--config", str(cfg), "--etcd-key", KEY, input=pb.stdout)
    assert enc.returncode == 0 and enc.stdout.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert b"hunter2" not in enc.stdout
    dec = kubecrypt(
        "atrest", "decrypt", "--config", str(cfg), "--etcd-key", KEY, "--json", input=enc.stdout
    )
    doc = json.loads(dec.stdout)
    assert doc == {
        "plaintext_b64": base64.b64encode(pb.stdout).decode(),
        "stale": False,
        "provider": "aesgcm",
        "key": "key1",
    }
    raw = kubecrypt("atrest", "decrypt", "--config", str(cfg), "--etcd-key", KEY, input=enc.stdout)
    obj = yaml.safe_load(kubecrypt("etcd", "decode", input=raw.stdout).stdout)
    assert obj["data"] == SECRET["data"] and obj["metadata"]["name"] == "db"
    # configmaps are not in the config: identity only, so the value is written unchanged
    cm = kubecrypt(
        "atrest",
        "encrypt",
        "--config",
        str(cfg),
        "--etcd-key",
        KEY,
        "--resource",
        "configmaps",
        input=pb.stdout,
    )
    assert cm.stdout == pb.stdout


@pytest.mark.slow
def test_bad_input_one_sentence_nothing_on_stdout(kubecrypt: Any, tmp_path: Path) -> None:
    cfg = keygen(kubecrypt, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    cfg2 = keygen(kubecrypt, other)
    enc = kubecrypt(
        "atrest", "encrypt", "--config", str(cfg), "--etcd-key", KEY, input=b"k8s\x00x"
    ).stdout
    cases = [
        (
            ("atrest", "decrypt", "--config", str(cfg2), "--etcd-key", KEY),
            enc,
            b"message authentication failed",
        ),
        (
            ("atrest", "decrypt", "--config", str(cfg), "--etcd-key", KEY + "x"),
            enc,
            b"message authentication",
        ),
        (("atrest", "decrypt", "--config", str(cfg), "--etcd-key", KEY), b"", b"stdin is empty"),
        (
            ("atrest", "decrypt", "--config", str(cfg), "--etcd-key", KEY),
            enc[:30],
            b"cannot decrypt",
        ),
        (
            ("atrest", "encrypt", "--config", str(tmp_path / "nope.yaml"), "--etcd-key", KEY),
            b"x",
            b"no such file",
        ),
        (("etcd", "decode"), b"garbage", b"not a Kubernetes storage value"),
        (("etcd", "decode"), enc, b"still encrypted"),
        (("etcd", "encode"), b"kind: Pod\napiVersion: v1\n", b"cannot encode v1/Pod"),
        (("etcd", "encode"), b"{not yaml", b"not valid YAML"),
    ]
    for args, stdin, needle in cases:
        r = kubecrypt(*args, input=stdin)
        assert r.returncode == 1, (args, r.stderr)
        assert r.stdout == b"", args
        assert needle in r.stderr and b"Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.count(b"\n") == 1


@pytest.mark.slow
def test_decode_encode_match_the_vectors(kubecrypt: Any, vectors_dir: Path) -> None:
    for v in load_vectors(vectors_dir):
        if v["operation"] != "encode":
            continue
        stored = base64.b64decode(v["stored_b64"])
        as_json = kubecrypt("etcd", "decode", "-o", "json", input=stored)
        assert as_json.returncode == 0
        assert json.loads(as_json.stdout)["metadata"]["name"] == v["object"]["metadata"]["name"]
        again = kubecrypt("etcd", "encode", input=as_json.stdout)
        assert again.stdout == stored, v["id"]
        as_yaml = kubecrypt("etcd", "decode", input=stored)
        assert kubecrypt("etcd", "encode", input=as_yaml.stdout).stdout == stored, v["id"]

