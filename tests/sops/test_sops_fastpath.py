"""The click-free path for ``kubecrypt sops decrypt FILE`` / ``encrypt [--age R] [selection]
FILE``: same bytes, errors and exit codes as the click commands, never importing click, and
every other form (or a SOPS_* variable that feeds a click option) still goes to click."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import AgeKey
from .sopsdiff import env_for, sops

_PROBE = (
    "import sys, os, contextlib\n"
    "from kubecrypt.cli import main\n"
    "out = sys.stdout\n"
    "sys.stdout = open(os.devnull, 'w')\n"
    "code = 0\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "out.write(f'{code} {\"click\" in sys.modules}')\n"
)


def _probe(args: list[str], env: dict[str, str]) -> tuple[int, bool, bytes]:
    r = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, capture_output=True,
                       timeout=60, check=False)
    code, clicked = r.stdout.decode().split()
    return int(code), clicked == "True", r.stderr


def _slow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """The same command forced through click (kubecrypt.cli.app)."""
    code = "import sys\nfrom kubecrypt.cli.app import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          timeout=60, check=False)


def _fast(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    code = "import sys\nfrom kubecrypt.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          timeout=60, check=False)


@pytest.fixture
def files(tmp_path: Path, age_keys: dict[str, AgeKey]) -> tuple[Path, Path, dict[str, str]]:
    env = env_for(age_keys["k1"], str(tmp_path))
    plain = tmp_path / "s.yaml"
    plain.write_bytes(b"kind: Secret\nstringData:\n  a: b # c\n  n: 1\n")
    enc = tmp_path / "s.enc.yaml"
    enc.write_bytes(sops("encrypt", "--age", age_keys["k1"].recipient, str(plain),
                         env=env).stdout)
    return plain, enc, env


def test_decrypt_and_encrypt_skip_click(files: tuple[Path, Path, dict[str, str]],
                                        age_keys: dict[str, AgeKey]) -> None:
    plain, enc, env = files
    assert _probe(["sops", "decrypt", str(enc)], env)[:2] == (0, False)
    r = age_keys["k1"].recipient
    assert _probe(["sops", "encrypt", "--age", r, "--encrypted-regex", "^stringData$",
                   str(plain)], env)[:2] == (0, False)
    assert _probe(["sops", "encrypt", f"--age={r}", str(plain)], env)[:2] == (0, False)


@pytest.mark.parametrize("extra", [["--ignore-mac"], ["--output-type", "json"], ["--kms", "x"]])
def test_other_forms_go_to_click(files: tuple[Path, Path, dict[str, str]],
                                 extra: list[str]) -> None:
    _, enc, env = files
    assert _probe(["sops", "decrypt", *extra, str(enc)], env)[1] is True


def test_unknown_sops_variable_goes_to_click(files: tuple[Path, Path, dict[str, str]],
                                            age_keys: dict[str, AgeKey]) -> None:
    plain, _, env = files
    env = {**env, "SOPS_KMS_ARN": "arn:aws:kms:us-east-1:000000000000:key/x"}
    _, clicked, _ = _probe(["sops", "encrypt", "--age", age_keys["k1"].recipient, str(plain)],
                           env)
    assert clicked


@pytest.mark.parametrize("case", ["decrypt-ok", "decrypt-missing", "decrypt-nokey",
                                  "decrypt-plain", "encrypt-ok-stdout-shape", "encrypt-nokey",
                                  "encrypt-twice", "encrypt-bad-regex", "encrypt-two-rules"])
def test_fast_and_click_paths_agree(case: str, files: tuple[Path, Path, dict[str, str]],
                                    age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    plain, enc, env = files
    r = age_keys["k1"].recipient
    args = {
        "decrypt-ok": ["decrypt", str(enc)],
        "decrypt-missing": ["decrypt", str(tmp_path / "nope.yaml")],
        "decrypt-nokey": ["decrypt", str(enc)],
        "decrypt-plain": ["decrypt", str(plain)],
        "encrypt-ok-stdout-shape": ["encrypt", "--age", r, "--unencrypted-suffix", "n",
                                    str(plain)],
        "encrypt-nokey": ["encrypt", str(plain)],
        "encrypt-twice": ["encrypt", "--age", r, str(enc)],
        "encrypt-bad-regex": ["encrypt", "--age", r, "--encrypted-regex", "(", str(plain)],
        "encrypt-two-rules": ["encrypt", "-a", r, "--encrypted-regex", "a",
                              "--unencrypted-regex", "b", str(plain)],
    }[case]
    if case == "decrypt-nokey":
        env = {**env, "SOPS_AGE_KEY_FILE": str(tmp_path / "none.txt")}
    fast, slow = _fast(["sops", *args], env), _slow(["sops", *args], env)
    assert fast.returncode == slow.returncode, (fast.stderr, slow.stderr)
    assert b"Traceback" not in fast.stderr
    if case.startswith("encrypt-ok"):  # fresh data key and IVs: compare the shape
        assert fast.stdout.count(b"ENC[") == slow.stdout.count(b"ENC[") > 0
        assert fast.stderr == slow.stderr
    else:
        assert (fast.stdout, fast.stderr) == (slow.stdout, slow.stderr)
