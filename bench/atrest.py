"""Encrypt+decrypt of a 1 KiB Secret through the provider chain, per provider, against the raw
AES-256-GCM primitive (cryptography/OpenSSL) run in the same process.

    python3 bench/atrest.py [--seconds 1.0]

KMS providers use an in-process KMS service (no socket): this measures our envelope code, not
gRPC (bench/kms.py measures the plugin)."""

from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.atrest.config import from_dict
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.kms.service import EncryptResponse, StatusResponse

AAD = b"/registry/secrets/default/bench"


class InProcessKMS:
    def __init__(self) -> None:
        self.aead = AESGCM(os.urandom(32))

    def status(self) -> StatusResponse:
        return StatusResponse("v2", "ok", "bench")

    def version(self) -> str:
        return "v1beta1"

    def encrypt(self, plaintext: bytes, uid: str = "") -> Any:
        n = os.urandom(12)
        ct = n + self.aead.encrypt(n, plaintext, None)
        return EncryptResponse(ct, "bench") if uid else ct

    def decrypt(self, ciphertext: bytes, *args: Any) -> bytes:
        return self.aead.decrypt(ciphertext[:12], ciphertext[12:], None)


def chain(provider: str) -> Any:
    key = base64.b64encode(os.urandom(32)).decode()
    if provider.startswith("kms"):
        body = {"kms": {"apiVersion": provider[-2:], "name": "b", "endpoint": "unix:///b.sock"}}
    elif provider == "identity":
        body = {"identity": {}}
    else:
        body = {provider: {"keys": [{"name": "k", "secret": key}]}}
    doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": [body]}],
    }
    svc = InProcessKMS()
    return TransformerSet(from_dict(doc), kms_factory=lambda c: svc).for_resource("secrets")


def per_op(fn: Callable[[], object], seconds: float) -> float:
    for _ in range(200):
        fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(500):
            fn()
        n += 500
    return elapsed / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    data = os.urandom(1024)
    raw = AESGCM(os.urandom(32))

    def raw_op() -> None:
        nonce = os.urandom(12)
        raw.decrypt(nonce, raw.encrypt(nonce, data, AAD), AAD)

    base = per_op(raw_op, args.seconds)
    print(f"{'provider':<10} {'µs/op':>8} {'x raw AES-GCM':>14}   (1 KiB, encrypt+decrypt)")
    print(f"{'raw-gcm':<10} {base:8.2f} {1.0:14.2f}")
    for name in ("identity", "aesgcm", "aescbc", "secretbox", "kmsv1", "kmsv2"):
        c = chain(name)
        us = per_op(lambda c=c: c.decrypt(c.encrypt(data, AAD), AAD), args.seconds)
        print(f"{name:<10} {us:8.2f} {us / base:14.2f}")


if __name__ == "__main__":
    main()
