"""Application-level envelope encryption (``kubecrypt kms encrypt|decrypt`` and the library)."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubecrypt.errors import DecryptError, InputError
from kubecrypt.kms import client, envelope, keyring

from .conftest import Plugin


@pytest.mark.slow
def test_cli_round_trip_v2_and_v1(local_plugin: Plugin, kubecrypt: Any, socket_dir: str) -> None:
    data = os.urandom(100_000)
    src = Path(socket_dir, "in.bin")
    src.write_bytes(data)
    out = Path(socket_dir, "out.kce")
    r = kubecrypt("kms", "encrypt", "--listen", local_plugin.endpoint, "-o", str(out), str(src))
    assert r.returncode == 0, r.stderr
    blob = out.read_bytes()
    assert blob.startswith(b"KCE\x01\x02") and data not in blob
    r = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, str(out))
    assert r.returncode == 0 and r.stdout == data
    # Decrypted output written with -o is plaintext: a new file is created 0600, atomically.
    plain = Path(socket_dir, "plain.bin")
    r = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, "-o", str(plain), str(out))
    assert r.returncode == 0, r.stderr
    assert plain.read_bytes() == data and stat.S_IMODE(plain.stat().st_mode) == 0o600
    # stdin/stdout and the v1 API
    r = kubecrypt("kms", "encrypt", "--api", "v1", "--listen", local_plugin.endpoint, input=b"hi")
    assert r.stdout.startswith(b"KCE\x01\x01")
    r2 = kubecrypt("kms", "decrypt", "--api", "v1", "--listen", local_plugin.endpoint,
                   input=r.stdout)
    assert r2.stdout == b"hi"
    r3 = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, input=r.stdout)
    assert r3.returncode == 1 and b"decrypt it with --api v1" in r3.stderr


@pytest.mark.slow
def test_cli_errors(local_plugin: Plugin, kubecrypt: Any, socket_dir: str) -> None:
    r = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, input=b"plain text")
    assert r.returncode == 1 and b"not a kubecrypt envelope" in r.stderr
    blob = kubecrypt("kms", "encrypt", "--listen", local_plugin.endpoint, "--context", "rec-1",
                     input=b"payload").stdout
    r = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, "--context", "rec-2",
                  input=blob)
    assert r.returncode == 1 and b"does not authenticate" in r.stderr and r.stdout == b""
    out = Path(socket_dir, "never.txt")
    r = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, "-o", str(out),
                  input=blob[:-1])
    assert r.returncode == 1 and not out.exists()
    r = kubecrypt("kms", "decrypt", "--listen", local_plugin.endpoint, "--context", "rec-1",
                  input=blob)
    assert r.stdout == b"payload"
    r = kubecrypt("kms", "encrypt", "--listen", f"unix://{socket_dir}/none.sock", "--timeout",
                  "0.5", input=b"x")
    err = r.stderr.decode()
    assert r.returncode == 1 and "is not reachable" in err and err.count("\n") == 1


def test_survives_kek_rotation(local_plugin: Plugin, keyring_path: str) -> None:
    kms = client.GrpcKMSv2(local_plugin.endpoint)
    blob = envelope.encrypt(kms, b"old secret")
    old_id = envelope.parse_header(blob).key_id
    keyring.rotate(keyring_path)
    assert envelope.decrypt(kms, blob) == b"old secret"
    assert old_id != kms.status().key_id


def test_header_is_authenticated(local_plugin: Plugin) -> None:
    kms = client.GrpcKMSv2(local_plugin.endpoint)
    blob = envelope.encrypt(kms, b"data")
    h = envelope.parse_header(blob)
    body = blob[len(h.raw):]
    forged = envelope.encode_header(h.api, h.key_id, h.wrapped_dek,
                                    {"extra.example.com": b"1"}) + body
    with pytest.raises(DecryptError):
        envelope.decrypt(kms, forged)
    with pytest.raises(InputError, match="version 2"):
        envelope.decrypt(kms, b"KCE\x02" + blob[4:])
    with pytest.raises(InputError, match="truncated"):
        envelope.parse_header(blob[:10])
    with pytest.raises(InputError, match="unknown KMS API"):
        envelope.parse_header(b"KCE\x01\x07" + blob[5:])
    assert struct.unpack(">H", blob[5:7])[0] == len(h.key_id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048), flip=st.integers(min_value=0))
def test_any_tampering_is_detected(local_plugin: Plugin, data: bytes, flip: int) -> None:
    kms = client.GrpcKMSv2(local_plugin.endpoint)
    blob = envelope.encrypt(kms, data)
    assert envelope.decrypt(kms, blob) == data
    i = flip % len(blob)
    tampered = blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1:]
    with pytest.raises((DecryptError, InputError)):
        envelope.decrypt(kms, tampered)
