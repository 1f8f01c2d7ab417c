"""Bad input: one clear sentence on stderr, exit 1, nothing on stdout, no file half-written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubecrypt.sealed.seal import ERR_EMPTY_DATA, ERR_NO_SECRETS

SECRET = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: n\ndata:\n  k: dg==\n"


@pytest.fixture
def cert(sealed_dir: Path) -> str:
    return str(sealed_dir / "keys" / "rsa2048-a.crt.pem")


def _fails(result, message: str | None = None, startswith: str | None = None) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert result.stdout == b""
    assert err.count("\n") == message.count("\n") + 1 if message else err.count("\n") >= 1
    assert "Traceback" not in err
    if message is not None:
        assert err == f"error: {message}\n"
    if startswith is not None:
        assert err.startswith(f"error: {startswith}"), err
    return err


def test_not_a_secret(run_kubecrypt, cert):
    cm = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    _fails(run_kubecrypt("seal", "--cert", cert, input=cm),
           "document 1 of input (ConfigMap c) is a ConfigMap, not a v1 Secret; "
           "only Secrets can be sealed")


def test_mixed_kinds_in_one_stream(run_kubecrypt, cert):
    cm = b"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    _fails(run_kubecrypt("seal", "--cert", cert, input=SECRET + cm),
           startswith="document 2 of input (ConfigMap c) is a ConfigMap")


def test_mixed_json_then_yaml(run_kubecrypt, cert):
    doc = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"},
                      "data": {"k": "dg=="}}).encode()
    _fails(run_kubecrypt("seal", "--cert", cert, input=doc + b"\n---\n" + SECRET),
           startswith="input mixes JSON and YAML documents")


def test_no_data(run_kubecrypt, cert):
    empty = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\n"
    _fails(run_kubecrypt("seal", "--cert", cert, input=empty), ERR_EMPTY_DATA)


def test_no_documents(run_kubecrypt, cert):
    _fails(run_kubecrypt("seal", "--cert", cert, input=b"---\n"), ERR_NO_SECRETS)


def test_bad_yaml(run_kubecrypt, cert):
    _fails(run_kubecrypt("seal", "--cert", cert, input=b"kind: Secret\n  bad: [\n"),
           "input line 2: not valid YAML: mapping values are not allowed in this context")


def test_bad_base64_in_data(run_kubecrypt, cert):
    bad = SECRET.replace(b"dg==", b"d*g=")
    _fails(run_kubecrypt("seal", "--cert", cert, input=bad),
           "data['k'] of document 1 of input (Secret s) is not base64: "
           "illegal base64 data at input byte 1")


def test_not_rsa_certificate(run_kubecrypt, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "ec")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    path = tmp_path / "ec.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _fails(run_kubecrypt("seal", "--cert", str(path), input=SECRET),
           startswith="expected RSA public key but found an EC key")


def test_not_a_certificate(run_kubecrypt, tmp_path):
    path = tmp_path / "junk.pem"
    path.write_text("hello\n")
    _fails(run_kubecrypt("seal", "--cert", str(path), input=SECRET),
           startswith="failed to read any certificates")


def test_url_that_fails(run_kubecrypt, free_port):
    url = f"http://127.0.0.1:{free_port()}/v1/cert.pem"
    _fails(run_kubecrypt("seal", "--cert", url, input=SECRET),
           startswith=f'cannot fetch "{url}": ')


def test_missing_cert_file(run_kubecrypt, tmp_path):
    _fails(run_kubecrypt("seal", "--cert", str(tmp_path / "nope.pem"), input=SECRET),
           startswith="cannot read certificate")


def test_flag_errors(run_kubecrypt, cert):
    _fails(run_kubecrypt("seal", "--cert", cert, "--scope", "global", input=SECRET),
           "must be one of: strict, namespace-wide, cluster-wide")
    _fails(run_kubecrypt("seal", "--cert", cert, "-o", "toml", input=SECRET),
           "unsupported output format: toml")
    _fails(run_kubecrypt("seal", "--cert", cert, "--from-file", "x", input=SECRET),
           "--from-file requires --raw")
    _fails(run_kubecrypt("seal", "--cert", cert, "--raw", "--namespace", "n", input=b"v"),
           "must provide the --name flag with --raw and --scope strict")


def test_namespace_mismatch_and_defaults(run_kubecrypt, cert, tmp_path):
    nons = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n"
    out = run_kubecrypt("seal", "--cert", cert, "-n", "given", "-o", "json", input=nons)
    assert json.loads(out.stdout)["metadata"]["namespace"] == "given"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n"
        "- name: c\n  context: {cluster: k, user: u, namespace: ctx-ns}\n"
        "clusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n"
        "  user: {}\n")
    out = run_kubecrypt("seal", "--cert", cert, "--kubeconfig", str(kubeconfig), input=nons)
    assert json.loads(out.stdout)["metadata"]["namespace"] == "ctx-ns"


def test_multi_document_in_order(run_kubecrypt, cert):
    two = SECRET + b"---\n" + SECRET.replace(b"name: s", b"name: t")
    out = run_kubecrypt("seal", "--cert", cert, "-o", "yaml", input=two)
    assert out.returncode == 0
    text = out.stdout.decode()
    assert text.count("---\n") == 2 and text.index("name: s") < text.index("name: t")


def test_output_file_only_on_success(run_kubecrypt, cert, tmp_path):
    target = tmp_path / "out.yaml"
    result = run_kubecrypt("seal", "--cert", cert, "-w", str(target), input=b"kind: Nope\n")
    assert result.returncode == 1 and not target.exists()
    assert list(tmp_path.iterdir()) == []
    result = run_kubecrypt("seal", "--cert", cert, "-w", str(target), input=SECRET)
    assert result.returncode == 0 and target.read_text().startswith("---\napiVersion:")


EXISTING = """apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: mysecret
  namespace: myns
