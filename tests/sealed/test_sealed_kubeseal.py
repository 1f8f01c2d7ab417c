"""``kubecrypt seal`` against upstream kubeseal's recorded runs: same skeleton, items that open
to the same Secret, the same errors; and upstream's own output opens with our unseal."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from kubecrypt.sealed.crypto import b64decode_std, hybrid_decrypt
from kubecrypt.sealed.scope import Scope, label

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


def unseal_outputs(run, vector: dict[str, Any], sealed_dir: Path, text: str) -> list[str]:
    keys = ",".join(str(sealed_dir / "keys" / f"{k}.key.pem") for k in vector["unseal"]["keys"])
    fmt = vector["unseal"]["format"]
    out = []
    for doc in split_documents(text, "json" if text.startswith("{") else "yaml"):
        result = run("seal", "--recovery-unseal", "--recovery-private-key", keys, "-o", fmt,
                     input=doc.encode())
        assert result.returncode == 0, result.stderr.decode()
        out.append(result.stdout.decode())
    return out


def test_seal_vector(seal_vector, sealed_dir, run_kubecrypt):
    v = seal_vector
    result = run_kubecrypt("seal", *cli_args(v, sealed_dir), input=v["input"].encode())
    if v["expect"]["outcome"] == "error":
        assert result.returncode == 1
        assert result.stderr.decode() == f"error: {v['expect']['error']}\n"
        assert result.stdout == b""
        return
    assert result.returncode == 0, result.stderr.decode()
    text = result.stdout.decode()
    assert mask(text) == v["output_skeleton"]
    assert unseal_outputs(run_kubecrypt, v, sealed_dir, text) == v["unseal"]["outputs"]


def test_upstream_output_unseals(sealed_output_vector, sealed_dir, run_kubecrypt):
    """kubeseal's (and the controller's) ciphertexts open with kubecrypt: the other direction."""
    v = sealed_output_vector
    text = v.get("output") or v.get("output_file")
    if v["expect"]["outcome"] != "ok":
        return
    assert mask(text) == v["output_skeleton"]
    assert unseal_outputs(run_kubecrypt, v, sealed_dir, text) == v["unseal"]["outputs"]


def test_cert_vector(cert_vector, sealed_dir, run_kubecrypt):
    cert = sealed_dir / "keys" / f"{cert_vector['cert']}.crt.pem"
    secret = b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a","namespace":"b"},' \
             b'"data":{"k":"dg=="}}'
    result = run_kubecrypt("seal", "--cert", str(cert), input=secret)
    assert result.returncode == 1
    assert result.stderr.decode() == f"error: {cert_vector['expect']['error']}\n"
    assert result.stdout == b""


def test_raw_vector(raw_vector, sealed_dir, vector_keys, run_kubecrypt, tmp_path):
    v = raw_vector
    plaintext = base64.b64decode(v["plaintext_b64"])
    args = cli_args(v, sealed_dir)
    for i, arg in enumerate(args[:-1]):
        if arg == "--from-file":
            (tmp_path / args[i + 1]).write_bytes(plaintext)
            args[i + 1] = str(tmp_path / args[i + 1])
    result = run_kubecrypt("seal", *args)
    assert result.returncode == 0, result.stderr.decode()
    ours = result.stdout.decode()
    assert not ours.endswith("\n") and not v["output"].endswith("\n")
    assert len(ours) == len(v["output"]) and ours[:2] == v["output"][:2]
    lab = label(Scope.parse(v["scope"]), v["namespace"], v["name"])
    key = vector_keys[v["key"]]
    for text in (ours, v["output"]):
        assert hybrid_decrypt([key], b64decode_std(text), lab) == plaintext


def test_merge_vector(merge_vector, sealed_dir, run_kubecrypt, tmp_path):
    v = merge_vector
    args = cli_args(v, sealed_dir)
    target = tmp_path / args[args.index("--merge-into") + 1]
    target.write_text(v["existing_file"])
    args[args.index("--merge-into") + 1] = str(target)
    result = run_kubecrypt("seal", *args, input=v["input"].encode())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    merged = target.read_text()
    assert mask(merged) == v["output_skeleton"]
    assert unseal_outputs(run_kubecrypt, v, sealed_dir, merged) == v["unseal"]["outputs"]
    # Items not in the input are kept byte for byte.
    assert merged.count(v["existing_file"].split("username: ")[1].split("\n")[0]) == 1
