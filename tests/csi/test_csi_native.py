"""kubecrypt-native objects: SOPS files (encrypted by the real ``sops`` binary to age) and
SealedSecrets (sealed by ``kubecrypt seal``), decrypted at mount time by a real
``kubecrypt csi serve`` with per-namespace age identities and Sealed Secrets keys, read from a
node directory (``--native-root``); the ConfigMap source is covered in-process and end to end
against the lab."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import grpc
import pytest
import yaml

from kubecrypt.csi.errors import BadParameters, DecryptFailed, ObjectNotFound
from kubecrypt.csi.native import NativeKeys
from kubecrypt.csi.objects import Versioner
from kubecrypt.csi.provider import Provider
from kubecrypt.sealed.keys import SealingKey, certificate_pem, generate_key, key_secret
from kubecrypt.sealed.render import to_yaml

from . import wire
from .conftest import attributes, kubecrypt_argv

pytestmark = pytest.mark.slow

PLAIN = "db:\n    user: app\n    password: hunter2\n"


def _age_keypair(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return next(line.split(": ")[1] for line in path.read_text().splitlines()
                if line.startswith("# public key"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("native")
    (d / "ids").mkdir()
    default_recipient = _age_keypair(d / "ids" / "default.txt")
    other_recipient = _age_keypair(d / "other.txt")
    root = d / "root"
    root.mkdir()
    (root / "plain.yaml").write_text(PLAIN)
    for name, recipient in (("app.enc.yaml", default_recipient), ("other.enc.yaml", other_recipient)):
        out = subprocess.run(["sops", "encrypt", "--age", recipient, str(root / "plain.yaml")],
                             check=True, capture_output=True).stdout
        (root / name).write_bytes(out)
    (root / "plain.yaml").unlink()
    tampered = (root / "app.enc.yaml").read_text().replace("user: ENC[AES256_GCM,data:", "user: ENC[AES256_GCM,data:AA", 1)
    (root / "tampered.enc.yaml").write_text(tampered)
    private_key, cert = generate_key(2048)
    (d / "sealed-key.yaml").write_text(to_yaml(key_secret(SealingKey(private_key, cert))))
    (d / "cert.pem").write_bytes(certificate_pem(cert))
    for ns, scope in (("default", "strict"), ("other", "strict"), ("other", "cluster-wide")):
        secret = {"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "db", "namespace": ns},
                  "stringData": {"password": f"sealed-{ns}", "user": "app"}}
        out = subprocess.run([*kubecrypt_argv(), "seal", "--cert", str(d / "cert.pem"),
                              "--scope", scope, "-o", "yaml"], input=json.dumps(secret).encode(),
                             check=True, capture_output=True).stdout
        (root / f"sealed-{ns}-{scope}.yaml").write_bytes(out)
    return d


def _objects(*entries):
    return yaml.safe_dump(list(entries))


def test_native_through_the_server(serve, keys):
    served = serve("--age-identity-dir", str(keys / "ids"), "--sealed-keys",
                   str(keys / "sealed-key.yaml"), "--native-root", str(keys / "root"))
    objects = _objects(
        {"objectName": "app.yaml", "sops": {"path": "app.enc.yaml"}},
        {"objectName": "app.json", "sops": {"path": "/app.enc.yaml", "outputFormat": "json"}},
        {"objectName": "password", "filePermission": 0o400,
         "sealedSecret": {"path": "sealed-default-strict.yaml", "item": "password"}},
        {"objectName": "cw", "sealedSecret": {"path": "sealed-other-cluster-wide.yaml",
                                              "item": "password"}})
    with served.channel() as ch:
        raw = wire.call(ch, "Mount", wire.mount_request(json.dumps(attributes(objects)), "{}",
                                                        "/t", "420"))
    resp = wire.mount_response(raw)
    files = {p: (m, c) for p, m, c in resp["files"]}
    assert files["app.yaml"] == (0o644, PLAIN.encode())
    assert json.loads(files["app.json"][1]) == {"db": {"user": "app", "password": "hunter2"}}
    assert files["password"] == (0o400, b"sealed-default")
    assert files["cw"][1] == b"sealed-other"  # cluster-wide: any namespace may use it
    assert len(resp["versions"]) == 4 and all(v for _, v in resp["versions"])
    assert "hunter2" not in served.stderr() and "sealed-default" not in served.stderr()

    def error(obj):
        with served.channel() as ch, pytest.raises(grpc.RpcError) as info:
            wire.call(ch, "Mount", wire.mount_request(json.dumps(attributes(_objects(obj))),
                                                      "null", "/t", "420"))
        return info.value

    # a file encrypted to another namespace's recipient does not open in "default"
    e = error({"objectName": "x", "sops": {"path": "other.enc.yaml"}})
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "namespace 'default'" in e.details()
    # a strict SealedSecret of namespace "other" copied into "default" does not open
    e = error({"objectName": "x", "sealedSecret": {"path": "sealed-other-strict.yaml",
                                                   "item": "password"}})
    assert "as a SealedSecret of namespace 'default'" in e.details()
    e = error({"objectName": "x", "sops": {"path": "tampered.enc.yaml"}})
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    e = error({"objectName": "x", "sops": {"path": "../sealed-key.yaml"}})
    assert "leaves the provider's --native-root" in e.details()
    e = error({"objectName": "x", "sealedSecret": {"path": "sealed-default-strict.yaml"}})
    assert "has 2 items (password, user); choose one with item:" in e.details()
    e = error({"objectName": "x", "sops": {"path": "app.enc.yaml", "extract": "a"}})
    assert "unknown sops key(s) extract" in e.details()
    assert served.proc.poll() is None


def _provider(keys, configmaps):
    return Provider(Versioner(None), native_keys=NativeKeys(
        age_identity_dir=str(keys / "ids"), sealed_keys=[]), configmaps=configmaps)


def test_configmap_source_in_process(keys):
    data = (keys / "root" / "app.enc.yaml").read_text()
    store = {("default", "app-sops"): {"data": {"app.enc.yaml": data}}}
    provider = _provider(keys, lambda ns, name: store.get((ns, name)))
    attrs = attributes(_objects({"objectName": "app.yaml",
                                 "sops": {"configMap": "app-sops", "key": "app.enc.yaml"}}))
    mounted = provider.mount(json.dumps(attrs), "null", "420", "/t")
    assert mounted.files[0].contents == PLAIN.encode()
    other_ns = {**attrs, "csi.storage.k8s.io/pod.namespace": "other"}
    with pytest.raises(ObjectNotFound, match="ConfigMap other/app-sops does not exist"):
        provider.mount(json.dumps(other_ns), "null", "420", "/t")
    store[("other", "app-sops")] = store[("default", "app-sops")]
    with pytest.raises(DecryptFailed, match="no age identity for namespace 'other'"):
        provider.mount(json.dumps(other_ns), "null", "420", "/t")
    missing_key = attributes(_objects({"objectName": "a", "sops": {"configMap": "app-sops",
                                                                   "key": "nope"}}))
    with pytest.raises(ObjectNotFound, match=r"has no key 'nope' \(it has app.enc.yaml\)"):
        provider.mount(json.dumps(missing_key), "null", "420", "/t")
    no_api = Provider(Versioner(None))
    with pytest.raises(BadParameters, match="no Kubernetes API access"):
        no_api.mount(json.dumps(attrs), "null", "420", "/t")


def test_hmac_key_file_is_0600_and_reused(tmp_path):
    path = tmp_path / "k"
    first = Versioner(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert Versioner(path).key == first.key
