"""Our .proto files match upstream kubernetes/kms apis/v2 and apis/v1beta1 on the wire:
package, service and method names, field numbers and types (spec section 3)."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from kubecrypt.kms.proto import v1beta1_pb2, v2_pb2

B, S = F.TYPE_BYTES, F.TYPE_STRING
V2 = {
    "StatusRequest": {},
    "StatusResponse": {"version": (1, S), "healthz": (2, S), "key_id": (3, S)},
    "EncryptRequest": {"plaintext": (1, B), "uid": (2, S)},
    "EncryptResponse": {"ciphertext": (1, B), "key_id": (2, S), "annotations": (3, F.TYPE_MESSAGE)},
    "DecryptRequest": {"ciphertext": (1, B), "uid": (2, S), "key_id": (3, S),
                       "annotations": (4, F.TYPE_MESSAGE)},
    "DecryptResponse": {"plaintext": (1, B)},
}
V1 = {
    "VersionRequest": {"version": (1, S)},
    "VersionResponse": {"version": (1, S), "runtime_name": (2, S), "runtime_version": (3, S)},
    "DecryptRequest": {"version": (1, S), "cipher": (2, B)},
    "DecryptResponse": {"plain": (1, B)},
    "EncryptRequest": {"version": (1, S), "plain": (2, B)},
    "EncryptResponse": {"cipher": (1, B)},
}


@pytest.mark.parametrize(("module", "package", "methods", "messages"), [
    (v2_pb2, "v2", ["Status", "Decrypt", "Encrypt"], V2),
    (v1beta1_pb2, "v1beta1", ["Version", "Decrypt", "Encrypt"], V1),
], ids=["v2", "v1beta1"])
def test_descriptors_match_upstream(module: object, package: str, methods: list[str],
                                    messages: dict[str, dict[str, tuple[int, int]]]) -> None:
    fd = module.DESCRIPTOR  # type: ignore[attr-defined]
    assert fd.package == package
    service = fd.services_by_name["KeyManagementService"]
    assert service.full_name == f"{package}.KeyManagementService"
    assert [m.name for m in service.methods] == methods
    assert set(fd.message_types_by_name) == set(messages)
    for name, fields in messages.items():
        msg = fd.message_types_by_name[name]
        got = {f.name: (f.number, f.type) for f in msg.fields}
        assert got == fields, name
        for f in msg.fields:
            if f.name == "annotations":  # map<string, bytes>
                entry = f.message_type
                assert entry.GetOptions().map_entry
                assert [(x.name, x.number, x.type) for x in entry.fields] == [
                    ("key", 1, S), ("value", 2, B)]


def test_wire_bytes() -> None:
    """A DecryptRequest encodes exactly as protobuf field numbers 1-4 say."""
    m = v2_pb2.DecryptRequest(ciphertext=b"c", uid="u", key_id="k", annotations={"a.b": b"v"})
    entry = b"\x0a\x03a.b\x12\x01v"
    assert m.SerializeToString() == (b"\x0a\x01c" + b"\x12\x01u" + b"\x1a\x01k"
                                     + b"\x22" + bytes([len(entry)]) + entry)
    assert v1beta1_pb2.EncryptRequest(version="v1beta1", plain=b"p").SerializeToString() == (
        b"\x0a\x07v1beta1\x12\x01p")
