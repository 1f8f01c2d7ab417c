"""Issue 13 item 15: every reader of untrusted input, through the real ``kubecrypt`` entry
point, answers deep nesting, alias bombs, control characters and undecodable bytes with one
sentence and a non-zero exit, quickly, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
VECTORS = Path("/work/shared/vectors")

DEEP_JSON = ('{"a":' * 5000) + "1" + ("}" * 5000)
DEEP_YAML = "a:\n" + "".join(" " * (i + 1) + "- \n" for i in range(0)) + ("  " + "[" * 5000)
# A structure nested 150 levels: under Python's recursion limit but over ours (100).
NESTED_150 = json.dumps(json.loads("[" * 150 + "]" * 150))
ALIAS_BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
CONTROL_CHAR = "apiVersion: v1\nkind: Secret\nmetadata: {name: a\x01}\n"
AGE_KEY = VECTORS / "sops" / "keys" / "age" / "key.txt"


def run(args: list[str], tmp: Path, *, stdin: bytes = b"", env: dict[str, str] | None = None,
        cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[bytes], float]:
    full = {**os.environ, "PYTHONPATH": SRC, "KUBECONFIG": str(tmp / "no-kubeconfig"),
            **(env or {})}
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "kubecrypt", *args], input=stdin,
                       capture_output=True, env=full, cwd=cwd or tmp, timeout=60, check=False)
    return r, time.monotonic() - start


def write(tmp: Path, name: str, text: str | bytes, mode: int = 0o600) -> str:
    p = tmp / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    p.chmod(mode)
    return str(p)


Case = Callable[[Path], tuple[list[str], bytes, dict[str, str]]]


def _sealed_cert() -> str:
    return str(VECTORS / "sealed" / "keys" / "rsa2048-a.crt.pem")


CASES: dict[str, Case] = {
    "atrest-config-deep": lambda t: (["atrest", "validate", write(t, "c.yaml", DEEP_YAML)], b"", {}),
    "atrest-config-150": lambda t: (["atrest", "validate", write(t, "c.json", NESTED_150)], b"", {}),
    "atrest-config-control": lambda t: (["atrest", "validate", write(t, "c.yaml", CONTROL_CHAR)],
                                        b"", {}),
    "atrest-config-alias-bomb": lambda t: (["atrest", "validate", write(t, "c.yaml", ALIAS_BOMB)],
                                           b"", {}),
    "etcd-encode-deep": lambda t: (["etcd", "encode"], DEEP_YAML.encode(), {}),
    "etcd-encode-json-deep": lambda t: (["etcd", "encode"], DEEP_JSON.encode(), {}),
    "etcd-decode-deep": lambda t: (["etcd", "decode"], DEEP_JSON.encode(), {}),
    "seal-input-deep": lambda t: (["seal", "--cert", _sealed_cert()], DEEP_YAML.encode(), {}),
    "seal-input-json-deep": lambda t: (["seal", "--cert", _sealed_cert()], DEEP_JSON.encode(), {}),
    "seal-input-control": lambda t: (["seal", "--cert", _sealed_cert()], CONTROL_CHAR.encode(), {}),
    "seal-input-not-utf8": lambda t: (["seal", "--cert", _sealed_cert()], b"kind: \xff\n", {}),
    "seal-recovery-key-deep": lambda t: (
        ["seal", "--recovery-unseal", "--recovery-private-key", write(t, "k.yaml", DEEP_YAML)],
        b"{}", {}),
    "kubeconfig-deep": lambda t: (["seal"], b"apiVersion: v1\nkind: Secret\ndata: {a: dg==}\n",
                                  {"KUBECONFIG": write(t, "kc", DEEP_YAML)}),
    "sops-json-deep": lambda t: (["sops", "decrypt", write(t, "s.json", DEEP_JSON)], b"",
                                 {"SOPS_AGE_KEY_FILE": str(AGE_KEY)}),
    "sops-yaml-deep": lambda t: (["sops", "decrypt", write(t, "s.yaml", DEEP_YAML)], b"",
                                 {"SOPS_AGE_KEY_FILE": str(AGE_KEY)}),
    "sops-decrypt-alias-bomb": lambda t: (["sops", "decrypt", write(t, "s.yaml", ALIAS_BOMB)],
                                          b"", {"SOPS_AGE_KEY_FILE": str(AGE_KEY)}),
    "sops-encrypt-alias-bomb": lambda t: (
        ["sops", "encrypt", "--age", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
         write(t, "s.yaml", ALIAS_BOMB)], b"", {}),
    "sops-encrypt-control": lambda t: (
        ["sops", "encrypt", "--age", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
         write(t, "s.yaml", "a: b\x01\n")], b"", {}),
    "sops-config-deep": lambda t: (
        ["sops", "encrypt", write(t, "s.yaml", "a: b\n")], b"",
        {"_cfg": write(t, ".sops.yaml", DEEP_YAML)}),
    "kms-backend-config-deep": lambda t: (
        ["kms", "serve", "--listen", f"unix://{t}/s.sock", "--backend", "local",
         "--backend-config", write(t, "b.yaml", DEEP_YAML)], b"", {}),
    "kms-backend-config-json-deep": lambda t: (
        ["kms", "serve", "--listen", f"unix://{t}/s.sock", "--backend", "local",
         "--backend-config", write(t, "b.json", DEEP_JSON)], b"", {}),
    "kms-keyring-deep": lambda t: (
        ["kms", "keyring", "list", "--file", write(t, "ring.json", DEEP_JSON)], b"", {}),
    "kms-keyring-not-utf8": lambda t: (
        ["kms", "keyring", "list", "--file", write(t, "ring.json", b'{"keys": "\xff\xfe"}')],
        b"", {}),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_reader_answers_one_sentence(tmp_path: Path, case: Case) -> None:
    args, stdin, env = case(tmp_path)
    env.pop("_cfg", None)
    r, seconds = run(args, tmp_path, stdin=stdin, env=env)
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0, err
    assert "Traceback" not in err and "RecursionError" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    assert seconds < 10, seconds
    assert r.stdout == b""
