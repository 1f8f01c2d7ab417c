"""A bare KMS v2 plugin for comparison: grpcio's sync server, the same generated stubs, Status,
Encrypt and Decrypt with AES-256-GCM (nonce || ciphertext, AAD = key_id) under one in-memory key,
and nothing else: no validation, metrics, logging, deadlines or backend executor.

    python3 bench/kms_bare_plugin.py SOCKET_PATH [--workers 2]

``bench/kms.py`` runs it beside ``kubecrypt kms serve`` in the same run, so the two are measured
under the same machine load."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kubecrypt.kms.proto import v2_pb2, v2_pb2_grpc

KEY_ID = "bare-1"


class Bare(v2_pb2_grpc.KeyManagementServiceServicer):
    def __init__(self) -> None:
        self.aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self.aad = KEY_ID.encode()

    def Status(self, request: Any, context: Any) -> Any:
        return v2_pb2.StatusResponse(version="v2", healthz="ok", key_id=KEY_ID)

    def Encrypt(self, request: Any, context: Any) -> Any:
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, request.plaintext, self.aad)
        return v2_pb2.EncryptResponse(ciphertext=nonce + sealed, key_id=KEY_ID)

    def Decrypt(self, request: Any, context: Any) -> Any:
        c = request.ciphertext
        return v2_pb2.DecryptResponse(plaintext=self.aead.decrypt(c[:12], c[12:],
                                                                  request.key_id.encode()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("socket")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    server = grpc.server(ThreadPoolExecutor(max_workers=args.workers))
    v2_pb2_grpc.add_KeyManagementServiceServicer_to_server(Bare(), server)
    server.add_insecure_port(f"unix:{args.socket}")
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