spec:
  encryptedData: {}
"""


def test_merge_into_creates_maps_and_keeps_mode(run_kubecrypt, cert, sealed_dir, tmp_path):
    target = tmp_path / "ss.yaml"
    target.write_text(EXISTING)
    target.chmod(0o640)
    secret = (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  labels: {app: a}\n"
              b"  annotations: {team: t}\nstringData: {k: v}\n")
    result = run_kubecrypt("seal", "--cert", cert, "--merge-into", str(target), input=secret)
    assert result.returncode == 0, result.stderr.decode()
    from kubecrypt.sealed.documents import load_documents

    merged = load_documents(target.read_bytes())[0]
    assert merged["spec"]["template"]["metadata"]["labels"] == {"app": "a"}
    assert merged["spec"]["template"]["metadata"]["annotations"] == {"team": "t"}
    assert list(merged["spec"]["encryptedData"]) == ["k"]
    assert target.stat().st_mode & 0o777 == 0o640
    key = str(sealed_dir / "keys" / "rsa2048-a.key.pem")
    opened = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key", key,
                           input=target.read_bytes())
    assert opened.returncode == 0, opened.stderr.decode()
    assert json.loads(opened.stdout)["data"] == {"k": "dg=="}


def test_merge_into_untouched_on_error(run_kubecrypt, cert, tmp_path):
    target = tmp_path / "ss.yaml"
    target.write_text(EXISTING)
    before = target.read_bytes()
    _fails(run_kubecrypt("seal", "--cert", cert, "--merge-into", str(target), input=b"kind: X\n"),
           startswith="document 1 of input")
    nswide = SECRET.replace(b"  name: s\n", b"  name: s\n  annotations:\n"
                            b"    sealedsecrets.bitnami.com/namespace-wide: 'true'\n")
    _fails(run_kubecrypt("seal", "--cert", cert, "--merge-into", str(target), input=nswide),
           startswith="the --merge-into file is strict but document 1 of input asks for "
                      "namespace-wide")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ss.yaml"]


def test_merge_into_missing_file(run_kubecrypt, cert, tmp_path):
    _fails(run_kubecrypt("seal", "--cert", cert, "--merge-into", str(tmp_path / "no.yaml"),
                         input=SECRET), startswith="cannot read --merge-into file")
