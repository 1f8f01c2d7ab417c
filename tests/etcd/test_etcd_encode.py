"""``etcd encode`` writes what kube-apiserver stores: kube-apiserver clears metadata.resourceVersion
and selfLink before every write, so an object as ``etcd get`` shows it (resourceVersion set from
the key's revision) encodes back to the upstream-made stored bytes."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from atrest_vectorlib import load_vectors
from shared_paths import VECTORS

ENCODE_VECTORS = [v for v in load_vectors(VECTORS) if v["operation"] == "encode"]


@pytest.mark.parametrize("v", ENCODE_VECTORS, ids=[v["id"] for v in ENCODE_VECTORS])
def test_encode_drops_what_kube_apiserver_does_not_store(
        v: dict[str, Any], kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]]) -> None:
    stored = base64.b64decode(v["stored_b64"])
    obj = json.loads(kubecrypt("etcd", "decode", "-o", "json", input=stored).stdout)
    assert "resourceVersion" not in obj["metadata"]
    obj["metadata"]["resourceVersion"] = "48213"
    obj["metadata"]["selfLink"] = "/api/v1/namespaces/x/secrets/y"
    r = kubecrypt("etcd", "encode", input=json.dumps(obj).encode())
    assert r.returncode == 0, r.stderr
    assert r.stdout == stored, v["id"]
    assert b"48213" not in r.stdout
