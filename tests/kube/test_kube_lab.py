"""kubecrypt's one Kubernetes client against the lab: every kind of user reaches the API server
through ``kubecrypt seal --fetch-cert`` (the service proxy to the controller), through the
in-process clients (raw and lightkube), and through the Sealed Secrets controller itself; and
kubectl accepts the same kubeconfigs (the lab's client-certificate auth is real)."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube.conftest import KubeLab, kubecrypt_env
from lightkube.resources.core_v1 import Namespace

from kubecrypt.kube import (
    KubeApiError,
    KubeClient,
    KubeUnreachable,
    Overrides,
    fetch_cert,
    lightkube_client,
    load,
)
from kubecrypt.lab import processes


def seal(*args: str, env: dict[str, str] | None = None, input: bytes | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kubecrypt", "seal", *args], input=input,
                          capture_output=True, env=env or kubecrypt_env(), timeout=120,
                          check=False)


def runs(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture(scope="module")
def cert(klab: KubeLab) -> bytes:
    pem = klab.controller_cert()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    return pem


# --- exec plugins ----------------------------------------------------------------------------

def test_exec_plugin_fetch_cert(klab: KubeLab, cert: bytes, tmp_path: Path) -> None:
    user, log = klab.plugin(tmp_path / "plugin", [klab.token])
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"eks": user})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert
    (run,) = runs(log)  # one run serves the Service lookup and the proxy call
    assert run["info"]["apiVersion"] == "client.authentication.k8s.io/v1"
    assert run["info"]["spec"]["interactive"] is False
    assert run["info"]["spec"]["cluster"]["server"] == klab.lab.server  # provideClusterInfo
    assert run["info"]["spec"]["cluster"]["certificate-authority-data"]


def test_exec_plugin_v1beta1_and_kubectl_agree(klab: KubeLab, cert: bytes, tmp_path: Path
                                               ) -> None:
    user, log = klab.plugin(tmp_path / "plugin", [klab.token],
                            api="client.authentication.k8s.io/v1beta1", interactive_mode=None)
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"gke": user})
    assert seal("--fetch-cert", "--kubeconfig", str(kubeconfig)).stdout == cert
    kubectl = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "ns", "default",
                              "-o", "name"], capture_output=True, text=True, timeout=60,
                             check=False)
    assert kubectl.stdout.strip() == "namespace/default", kubectl.stderr
    assert len(runs(log)) == 2  # ours and kubectl's


def test_exec_plugin_runs_again_after_401(klab: KubeLab, cert: bytes, tmp_path: Path) -> None:
    user, log = klab.plugin(tmp_path / "plugin", ["expired-token", klab.token])
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"u": user})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert
    assert len(runs(log)) == 2


def test_exec_plugin_expiry_is_honoured(klab: KubeLab, tmp_path: Path) -> None:
    lasting, lasting_log = klab.plugin(tmp_path / "a", [klab.token], expiry=3600)
    expiring, expiring_log = klab.plugin(tmp_path / "b", [klab.token], expiry=1)
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"lasting": lasting, "expiring": expiring})
    for context in ("lasting", "expiring"):
        with KubeClient.connect(Overrides(kubeconfig=str(kubeconfig), context=context)) as c:
            for _ in range(3):
                assert c.request("GET", "/api/v1/namespaces/default")[0] == 200
    assert len(runs(lasting_log)) == 1
    assert len(runs(expiring_log)) == 3  # within the expiry skew: a new credential each time


def test_exec_plugin_with_lightkube(klab: KubeLab, tmp_path: Path) -> None:
    user, log = klab.plugin(tmp_path / "plugin", [klab.token])
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"u": user})
    client = lightkube_client(load(Overrides(kubeconfig=str(kubeconfig))))
    try:
        assert client.get(Namespace, "kube-system").metadata.name == "kube-system"
    finally:
        client.close()
    assert len(runs(log)) == 1


def test_exec_plugin_failure_is_one_sentence(klab: KubeLab, tmp_path: Path) -> None:
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "false",
                     "interactiveMode": "Never"}}
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"u": user})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        f'error: the exec plugin false (user "u" in kubeconfig {kubeconfig}) failed with exit '
        "code 1; see its message above\n")


# --- client certificates, tokenFile, contexts ----------------------------------------------

def test_client_certificate_data(klab: KubeLab, cert: bytes, tmp_path: Path) -> None:
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"alice": klab.client_cert_user()})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert
    kubectl = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "ns",
                              "default", "-o", "name"], capture_output=True, text=True,
                             timeout=60, check=False)
    assert kubectl.stdout.strip() == "namespace/default", kubectl.stderr


def test_client_certificate_files_relative_to_kubeconfig(klab: KubeLab, cert: bytes,
                                                         tmp_path: Path) -> None:
    import base64

    data = klab.client_cert_user("bob")
    certs = tmp_path / "kube" / "certs"
    certs.mkdir(parents=True)
    (certs / "bob.crt").write_bytes(base64.b64decode(data["client-certificate-data"]))
    (certs / "bob.key").write_bytes(base64.b64decode(data["client-key-data"]))
    kubeconfig = klab.kubeconfig(tmp_path / "kube" / "config", {"bob": {
        "client-certificate": "certs/bob.crt", "client-key": "certs/bob.key"}})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig), env=kubecrypt_env())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert


def test_client_certificate_from_another_ca_is_refused(klab: KubeLab, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from kubecrypt.lab.apiserver.certs import ensure_pki, issue_client_cert

    other = tmp_path / "other-pki"
    ensure_pki(other)
    crt, key = issue_client_cert(other, "mallory", ("system:masters",))
    assert isinstance(x509.load_pem_x509_certificate(crt).public_key(), ec.EllipticCurvePublicKey)
    import base64

    kubeconfig = klab.kubeconfig(tmp_path / "config", {"mallory": {
        "client-certificate-data": base64.b64encode(crt).decode(),
        "client-key-data": base64.b64encode(key).decode()}})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 1 and result.stdout == b""
    err = result.stderr.decode()
    assert err == (f"error: the API server {klab.lab.server} hung up without an answer: it does "
                   'not accept the client certificate of user "mallory" of context "mallory"; '
                   "check that the cluster's client CA issued it and that it has not expired\n")


def test_token_file_user(klab: KubeLab, cert: bytes, tmp_path: Path) -> None:
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "lab").write_text(klab.token + "\n")
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"u": {"tokenFile": "tokens/lab"}})
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert


def test_second_context_and_merged_kubeconfigs(klab: KubeLab, cert: bytes, tmp_path: Path
                                               ) -> None:
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"nobody": {}, "admin": {
        "token": klab.token}})
    assert seal("--fetch-cert", "--kubeconfig", str(kubeconfig)).returncode == 1
    picked = seal("--fetch-cert", "--kubeconfig", str(kubeconfig), "--context", "admin")
    assert picked.returncode == 0, picked.stderr.decode()
    assert picked.stdout == cert
    # $KUBECONFIG with two files: contexts and clusters in one, the users in the other; the
    # first file's current-context wins over the second's.
    doc = yaml.safe_load(kubeconfig.read_text())
    users = {"apiVersion": "v1", "kind": "Config", "current-context": "nobody",
             "users": doc.pop("users"), "clusters": [], "contexts": []}
    doc["current-context"] = "admin"
    (tmp_path / "a").write_text(yaml.safe_dump(doc))
    (tmp_path / "b").write_text(yaml.safe_dump(users))
    env = kubecrypt_env(KUBECONFIG=f"{tmp_path / 'a'}:{tmp_path / 'missing'}:{tmp_path / 'b'}")
    merged = seal("--fetch-cert", env=env)
    assert merged.returncode == 0, merged.stderr.decode()
    assert merged.stdout == cert


def test_user_without_credentials_gets_a_clear_401(klab: KubeLab, tmp_path: Path) -> None:
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"admin": {"token": klab.token},
                                                       "nobody": {}}, current="nobody")
    result = seal("--kubeconfig", str(kubeconfig), input=b"kind: Secret\napiVersion: v1\n"
                  b"metadata: {name: s}\nstringData: {a: b}\n")
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode() == (
        f"error: the API server {klab.lab.server} answered 401 Unauthorized: user \"nobody\" of "
        'context "nobody" has no credentials (no token, tokenFile, client certificate, exec '
        "plugin or username); add one to the kubeconfig or pass --token\n")
    wrong = seal("--fetch-cert", "--kubeconfig", str(kubeconfig), "--context", "admin",
                 "--token", "not-the-token")
    assert wrong.stderr.decode() == (
        f"error: the API server {klab.lab.server} rejected the credentials of user \"admin\" of "
        'context "admin" (401 Unauthorized); renew them (log in again) or fix the user in the '
        "kubeconfig\n")


def test_unreachable_server_and_wrong_ca(klab: KubeLab, tmp_path: Path) -> None:
    port = processes.free_port()
    down = seal("--fetch-cert", "--server", f"https://127.0.0.1:{port}", "--token", "t",
                "--insecure-skip-tls-verify")
    assert down.returncode == 1 and down.stderr.decode().startswith(
        f"error: cannot connect to the API server https://127.0.0.1:{port} (")
    assert down.stderr.decode().count("\n") == 1
    other = tmp_path / "other-pki"
    from kubecrypt.lab.apiserver.certs import ensure_pki

    ca, _, _ = ensure_pki(other)
    wrong_ca = seal("--fetch-cert", "--server", klab.lab.server, "--token", klab.token,
                    "--certificate-authority", str(ca))
    assert wrong_ca.returncode == 1
    assert wrong_ca.stderr.decode().startswith(
        f"error: cannot verify the certificate of the API server {klab.lab.server} (")


# --- in-cluster -----------------------------------------------------------------------------

def test_in_cluster_fetch_cert_and_namespace(klab: KubeLab, cert: bytes, tmp_path: Path) -> None:
    env = klab.in_cluster_env(klab.service_account(tmp_path / "sa"), tmp_path / "home")
    result = seal("--fetch-cert", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert
    # Sealing a Secret without a namespace: the service account's namespace, as kubeseal.
    sealed = seal("-o", "json", env=env, input=b"apiVersion: v1\nkind: Secret\n"
                  b"metadata: {name: s}\nstringData: {a: b}\n")
    assert sealed.returncode == 0, sealed.stderr.decode()
    assert json.loads(sealed.stdout)["metadata"]["namespace"] == "from-service-account"


def test_in_cluster_token_is_reread(klab: KubeLab, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The kubelet rotates the token file: a 401 makes the client read it again."""
    sa = klab.service_account(tmp_path / "sa")
    (sa / "token").write_text("stale-token")
    for key, value in klab.in_cluster_env(sa, tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    client = KubeClient.connect()
    assert client.config.namespace == "from-service-account"
    with pytest.raises(KubeApiError) as err:
        client.request("GET", "/api/v1/namespaces/default")
    assert err.value.status == 401
    (sa / "token").write_text(klab.token)
    assert client.request("GET", "/api/v1/namespaces/default")[0] == 200
    assert fetch_cert(client, "kube-system", "sealed-secrets-controller").startswith(b"-----")


# --- proxies --------------------------------------------------------------------------------

@pytest.fixture
def connect_proxy() -> Iterator[tuple[str, list[str]]]:
    """A minimal HTTP CONNECT proxy on 127.0.0.1; yields its URL and the targets it tunnelled."""
    server = socket.create_server(("127.0.0.1", 0))
    targets: list[str] = []
    stop = threading.Event()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with a, b:
            while not stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            target = head.split(b" ")[1].decode()
            targets.append(target)
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", targets
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_proxy_url(klab: KubeLab, cert: bytes, tmp_path: Path,
                   connect_proxy: tuple[str, list[str]]) -> None:
    url, targets = connect_proxy
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"admin": {"token": klab.token}})
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["proxy-url"] = url
    kubeconfig.write_text(yaml.safe_dump(doc))
    result = seal("--fetch-cert", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == cert
    assert targets and set(targets) == {f"127.0.0.1:{klab.lab.port}"}
    # Without proxy-url, a loopback server is never proxied (as Go's ProxyFromEnvironment),
    # even with HTTPS_PROXY set.
    targets.clear()
    doc["clusters"][0]["cluster"].pop("proxy-url")
    kubeconfig.write_text(yaml.safe_dump(doc))
    env = kubecrypt_env(HTTPS_PROXY=url, https_proxy=url)
    assert seal("--fetch-cert", "--kubeconfig", str(kubeconfig), env=env).stdout == cert
    assert targets == []


# --- the controller -------------------------------------------------------------------------

def _start_controller(klab: KubeLab, tmp_path: Path, namespace: str, env: dict[str, str],
                      *args: str) -> None:
    subprocess.run(["kubectl", "--kubeconfig", str(klab.lab.kubeconfig), "create", "namespace",
                    namespace], capture_output=True, check=True, timeout=60)
    port, metrics = processes.free_port(), processes.free_port()
    log = tmp_path / f"controller-{namespace}.log"
    argv = [sys.executable, "-m", "kubecrypt", "sealed", "controller", "--namespace", namespace,
            "--listen-addr", f"127.0.0.1:{port}", "--listen-metrics-addr",
            f"127.0.0.1:{metrics}", "--key-size", "2048", "--label-selector", "none-of-mine",
            *args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        import time

        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/cert.pem",
                                            timeout=2) as r:
                    if r.status == 200 and r.read().startswith(b"-----BEGIN CERTIFICATE"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # The key the controller serves was written through the API server as a Secret.
        secrets = subprocess.run(
            ["kubectl", "--kubeconfig", str(klab.lab.kubeconfig), "get", "secrets", "-n",
             namespace, "-l", "sealedsecrets.bitnami.com/sealed-secrets-key", "-o", "name"],
            capture_output=True, text=True, check=True, timeout=60)
        assert secrets.stdout.strip(), log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_controller_with_exec_plugin(klab: KubeLab, tmp_path: Path) -> None:
    user, log = klab.plugin(tmp_path / "plugin", [klab.token])
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"u": user})
    _start_controller(klab, tmp_path, "ctl-exec", kubecrypt_env(), "--kubeconfig",
                      str(kubeconfig))
    assert runs(log)


@pytest.mark.slow
def test_controller_with_token_file(klab: KubeLab, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(klab.token)
    kubeconfig = klab.kubeconfig(tmp_path / "config", {"u": {"tokenFile": "token"}})
    _start_controller(klab, tmp_path, "ctl-tokenfile", kubecrypt_env(KUBECONFIG=str(kubeconfig)))


@pytest.mark.slow
def test_controller_in_cluster(klab: KubeLab, tmp_path: Path) -> None:
    env = klab.in_cluster_env(klab.service_account(tmp_path / "sa"), tmp_path / "home")
    _start_controller(klab, tmp_path, "ctl-incluster", env)


def test_unreachable_is_not_an_api_error(tmp_path: Path) -> None:
    port = processes.free_port()
    client = KubeClient(load(Overrides(server=f"https://127.0.0.1:{port}", token="t",
                                       insecure_skip_tls_verify=True)))
    with pytest.raises(KubeUnreachable):
        client.request("GET", "/version")
