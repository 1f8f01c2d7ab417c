"""ConfigMap and Namespace storage encodings and the etcd key layout."""

from __future__ import annotations

import pytest

from kubecrypt.errors import EncodingError
from kubecrypt.storage.codec import decode, decode_envelope_kind, encode
from kubecrypt.storage.keys import etcd_key, parse_etcd_key

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "cfg",
        "namespace": "ns",
        "creationTimestamp": "2024-01-02T03:04:05Z",
        "labels": {"b": "2", "a": "1"},
        "uid": "u-1",
    },
    "data": {"z": "last", "a": "first", "": ""},
    "binaryData": {"bin": "AAEC"},
    "immutable": True,
}
NS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "prod", "creationTimestamp": None, "finalizers": ["x/y"]},
    "spec": {"finalizers": ["kubernetes"]},
    "status": {"phase": "Active"},
}


@pytest.mark.parametrize("obj", [CM, NS], ids=["configmap", "namespace"])
def test_round_trip(obj: dict) -> None:
    data = encode(obj)
    assert data.startswith(b"k8s\x00") and data.endswith(b"\x1a\x00\x22\x00")
    assert decode_envelope_kind(data) == ("v1", obj["kind"])
    assert decode(data) == obj
    assert encode(decode(data)) == data


def test_maps_sorted_by_key_bytes() -> None:
    data = encode(CM)
    assert data.index(b"\x01a\x12\x05first") < data.index(b"\x01z\x12\x04last")
    assert data.index(b"\x01a\x12\x011") < data.index(b"\x01b\x12\x012")


@pytest.mark.parametrize(
    "bad", [b"k8s\x00\x0a\xff", b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x03Pod", b"{oops"]
)
def test_malformed(bad: bytes) -> None:
    with pytest.raises(EncodingError):
        decode(bad)


@pytest.mark.parametrize(
    ("resource", "ns", "name", "key"),
    [
        ("secrets", "default", "db", "/registry/secrets/default/db"),
        ("namespaces", None, "prod", "/registry/namespaces/prod"),
        ("configmaps", "a", "b", "/registry/configmaps/a/b"),
        ("services", "a", "b", "/registry/services/specs/a/b"),
        ("sealedsecrets.bitnami.com", "a", "b", "/registry/bitnami.com/sealedsecrets/a/b"),
    ],
)
def test_etcd_keys(resource: str, ns: str | None, name: str, key: str) -> None:
    assert etcd_key(resource, ns, name) == key
    assert parse_etcd_key(key) == (resource, ns, name)
    assert etcd_key(resource, ns, name, prefix="foo/registry/") == "/foo" + key


LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "sealed-secrets-controller", "namespace": "kube-system",
                      "creationTimestamp": "2024-01-02T03:04:05Z"},
         "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15,
                  "acquireTime": "2024-01-02T03:04:05.123456Z", "renewTime": "2024-01-02T03:04:20.000001Z",
                  "leaseTransitions": 3}}


def test_lease_protobuf_keeps_microseconds_and_omits_unset_fields() -> None:
    data = encode(LEASE)
    assert decode_envelope_kind(data) == ("coordination.k8s.io/v1", "Lease")
    assert decode(data) == LEASE
    assert encode(decode(data)) == data
    assert b"\x10\xe8\x07" in data  # renewTime's nanos: 1 µs = 1000 ns, varint e8 07
    empty = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}, "spec": {}}
    assert decode(encode(empty))["spec"] == {}
