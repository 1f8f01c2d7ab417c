"""Certificate fetching, ``--validate`` and ``--re-encrypt`` through the API server's service
proxy, and ``--cert https://...``.

The server here is a small real HTTPS server on 127.0.0.1 that STANDS IN for the Kubernetes API
server (the lab API server comes in a later issue): it checks the bearer token or client
certificate, serves the controller Service and answers the controller's endpoints at the
service-proxy paths, unsealing with the test keys as the controller would."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.errors import UnsealError
from kubecrypt.sealed.keys import KeyRegistry, SealingKey, keys_from_file
from kubecrypt.sealed.seal import rotate_like_controller
from kubecrypt.sealed.unseal import unseal

TOKEN = "test-token-123"
SERVICE = "sealed-secrets-controller"
NAMESPACE = "kube-system"
PROXY = f"/api/v1/namespaces/{NAMESPACE}/services/http:{SERVICE}:http/proxy"
SECRET = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: n}\nstringData: {k: v}\n"


def _pem(obj: Any) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: str, key: Any, issuer: x509.Certificate | None, issuer_key: Any,
          ca: bool, san: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=1))
               .not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class FakeApiServer:
    url: str
    ca_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes
    controller_cert: bytes
    registry: KeyRegistry
    requests: list[tuple[str, str]] = field(default_factory=list)

    def kubeconfig(self, path: Path, auth: str = "token") -> Path:
        user: dict[str, Any] = {"token": TOKEN}
        if auth == "client-cert":
            user = {"client-certificate-data": base64.b64encode(self.client_cert_pem).decode(),
                    "client-key-data": base64.b64encode(self.client_key_pem).decode()}
        elif auth == "none":
            user = {}
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "lab",
            "clusters": [{"name": "lab", "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.ca_pem).decode()}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "u",
                                                      "namespace": "from-context"}}],
        }
        path.write_text(json.dumps(config))
        return path


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, vectors_dir: Path) -> Iterator[FakeApiServer]:
    sealed_dir = vectors_dir / "sealed"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-ca", ca_key, None, ca_key, True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    server_cert = _cert("127.0.0.1", server_key, ca, ca_key, False,
                        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _cert("kubecrypt-user", client_key, ca, ca_key, False)
    tmp = tmp_path_factory.mktemp("apiserver")
    (tmp / "server.crt").write_bytes(_pem(server_cert) + _pem(ca))
    (tmp / "server.key").write_bytes(_pem(server_key))
    (tmp / "ca.crt").write_bytes(_pem(ca))

    # The controller holds rsa2048-a (old) and rsa4096-a (newest, whose certificate it serves).
    keys: list[SealingKey] = []
    for key_id in ("rsa2048-a", "rsa4096-a"):
        keys += keys_from_file((sealed_dir / "keys" / f"{key_id}.key.pem").read_bytes(), key_id)
    registry = KeyRegistry(keys)
    controller_cert = (sealed_dir / "keys" / "rsa4096-a.crt.pem").read_bytes()
    newest_public = keys[1].private_key.public_key()
    state = FakeApiServer("", _pem(ca), _pem(client_cert), _pem(client_key), controller_cert,
                          registry)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return True
            assert isinstance(self.connection, ssl.SSLSocket)
            return bool(self.connection.getpeercert())

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _status(self, code: int, message: str) -> None:
            self._send(code, json.dumps({"kind": "Status", "apiVersion": "v1",
                                         "status": "Failure", "message": message,
                                         "code": code}).encode())

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            if self.path.startswith("/plain/"):  # a plain web server for --cert https://...
                if self.path == "/plain/cert.pem":
                    return self._send(200, controller_cert, "application/x-pem-file")
                return self._send(404, b"404 page not found\n", "text/plain")
            if not self._authorized():
                return self._status(401, "Unauthorized")
            if self.path == f"/api/v1/namespaces/{NAMESPACE}/services/{SERVICE}":
                return self._send(200, json.dumps({
                    "kind": "Service", "apiVersion": "v1",
                    "metadata": {"name": SERVICE, "namespace": NAMESPACE},
                    "spec": {"ports": [{"name": "http", "port": 8080}]}}).encode())
            if self.path == f"{PROXY}/v1/cert.pem":
                return self._send(200, controller_cert, "application/x-pem-file")
            if "/services/" in self.path and "/proxy/" not in self.path:
                name = self.path.rsplit("/", 1)[1]
                return self._status(404, f'services "{name}" not found')
            return self._status(404, "the server could not find the requested resource")

        def do_POST(self) -> None:
            state.requests.append(("POST", self.path))
            if not self._authorized():
                return self._status(401, "Unauthorized")
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sealed = json.loads(body)
            if self.path == f"{PROXY}/v1/verify":
                try:
                    unseal(sealed, registry)
                except UnsealError:
                    return self._send(409, b"")
                return self._send(200, b"")
            if self.path == f"{PROXY}/v1/rotate":
                try:
                    out = rotate_like_controller(sealed, registry, newest_public)
                except UnsealError as exc:
                    return self._send(500, str(exc).encode(), "text/plain")
                out.pop("kind"), out.pop("apiVersion")  # the controller's answer lacks them
                return self._send(200, json.dumps(out).encode())
            return self._status(404, "not found")

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp / "server.crt"), str(tmp / "server.key"))
    ctx.load_verify_locations(cadata=_pem(ca).decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_cert_through_service_proxy(api_server, run_kubecrypt, tmp_path):
    kubeconfig = api_server.kubeconfig(tmp_path / "kubeconfig")
    result = run_kubecrypt("seal", "--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == api_server.controller_cert
    assert ("GET", f"{PROXY}/v1/cert.pem") in api_server.requests


def test_fetch_cert_with_client_certificate(api_server, run_kubecrypt, tmp_path):
    kubeconfig = api_server.kubeconfig(tmp_path / "kubeconfig", auth="client-cert")
    result = run_kubecrypt("seal", "--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == api_server.controller_cert


def test_seal_without_cert_uses_the_controller(api_server, run_kubecrypt, tmp_path, sealed_dir):
    kubeconfig = api_server.kubeconfig(tmp_path / "kubeconfig")
    nons = b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n"
    result = run_kubecrypt("seal", "-o", "yaml", env={"KUBECONFIG": str(kubeconfig)}, input=nons)
    assert result.returncode == 0, result.stderr.decode()
    sealed = load_documents(result.stdout)[0]
    assert sealed["metadata"]["namespace"] == "from-context"
    only_newest = keys_from_file((sealed_dir / "keys" / "rsa4096-a.key.pem").read_bytes(), "k")
    assert unseal(sealed, KeyRegistry(only_newest))["data"] == {"k": "dg=="}


def test_wrong_controller_name(api_server, run_kubecrypt, tmp_path):
    kubeconfig = api_server.kubeconfig(tmp_path / "kubeconfig")
    result = run_kubecrypt("seal", "--kubeconfig", str(kubeconfig), "--controller-name",
                           "sealed-secrets", input=SECRET)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        'error: cannot get sealed secret service: services "sealed-secrets" not found.\n'
        "Please, use the flag --controller-name and --controller-namespace to set up the name "
        "and namespace of the sealed secrets controller\n")


def test_unauthorized(api_server, run_kubecrypt, tmp_path):
    """A user without credentials: the 401 names the user and context, not the Service."""
    kubeconfig = api_server.kubeconfig(tmp_path / "kubeconfig", auth="none")
    result = run_kubecrypt("seal", "--kubeconfig", str(kubeconfig), input=SECRET)
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        f"error: the API server {api_server.url} answered 401 Unauthorized: user \"u\" of "
        'context "lab" has no credentials (no token, tokenFile, client certificate, exec plugin '
        "or username); add one to the kubeconfig or pass --token\n")


def test_untrusted_server_certificate(api_server, run_kubecrypt, tmp_path):
    kubeconfig = api_server.kubeconfig(tmp_path / "kubeconfig")
    config = json.loads(kubeconfig.read_text())
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    kubeconfig.write_text(json.dumps(config))
    result = run_kubecrypt("seal", "--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        f"error: cannot verify the certificate of the API server {api_server.url} (self-signed "
        "certificate in certificate chain); give the cluster's CA (certificate-authority in the "
        "kubeconfig or --certificate-authority)\n")


def test_cert_https_url(api_server, run_kubecrypt, tmp_path):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(api_server.ca_pem)
    env = {"SSL_CERT_FILE": str(ca_file)}
    ok = run_kubecrypt("seal", "--cert", f"{api_server.url}/plain/cert.pem", env=env,
                       input=SECRET)
    assert ok.returncode == 0, ok.stderr.decode()
    url = f"{api_server.url}/plain/missing.pem"
    bad = run_kubecrypt("seal", "--cert", url, env=env, input=SECRET)
    assert bad.returncode == 1 and bad.stdout == b""
    assert bad.stderr.decode() == f'error: cannot fetch "{url}": 404 Not Found\n'


@pytest.mark.slow
def test_validate_and_reencrypt_via_controller(api_server, run_kubecrypt, tmp_path, sealed_dir):
    kubeconfig = str(api_server.kubeconfig(tmp_path / "kubeconfig"))
    old_cert = str(sealed_dir / "keys" / "rsa2048-a.crt.pem")
    sealed = run_kubecrypt("seal", "--cert", old_cert, input=SECRET).stdout
    valid = run_kubecrypt("seal", "--validate", "--kubeconfig", kubeconfig, input=sealed)
    assert (valid.returncode, valid.stdout, valid.stderr) == (0, b"", b"")

    foreign = run_kubecrypt("seal", "--cert", str(sealed_dir / "keys" / "rsa2048-b.crt.pem"),
                            input=SECRET).stdout
    invalid = run_kubecrypt("seal", "--validate", "--kubeconfig", kubeconfig, input=foreign)
    assert invalid.returncode == 1
    assert invalid.stderr.decode() == "error: unable to decrypt sealed secret: s\n"

    rotated = run_kubecrypt("seal", "--re-encrypt", "--kubeconfig", kubeconfig, input=sealed)
    assert rotated.returncode == 0, rotated.stderr.decode()
    doc = json.loads(rotated.stdout)
    assert doc["kind"] == "SealedSecret" and doc["apiVersion"] == "bitnami.com/v1alpha1"
    assert all(v.startswith("Ag") for v in doc["spec"]["encryptedData"].values())  # 4096-bit

    failed = run_kubecrypt("seal", "--re-encrypt", "--kubeconfig", kubeconfig, input=foreign)
    assert failed.returncode == 1
    assert failed.stderr.decode().startswith("error: cannot re-encrypt secret: ")


def test_offline_validate_with_keys(run_kubecrypt, sealed_dir):
    sealed = run_kubecrypt("seal", "--cert", str(sealed_dir / "keys" / "rsa2048-a.crt.pem"),
                           input=SECRET).stdout
    key_a = str(sealed_dir / "keys" / "rsa2048-a.key.pem")
    key_b = str(sealed_dir / "keys" / "rsa2048-b.key.pem")
    ok = run_kubecrypt("seal", "--validate", "--recovery-private-key", key_a, input=sealed)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, b"", b"")
    bad = run_kubecrypt("seal", "--validate", "--recovery-private-key", key_b, input=sealed)
    assert bad.returncode == 1
    assert bad.stderr.decode() == "error: unable to decrypt sealed secret: s\n"


def test_kubectl_flags_without_kubeconfig(api_server, run_kubecrypt, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(api_server.ca_pem)
    result = run_kubecrypt("seal", "--fetch-cert", "--server", api_server.url, "--token", TOKEN,
                           "--certificate-authority", str(ca))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == api_server.controller_cert


def test_tls_server_name(api_server, run_kubecrypt, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(api_server.ca_pem)
    by_name = api_server.url.replace("127.0.0.1", "localhost")  # not in the certificate
    args = ["seal", "--fetch-cert", "--server", by_name, "--token", TOKEN,
            "--certificate-authority", str(ca)]
    refused = run_kubecrypt(*args)
    assert refused.returncode == 1
    assert refused.stderr.decode() == (
        f"error: the certificate of the API server {by_name} is not valid for that name "
        "(Hostname mismatch, certificate is not valid for 'localhost'); use a name the "
        "certificate holds or --tls-server-name\n")
    accepted = run_kubecrypt(*args, "--tls-server-name", "127.0.0.1")
    assert accepted.returncode == 0, accepted.stderr.decode()
