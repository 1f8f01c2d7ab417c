"""``kubecrypt seal --cert NAME=... --cert ... --output-dir DIR [--escrow-cert]``: one
SealedSecret per cluster, each opening with its own cluster's key only; an escrow copy that
``kubectl apply -f`` would not pick up; nothing written on bad input."""

from __future__ import annotations

import pytest
import yaml

from kubecrypt.sealed.keys import KeyRegistry, keys_from_file
from kubecrypt.sealed.multi import ESCROW_SUFFIX
from kubecrypt.sealed.provenance import ESCROW_ANNOTATION, pem_fingerprint, sealed_with
from kubecrypt.sealed.unseal import unseal

SECRET = (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\n"
          b"data:\n  password: czNjcjN0\n")

pytestmark = pytest.mark.slow  # each case runs the CLI in subprocesses


def _registry(path) -> KeyRegistry:
    return KeyRegistry(keys_from_file(path.read_bytes(), str(path)))


def test_one_file_per_cluster_each_opens_with_its_own_key(run_kubecrypt, sealed_dir, tmp_path):
    keys = sealed_dir / "keys"
    src = tmp_path / "secret.yaml"
    src.write_bytes(SECRET)
    out = tmp_path / "out"
    result = run_kubecrypt("seal", "-f", str(src), "--output-dir", str(out),
                           "--cert", f"prod={keys / 'rsa2048-a.crt.pem'}",
                           "--cert", str(keys / "rsa4096-b.crt.pem"),
                           "--escrow-cert", str(keys / "rsa3072-a.crt.pem"))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    default_name = pem_fingerprint((keys / "rsa4096-b.crt.pem").read_bytes())[7:19]  # type: ignore[index]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(["prod/secret.yaml", f"{default_name}/secret.yaml",
                            f"escrow/secret.yaml{ESCROW_SUFFIX}"])
    cases = {"prod/secret.yaml": "rsa2048-a", f"{default_name}/secret.yaml": "rsa4096-b",
             f"escrow/secret.yaml{ESCROW_SUFFIX}": "rsa3072-a"}
    for rel, key_id in cases.items():
        ss = yaml.safe_load((out / rel).read_text())  # YAML, from the .yaml file name
        assert sealed_with(ss) == pem_fingerprint((keys / f"{key_id}.crt.pem").read_bytes())
        secret = unseal(ss, _registry(keys / f"{key_id}.key.pem"))
        assert secret["data"] == {"password": "czNjcjN0"}
        for other in {"rsa2048-a", "rsa4096-b", "rsa3072-a"} - {key_id}:
            opened = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key",
                                   str(keys / f"{other}.key.pem"), input=(out / rel).read_bytes())
            assert opened.returncode == 1, (rel, other)
        escrow = rel.startswith("escrow/")
        assert (ss["metadata"]["annotations"].get(ESCROW_ANNOTATION) == "true") is escrow
    # kubectl apply -f DIR (and -R) only reads .json, .yaml and .yml files.
    assert not f"escrow/secret.yaml{ESCROW_SUFFIX}".endswith((".json", ".yaml", ".yml"))


def test_upstream_vector_keys_open_each_copy(run_kubecrypt, sealed_dir, tmp_path):
    """The same through kubecrypt's recovery path, with the upstream key backups as keys."""
    keys = sealed_dir / "keys"
    out = tmp_path / "o"
    result = run_kubecrypt("seal", "--output-dir", str(out), "-o", "json",
                           "--cert", f"a={keys / 'rsa2048-a.crt.pem'}",
                           "--cert", f"b={keys / 'rsa4096-b.crt.pem'}", input=SECRET)
    assert result.returncode == 0, result.stderr.decode()
    for name, backup, wrong in (("a", "backup-list.yaml", "backup-single.json"),
                                ("b", "backup-single.json", "backup-list.yaml")):
        data = (out / name / "sealedsecret.json").read_bytes()
        ok = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key",
                           str(sealed_dir / "fixtures" / backup), input=data)
        assert ok.returncode == 0, ok.stderr.decode()
        assert b'"password": "czNjcjN0"' in ok.stdout
        bad = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key",
                            str(sealed_dir / "fixtures" / wrong), input=data)
        assert bad.returncode == 1


def test_one_cert_keeps_stdout(run_kubecrypt, sealed_dir, tmp_path):
    result = run_kubecrypt("seal", "--cert", str(sealed_dir / "keys" / "rsa2048-a.crt.pem"),
                           input=SECRET, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(b'{\n  "kind": "SealedSecret"')
    assert list(tmp_path.iterdir()) == []


def _fails(result, message: str, out) -> None:
    assert result.returncode == 1, result.stderr.decode()
    assert result.stderr.decode() == f"error: {message}\n"
    assert not out.exists() or not any(out.rglob("*"))


def test_bad_input_writes_nothing(run_kubecrypt, sealed_dir, tmp_path):
    a, b = (str(sealed_dir / "keys" / f"{k}.crt.pem") for k in ("rsa2048-a", "rsa2048-b"))
    out = tmp_path / "out"
    _fails(run_kubecrypt("seal", "--cert", f"x={a}", "--cert", f"x={b}", "--output-dir",
                         str(out), input=SECRET),
           "two --cert options would both write to x/; give each a distinct NAME= prefix", out)
    _fails(run_kubecrypt("seal", "--cert", a, "--cert", b, input=SECRET),
           "sealing for several certificates (or with --escrow-cert) needs --output-dir DIR", out)
    _fails(run_kubecrypt("seal", "--cert", a, "--escrow-cert", b, input=SECRET),
           "sealing for several certificates (or with --escrow-cert) needs --output-dir DIR", out)
    _fails(run_kubecrypt("seal", "--cert", a, "--raw", "--output-dir", str(out), input=b"v"),
           "--output-dir seals Secrets only; drop --raw", out)
    _fails(run_kubecrypt("seal", "--cert", f"escrow={a}", "--output-dir", str(out), input=SECRET),
           "--cert escrow=...: 'escrow' is reserved for the escrow copy; choose another name", out)
    missing = str(tmp_path / "nope.pem")
    _fails(run_kubecrypt("seal", "--cert", a, "--cert", missing, "--output-dir", str(out),
                         input=SECRET),
           f"cannot read certificate {missing}: No such file or directory", out)
    # The second certificate is expired: the first cluster's file is not written either.
    expired = str(sealed_dir / "keys" / "rsa2048-expired.crt.pem")
    result = run_kubecrypt("seal", "--cert", a, "--cert", expired, "--output-dir", str(out),
                           input=SECRET)
    assert result.returncode == 1 and b"expired" in result.stderr
    assert not out.exists() or not any(out.rglob("*"))
