"""Fixtures for the Sealed Secrets tests: upstream vectors and keys, keys generated once per
session (RSA keygen is slow), and a runner for ``kubecrypt`` isolated from the user's kubeconfig."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.sealed.keys import SealingKey, generate_key

REPO = Path(__file__).resolve().parents[2]
SEALED = Path(os.environ.get("KUBECRYPT_SHARED", REPO.parent / "shared")) / "vectors" / "sealed"


def load_vectors(*kinds: str) -> list[dict[str, Any]]:
    """Vectors of the given kinds, for parametrize (ids are the vector ids)."""
    out = []
    for path in sorted((SEALED / "vectors").glob("*.json")):
        vector = json.loads(path.read_text())
        if vector["kind"] in kinds:
            out.append(vector)
    return out


# A test that takes one of these arguments runs once per vector of those kinds, named by its id.
VECTOR_ARGS: dict[str, tuple[str, ...]] = {
    "hybrid_vector": ("hybrid",),
    "negative_vector": ("hybrid-negative",),
    "seal_vector": ("kubeseal-seal",),
    "cert_vector": ("kubeseal-cert",),
    "raw_vector": ("kubeseal-raw",),
    "recovery_vector": ("recovery-unseal",),
    "reencrypt_vector": ("re-encrypt",),
    "merge_vector": ("kubeseal-merge-into",),
    "legacy_vector": ("legacy-v1",),
    "sealed_output_vector": ("kubeseal-seal", "re-encrypt", "kubeseal-merge-into"),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for arg, kinds in VECTOR_ARGS.items():
        if arg in metafunc.fixturenames:
            vectors = load_vectors(*kinds)
            assert vectors, f"no vectors of kind {kinds} in {SEALED}"
            metafunc.parametrize(arg, vectors, ids=[v["id"] for v in vectors])


@pytest.fixture(scope="session")
def sealed_dir(vectors_dir: Path) -> Path:
    return vectors_dir / "sealed"


@pytest.fixture(scope="session")
def key_manifest(sealed_dir: Path) -> dict[str, dict[str, Any]]:
    return {k["id"]: k for k in json.loads((sealed_dir / "keys" / "keys.json").read_text())}


@pytest.fixture(scope="session")
def vector_keys(
    sealed_dir: Path, key_manifest: dict[str, dict[str, Any]]
) -> dict[str, rsa.RSAPrivateKey]:
    out = {}
    for key_id, entry in key_manifest.items():
        key = serialization.load_pem_private_key(
            (sealed_dir / entry["private_key_file"]).read_bytes(), password=None
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        out[key_id] = key
    return out


@pytest.fixture(scope="session")
def generated_keys() -> dict[int, SealingKey]:
    """One fresh key per size, generated once: 4096-bit keygen takes seconds on 2 cores."""
    out = {}
    for bits in (2048, 3072, 4096):
        private_key, cert = generate_key(bits)
        out[bits] = SealingKey(private_key, cert)
    return out


@pytest.fixture
def run_kubecrypt(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """The real ``kubecrypt`` entry point (``python -m kubecrypt``, the same ``main`` as the
    console script minus a version-manager shim's start-up), with no kubeconfig (namespace
    ``default``) unless the test gives one."""

    def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            cwd: str | Path | None = None) -> subprocess.CompletedProcess[bytes]:
        full_env = dict(os.environ)
        full_env.update({"KUBECONFIG": str(tmp_path / "no-kubeconfig"),
                         "PYTHONPATH": str(REPO / "src")})
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "kubecrypt", *args], input=input, capture_output=True,
            env=full_env, cwd=cwd, timeout=120, check=False,
        )

    return run


# --- helpers for kubeseal-shaped vectors --------------------------------------------------

_YAML_CT = re.compile(r"^(\s*[^\s:]+: )[A-Za-z0-9+/=]{301,}$", re.M)
_JSON_CT = re.compile(r'("[^"]+": )"[A-Za-z0-9+/=]{301,}"')


def mask(text: str) -> str:
    """The README's masking: base64 values longer than 300 characters become <CIPHERTEXT>."""
    return _JSON_CT.sub(r'\1"<CIPHERTEXT>"', _YAML_CT.sub(r"\1<CIPHERTEXT>", text))


def split_documents(text: str, output_format: str) -> list[str]:
    if output_format == "yaml":
        return ["---\n" + part for part in text.split("---\n") if part]
    # kubeseal's pretty JSON objects each end with "}" alone on a line.
    return [part for part in re.split(r"(?<=\n}\n)(?=\{)", text) if part]


def cli_args(vector: dict[str, Any], sealed_dir: Path) -> list[str]:
    """kubeseal's arguments with file names resolved to the vector folder."""
    args = list(vector["kubeseal_args"])
    for i, arg in enumerate(args[:-1]):
        if arg in ("--cert", "--recovery-private-key"):
            name = args[i + 1]
            key_file = sealed_dir / "keys" / name
            args[i + 1] = str(key_file if key_file.exists() else sealed_dir / "fixtures" / name)
    return args


def _unseal_outputs(run: Any, vector: dict[str, Any], sealed_dir: Path, text: str) -> list[str]:
    keys = ",".join(str(sealed_dir / "keys" / f"{k}.key.pem") for k in vector["unseal"]["keys"])
    fmt = vector["unseal"]["format"]
    out = []
    for doc in split_documents(text, "json" if text.startswith("{") else "yaml"):
        result = run("seal", "--recovery-unseal", "--recovery-private-key", keys, "-o", fmt,
                     input=doc.encode())
        assert result.returncode == 0, result.stderr.decode()
        out.append(result.stdout.decode())
    return out



class VectorTools:
    """What the kubeseal-shaped vector tests share: masking, arguments, unsealing outputs."""

    mask = staticmethod(mask)
    split_documents = staticmethod(split_documents)

    def __init__(self, run: Any, sealed_dir: Path) -> None:
        self.run = run
        self.sealed_dir = sealed_dir

    def cli_args(self, vector: dict[str, Any]) -> list[str]:
        return cli_args(vector, self.sealed_dir)

    def unseal_outputs(self, vector: dict[str, Any], text: str) -> list[str]:
        return _unseal_outputs(self.run, vector, self.sealed_dir, text)


@pytest.fixture
def tools(run_kubecrypt: Any, sealed_dir: Path) -> VectorTools:
    return VectorTools(run_kubecrypt, sealed_dir)
