"""``kubecrypt seal`` against upstream kubeseal's recorded runs: same skeleton, items that open
to the same Secret, the same errors; and upstream's own output opens with our unseal."""

from __future__ import annotations

import base64
import hashlib

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubecrypt.sealed.crypto import b64decode_std, hybrid_decrypt
from kubecrypt.sealed.scope import Scope, label


def _kubeconfig(tmp_path, namespace: str) -> dict[str, str]:
    """A kubeconfig whose context namespace is the one the vector's kubeseal saw."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n"
        f"- name: c\n  context: {{cluster: k, user: u, namespace: {namespace}}}\n"
        "clusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:9'}\n"
        "users:\n- name: u\n  user: {}\n")
    return {"KUBECONFIG": str(path)}


def test_seal_vector(seal_vector, sealed_dir, run_kubecrypt, tools, tmp_path):
    v = seal_vector
    env = _kubeconfig(tmp_path, v.get("kubeconfig_namespace") or "default")
    result = run_kubecrypt("seal", *tools.cli_args(v), input=v["input"].encode(), env=env)
    if v["expect"]["outcome"] == "error":
        assert result.returncode == 1
        assert result.stderr.decode() == f"error: {v['expect']['error']}\n"
        assert result.stdout == b""
        return
    assert result.returncode == 0, result.stderr.decode()
    text = result.stdout.decode()
    # kubecrypt's only addition is the provenance annotation on the outer metadata.
    assert _without_provenance(tools.mask(text), _cert_fingerprint(v, sealed_dir)) == \
        list(yaml.safe_load_all(v["output_skeleton"]))
    assert tools.unseal_outputs(v, text) == v["unseal"]["outputs"]
    # --no-provenance: kubeseal's bytes exactly.
    plain = run_kubecrypt("seal", "--no-provenance", *tools.cli_args(v),
                          input=v["input"].encode(), env=env)
    assert plain.returncode == 0, plain.stderr.decode()
    assert tools.mask(plain.stdout.decode()) == v["output_skeleton"]


def _cert_fingerprint(vector, sealed_dir) -> str:
    args = vector["kubeseal_args"]
    der = x509.load_pem_x509_certificate(
        (sealed_dir / "keys" / args[args.index("--cert") + 1]).read_bytes()
    ).public_bytes(serialization.Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _without_provenance(text: str, fingerprint: str) -> list:
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        annotations = doc["metadata"]["annotations"]
        assert annotations.pop("kubecrypt.io/sealed-with") == fingerprint
        if not annotations:
            del doc["metadata"]["annotations"]
        assert "kubecrypt.io/sealed-with" not in str(doc["spec"])
    return docs


def test_upstream_output_unseals(sealed_output_vector, sealed_dir, run_kubecrypt, tools):
    """kubeseal's (and the controller's) ciphertexts open with kubecrypt: the other direction."""
    v = sealed_output_vector
    text = v.get("output") or v.get("output_file")
    if v["expect"]["outcome"] != "ok":
        return
    assert tools.mask(text) == v["output_skeleton"]
    assert tools.unseal_outputs(v, text) == v["unseal"]["outputs"]


def test_cert_vector(cert_vector, sealed_dir, run_kubecrypt, tools):
    cert = sealed_dir / "keys" / f"{cert_vector['cert']}.crt.pem"
    secret = b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a","namespace":"b"},' \
             b'"data":{"k":"dg=="}}'
    result = run_kubecrypt("seal", "--cert", str(cert), input=secret)
    assert result.returncode == 1
    assert result.stderr.decode() == f"error: {cert_vector['expect']['error']}\n"
    assert result.stdout == b""


def test_raw_vector(raw_vector, sealed_dir, vector_keys, run_kubecrypt, tools, tmp_path):
    v = raw_vector
    plaintext = base64.b64decode(v["plaintext_b64"])
    args = tools.cli_args(v)
    for i, arg in enumerate(args[:-1]):
        if arg == "--from-file":  # "[key=]path": the key is ignored, the file is ours to make
            key, _, name = args[i + 1].rpartition("=")
            (tmp_path / name).write_bytes(plaintext)
            args[i + 1] = (f"{key}=" if key else "") + str(tmp_path / name)
    result = run_kubecrypt("seal", *args, input=None if "--from-file" in args else plaintext)
    assert result.returncode == 0, result.stderr.decode()
    ours = result.stdout.decode()
    assert not ours.endswith("\n") and not v["output"].endswith("\n")
    assert len(ours) == len(v["output"]) and ours[:2] == v["output"][:2]
    lab = label(Scope.parse(v["scope"]), v["namespace"], v["name"])
    key = vector_keys[v["key"]]
    for text in (ours, v["output"]):
        assert hybrid_decrypt([key], b64decode_std(text), lab) == plaintext


def test_merge_vector(merge_vector, sealed_dir, run_kubecrypt, tools, tmp_path):
    v = merge_vector
    args = tools.cli_args(v)
    target = tmp_path / args[args.index("--merge-into") + 1]
    target.write_text(v["existing_file"])
    args[args.index("--merge-into") + 1] = str(target)
    result = run_kubecrypt("seal", *args, input=v["input"].encode())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    merged = target.read_text()
    assert tools.mask(merged) == v["output_skeleton"]
    assert tools.unseal_outputs(v, merged) == v["unseal"]["outputs"]
    # Items not in the input are kept byte for byte.
    assert merged.count(v["existing_file"].split("username: ")[1].split("\n")[0]) == 1


def test_raw_recovery_unseal(raw_vector, sealed_dir, run_kubecrypt):
    """kubecrypt's addition (upstream #1485): --recovery-unseal --raw opens a --raw value."""
    v = raw_vector
    key = str(sealed_dir / "keys" / f"{v['key']}.key.pem")
    args = ["seal", "--recovery-unseal", "--raw", "--recovery-private-key", key,
            "--scope", v["scope"], "--namespace", v["namespace"]]
    opened = run_kubecrypt(*args, "--name", v["name"], input=v["output"].encode())
    assert opened.returncode == 0, opened.stderr.decode()
    assert opened.stdout == base64.b64decode(v["plaintext_b64"])
    if v["scope"] == "strict":
        wrong = run_kubecrypt(*args, "--name", v["name"] + "-x", input=v["output"].encode())
        assert wrong.returncode == 1
        assert wrong.stderr.decode() == "error: no key could decrypt secret\n"
