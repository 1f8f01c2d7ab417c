"""Every at-rest vector from ../shared/vectors/atrest, one test case each, named by its id."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from atrest_vectorlib import VectorTransformers, load_vectors
from shared_paths import VECTORS

from kubecrypt.crypto.rand import ScriptedRandom
from kubecrypt.errors import DecryptError
from kubecrypt.storage import codec

b64d = base64.b64decode
ALL = load_vectors(VECTORS)


def _ids(vs: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vs]


@pytest.mark.parametrize("v", ALL, ids=_ids(ALL))
def test_read(v: dict[str, Any]) -> None:
    ts = VectorTransformers(v)
    chain = ts.for_resource(v["resource"])
    stored = b64d(v["stored_b64"])
    aad = v["etcd_key"].encode()
    if v["expect"]["ok"]:
        result = chain.decrypt(stored, aad)
        assert result.plaintext == b64d(v["expect"]["plaintext_b64"])
        assert result.stale is v["expect"]["stale"]
    else:
        with pytest.raises(DecryptError) as info:
            chain.decrypt(stored, aad)
        if "error_contains" in v["expect"]:
            assert v["expect"]["error_contains"] in str(info.value)


def _script(v: dict[str, Any]) -> list[bytes] | None:
    """The random inputs a write consumed, in the order our providers draw them."""
    d = v.get("details", {})
    if not str(v.get("written_by", "")).startswith("providers[0]"):
        return None
    if "iv_b64" in d:
        return [b64d(d["iv_b64"])]
    if "seed_b64" in d:
        return [b64d(d["seed_b64"]), b64d(d["hkdf_info_b64"]), b64d(d["gcm_nonce_b64"])]
    if "nonce_counter_le" in d:
        nonce = b64d(d["gcm_nonce_b64"])
        first_writes = int(d["nonce_counter_le"]) - 1_000_000_001
        return [b64d(d["dek_b64"])] + [b"\0" * 4] * first_writes + [nonce[:4]]
    if "data_nonce_b64" in d:
        return [b64d(d["dek_b64"]), b64d(d["data_nonce_b64"])]
    if "nonce_b64" in d:
        return [b64d(d["nonce_b64"])]
    return None


REPRODUCIBLE = [v for v in ALL if _script(v) is not None]


@pytest.mark.parametrize("v", REPRODUCIBLE, ids=_ids(REPRODUCIBLE))
def test_write_reproduces_stored_bytes(v: dict[str, Any]) -> None:
    script = _script(v)
    assert script is not None
    rand = ScriptedRandom(script)
    ts = VectorTransformers(v, rand=rand, replay=True)
    chain = ts.for_resource(v["resource"])
    aad = v["etcd_key"].encode()
    plaintext = b64d(v["plaintext_b64"])
    d = v.get("details", {})
    earlier = int(d.get("nonce_counter_le", 1_000_000_001)) - 1_000_000_001
    for _ in range(earlier):
        chain.encrypt(plaintext, aad)
    assert chain.encrypt(plaintext, aad) == b64d(v["stored_b64"])
    assert rand.remaining == 0


ENCODE = [v for v in ALL if v["operation"] == "encode"]


@pytest.mark.parametrize("v", ENCODE, ids=_ids(ENCODE))
def test_encode_secret_protobuf(v: dict[str, Any]) -> None:
    stored = b64d(v["stored_b64"])
    assert codec.encode(v["object"]) == stored
    assert codec.encode(codec.decode(stored)) == stored


def test_every_vector_is_covered() -> None:
    assert len(ALL) >= 35
    assert len(REPRODUCIBLE) >= 12
    assert Path(VECTORS).is_dir()
