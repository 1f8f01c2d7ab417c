"""What lands in etcd: kube-apiserver's keys and encodings, through the at-rest chain, and the
rewrite rule that makes ``get -o json | replace -f -`` re-encrypt after a key rotation."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable

import pytest
import yaml

from kubecrypt.atrest.classify import classify
from kubecrypt.atrest.config import load_file
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.storage import codec

from .conftest import LabHandle


def _write_config(lab: LabHandle, providers: list[dict[str, object]]) -> None:
    path = lab.dir / "encryption-config.yaml"
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": ["secrets"], "providers": providers}]}
    tmp = path.with_name(".tmp-config")
    tmp.write_text(yaml.safe_dump(doc))
    before = lab.reloads()
    os.replace(tmp, path)
    lab.wait_reload(before)


def _aesgcm(*keys: tuple[str, bytes]) -> dict[str, object]:
    return {"aesgcm": {"keys": [{"name": n, "secret": base64.b64encode(s).decode()}
                                for n, s in keys]}}


def test_secret_is_encrypted_with_the_etcd_key_as_aad(lab: LabHandle,
                                                      unique: Callable[[str], str]) -> None:
    name = unique("enc")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=password=hunter2")
    key = f"/registry/secrets/default/{name}"
    stored = lab.etcd_get(key)
    assert stored is not None
    value, mod_revision = stored
    assert value.startswith(b"k8s:enc:aesgcm:v1:") and b"hunter2" not in value
    obj = lab.kubectl_json("get", "secret", name)
    assert obj["metadata"]["resourceVersion"] == str(mod_revision)
    # Decrypt it ourselves with the lab's own configuration: the plaintext is kube's protobuf.
    chain = TransformerSet(load_file(lab.dir / "encryption-config.yaml")).for_resource("secrets")
    plain = chain.decrypt(value, key.encode()).plaintext
    assert plain.startswith(b"k8s\x00")
    decoded = codec.decode(plain)
    assert decoded["data"] == {"password": base64.b64encode(b"hunter2").decode()}
    assert "resourceVersion" not in decoded["metadata"]
    # The same ciphertext under another key does not decrypt: the key is bound in as AAD.
    lab.etcd_put(f"/registry/secrets/default/{name}-copy", value)
    try:
        p = lab.kubectl("get", "secret", f"{name}-copy", check=False)
        assert p.returncode == 1 and "Internal error" in p.stderr
        assert "message authentication failed" in p.stderr
    finally:
        lab.etcd_del(f"/registry/secrets/default/{name}-copy")  # it would break every list


def test_other_kinds_keys_and_encodings(lab: LabHandle, unique: Callable[[str], str]) -> None:
    ns = unique("kinds")
    lab.kubectl("create", "ns", ns)
    ns_value = lab.etcd_get(f"/registry/namespaces/{ns}")
    assert ns_value is not None and ns_value[0].startswith(b"k8s\x00")  # not in the config
    assert codec.decode(ns_value[0])["status"] == {"phase": "Active"}
    ss = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
          "metadata": {"name": "db", "namespace": ns}, "spec": {"encryptedData": {"a": "AgA="}}}
    lab.kubectl("apply", "-f", "-", input=json.dumps(ss))
    stored = lab.etcd_get(f"/registry/bitnami.com/sealedsecrets/{ns}/db")
    assert stored is not None
    assert json.loads(stored[0])["spec"] == {"encryptedData": {"a": "AgA="}}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "l", "namespace": ns}, "spec": {"holderIdentity": "me"}}
    lab.kubectl("create", "-f", "-", input=json.dumps(lease))
    stored_lease = lab.etcd_get(f"/registry/leases/{ns}/l")
    assert stored_lease is not None and stored_lease[0].startswith(b"k8s\x00")  # protobuf, as upstream
    assert codec.decode(stored_lease[0])["spec"] == {"holderIdentity": "me"}
    bad = dict(lease, metadata={"name": "bad", "namespace": ns}, spec={"leaseDurationSeconds": "x"})
    p = lab.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode == 1 and "LeaseSpec.spec.leaseDurationSeconds of type int32" in p.stderr


@pytest.mark.slow
def test_rotation_by_replace_pipeline(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("rot")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=k=v")
    before = lab.kubectl_json("get", "secret", name)["metadata"]["resourceVersion"]
    # A replace that changes nothing and reads a fresh value does not write.
    same = lab.kubectl("get", "secret", name, "-o", "json").stdout
    lab.kubectl("replace", "-f", "-", input=same)
    assert lab.kubectl_json("get", "secret", name)["metadata"]["resourceVersion"] == before

    doc = yaml.safe_load((lab.dir / "encryption-config.yaml").read_text())
    old = doc["resources"][0]["providers"][0]["aesgcm"]["keys"][0]
    old_key = (old["name"], base64.b64decode(old["secret"]))
    new_key = ("rotated", os.urandom(32))
    _write_config(lab, [_aesgcm(old_key, new_key), {"identity": {}}])  # new key second
    _write_config(lab, [_aesgcm(new_key, old_key), {"identity": {}}])  # then first
    value = lab.etcd_get(f"/registry/secrets/default/{name}")
    assert value is not None and classify(value[0]).key == old_key[0]

    listing = lab.kubectl("get", "secrets", "--all-namespaces", "-o", "json").stdout
    lab.kubectl("replace", "-f", "-", input=listing)
    after = lab.kubectl_json("get", "secret", name)["metadata"]["resourceVersion"]
    assert int(after) > int(before)  # stale, so rewritten although nothing changed

    _write_config(lab, [_aesgcm(new_key), {"identity": {}}])  # old key gone
    keys = set()
    for item in json.loads(listing)["items"]:
        meta = item["metadata"]
        stored = lab.etcd_get(f"/registry/secrets/{meta['namespace']}/{meta['name']}")
        if stored is not None:
            keys.add(classify(stored[0]).key)
    assert keys == {"rotated"}
    obj = lab.kubectl_json("get", "secret", name)
    assert base64.b64decode(obj["data"]["k"]) == b"v"


def test_broken_config_keeps_the_old_one(lab: LabHandle, unique: Callable[[str], str]) -> None:
    path = lab.dir / "encryption-config.yaml"
    good = path.read_text()
    failures = lab.reloads("failure")
    path.write_text("kind: EncryptionConfiguration\nresources: [{resources: [secrets]}]\n")
    try:
        deadline = time.monotonic() + 10
        while lab.reloads("failure") == failures:
            assert time.monotonic() < deadline
        name = unique("still")
        lab.kubectl("create", "secret", "generic", name, "--from-literal=a=b")
        stored = lab.etcd_get(f"/registry/secrets/default/{name}")
        assert stored is not None and stored[0].startswith(b"k8s:enc:aesgcm:v1:")
    finally:
        before = lab.reloads()
        path.write_text(good)
        lab.wait_reload(before)
