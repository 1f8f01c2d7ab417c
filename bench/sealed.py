"""Unsealing throughput with 4096-bit keys, on one core.

Prints items per second for (a) raw RSA-OAEP-SHA256 decrypts, (b) hybrid_decrypt of single
items, (c) whole SealedSecrets through ``unseal`` (base64, label, items, Secret building), each
with the ratio to (a): RSA is the floor, the rest is our overhead. Target: >= 600 items/s.

Run: PYTHONPATH=src python3 bench/sealed.py [--seconds 3] [--keys 1]"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kubecrypt.sealed.crypto import hybrid_decrypt, hybrid_encrypt
from kubecrypt.sealed.keys import KeyRegistry, SealingKey, self_signed_certificate
from kubecrypt.sealed.seal import SealOptions, seal_secret
from kubecrypt.sealed.unseal import unseal


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Items per CPU-second of ``fn`` (which returns how many items it processed).

    CPU time of this single-threaded process is "one core" even on a busy machine, where wall
    time would mostly measure the other processes."""
    fn()  # warm up
    items, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        items += fn()
    return items / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--keys", type=int, default=1,
                        help="keys in the registry; the sealing key is the oldest (worst case)")
    args = parser.parse_args()

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=4096)
            for _ in range(args.keys)]
    sealing = keys[0]
    label = b"bench/app"
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    rsa_block = sealing.public_key().encrypt(os.urandom(32), oaep)
    item = hybrid_encrypt(sealing.public_key(), b"p" * 64, label)
    import datetime as dt

    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    registry = KeyRegistry([
        SealingKey(k, self_signed_certificate(k, now=base + dt.timedelta(days=i)))
        for i, k in enumerate(keys)
    ])
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "app", "namespace": "bench"},
              "stringData": {f"item{i}": "v" * 64 for i in range(10)}}
    sealed = seal_secret(secret, sealing.public_key(), SealOptions())
    ordered_keys = registry.private_keys()

    raw = rate(lambda: (sealing.decrypt(rsa_block, oaep), 1)[1], args.seconds)
    hybrid = rate(lambda: (hybrid_decrypt([sealing], item, label), 1)[1], args.seconds)
    hybrid_all = rate(lambda: (hybrid_decrypt(ordered_keys, item, label), 1)[1], args.seconds)
    whole = rate(lambda: (unseal(sealed, registry), 10)[1], args.seconds)

    print(f"RSA-4096, items per CPU-second of one thread, {args.keys} key(s) in the registry "
          "(the sealing key is the oldest, tried last)")
    print(f"{'raw RSA-OAEP decrypt':40s} {raw:8.0f} items/s  1.00x")
    print(f"{'hybrid_decrypt, right key':40s} {hybrid:8.0f} items/s  {hybrid / raw:.2f}x")
    print(f"{'hybrid_decrypt, all keys newest first':40s} {hybrid_all:8.0f} items/s  "
          f"{hybrid_all / raw:.2f}x")
    print(f"{'unseal (SealedSecret, 10 items)':40s} {whole:8.0f} items/s  {whole / raw:.2f}x")
    print(f"target >= 600 items/s: {'met' if whole >= 600 else 'NOT met'}")


if __name__ == "__main__":
    main()
