"""Resolving a connection without a server: kubeconfig merging and relative paths, kubectl's
override flags, exec plugin configuration and failures, in-cluster config, impersonation
headers and the proxy choice. Each problem is one sentence."""

from __future__ import annotations

import base64
import stat
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from kubecrypt.kube import CredentialError, KubeConfigError, Overrides, load
from kubecrypt.kube.credentials import Credentials
from kubecrypt.kube.incluster import in_cluster_config
from kubecrypt.kube.transport import KubeTransport, proxy_for

CA = b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"


def write(path: Path, users: dict[str, dict[str, Any]], current: str | None = None,
          cluster: dict[str, Any] | None = None, **extra: Any) -> Path:
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://k8s.example:6443"}}],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": n, "namespace": f"ns-{n}"}}
                     for n in users],
        **extra,
    }
    if current or users:
        doc["current-context"] = current or next(iter(users))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
                "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_context_user_and_namespace(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"a": {"token": "ta"}, "b": {"token": "tb"}})
    cfg = load(Overrides(kubeconfig=str(path)))
    assert (cfg.context_name, cfg.user_name, cfg.namespace, cfg.token) == ("a", "a", "ns-a", "ta")
    cfg = load(Overrides(kubeconfig=str(path), context="b", namespace="mine"))
    assert (cfg.user_name, cfg.namespace, cfg.token) == ("b", "mine", "tb")
    cfg = load(Overrides(kubeconfig=str(path), user="b"))
    assert (cfg.context_name, cfg.user_name) == ("a", "b")


def test_missing_context_and_file_are_one_sentence(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"a": {"token": "t"}})
    with pytest.raises(KubeConfigError, match=r'^context "x" not found in kubeconfig .*; pick one '
                       r"of: a$"):
        load(Overrides(kubeconfig=str(path), context="x"))
    with pytest.raises(KubeConfigError, match=r"does not exist; fix --kubeconfig$"):
        load(Overrides(kubeconfig=str(tmp_path / "nope")))
    (tmp_path / "bad").write_text("clusters: [\n")
    with pytest.raises(KubeConfigError, match="bad line 2: not valid YAML"):
        load(Overrides(kubeconfig=str(tmp_path / "bad")))
    with pytest.raises(KubeConfigError, match="no kubeconfig found"):
        load()


def test_kubeconfig_env_merges_first_wins_and_paths_stay_relative(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one" / "ca.crt").parent.mkdir()
    (tmp_path / "one" / "ca.crt").write_bytes(CA)
    first = write(tmp_path / "one" / "config", {"a": {"tokenFile": "tok"}}, current="a",
                  cluster={"server": "https://first", "certificate-authority": "ca.crt"})
    second = write(tmp_path / "two" / "config", {"a": {"token": "second"}, "b": {}},
                   current="b", cluster={"server": "https://second"})
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'absent'}:{second}")
    cfg = load()
    assert cfg.server == "https://first" and cfg.context_name == "a"
    assert cfg.ca_pem == CA
    assert cfg.token_file == tmp_path / "one" / "tok" and cfg.token is None
    assert load(Overrides(context="b")).user_name == "b"  # only the second file has it


def test_data_fields_win_over_files(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"a": {}}, cluster={
        "server": "https://x", "certificate-authority": "/does/not/exist",
        "certificate-authority-data": base64.b64encode(CA).decode()})
    assert load(Overrides(kubeconfig=str(path))).ca_pem == CA


def test_overrides_replace_the_users_credentials(tmp_path: Path) -> None:
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                          "command": "plugin"}}
    path = write(tmp_path / "config", {"a": exec_user}, cluster={
        "server": "https://x", "certificate-authority-data": base64.b64encode(CA).decode()})
    cfg = load(Overrides(kubeconfig=str(path), token="flag", server="https://y/",
                         insecure_skip_tls_verify=True))
    assert (cfg.token, cfg.exec, cfg.server, cfg.insecure, cfg.ca_pem) == (
        "flag", None, "https://y", True, None)
    basic = load(Overrides(kubeconfig=str(path), username="u", password="p"))
    assert basic.exec is None and (basic.username, basic.password) == ("u", "p")
    assert Credentials(basic).current().authorization == "Basic " + base64.b64encode(
        b"u:p").decode()
    with pytest.raises(KubeConfigError, match="--as-group and --as-uid need --as"):
        load(Overrides(kubeconfig=str(path), impersonate_groups=("g",)))


def test_insecure_with_a_ca_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"a": {}}, cluster={
        "server": "https://x", "insecure-skip-tls-verify": True,
        "certificate-authority-data": base64.b64encode(CA).decode()})
    with pytest.raises(KubeConfigError, match="cannot both be set"):
        load(Overrides(kubeconfig=str(path)))


def test_auth_provider_points_to_exec_plugins(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"gke": {"auth-provider": {"name": "gcp"}}})
    with pytest.raises(KubeConfigError, match=r'auth-provider "gcp".*gke-gcloud-auth-plugin'):
        load(Overrides(kubeconfig=str(path)))


@pytest.mark.parametrize(("exec_entry", "message"), [
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "p"},
     "interactiveMode must be set"),
    ({"apiVersion": "client.authentication.k8s.io/v2", "command": "p",
      "interactiveMode": "Never"}, "is not one of"),
    ({"apiVersion": "client.authentication.k8s.io/v1", "command": "p",
      "interactiveMode": "Sometimes"}, "interactiveMode 'Sometimes' is not one of"),
    ({"apiVersion": "client.authentication.k8s.io/v1"}, "missing required field `command`"),
], ids=["v1-without-mode", "unknown-version", "unknown-mode", "no-command"])
def test_bad_exec_entries(tmp_path: Path, exec_entry: dict[str, Any], message: str) -> None:
    path = write(tmp_path / "config", {"a": {"exec": exec_entry}})
    with pytest.raises(KubeConfigError, match=message):
        load(Overrides(kubeconfig=str(path)))


def _plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "plugin"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!{sys.executable}\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_exec_command_relative_to_kubeconfig_and_install_hint(tmp_path: Path) -> None:
    _plugin(tmp_path, 'print(\'{"apiVersion": "client.authentication.k8s.io/v1", "kind": '
            '"ExecCredential", "status": {"token": "from-plugin"}}\')')
    path = write(tmp_path / "config", {
        "rel": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                         "command": "./bin/plugin", "interactiveMode": "Never"}},
        "gone": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                          "command": "no-such-plugin-kubecrypt", "interactiveMode": "Never",
                          "installHint": "install it with: brew install it"}}})
    rel = load(Overrides(kubeconfig=str(path), context="rel"))
    assert rel.exec is not None and rel.exec.command == str(tmp_path / "./bin/plugin")
    assert Credentials(rel).current().authorization == "Bearer from-plugin"
    gone = load(Overrides(kubeconfig=str(path), context="gone"))
    with pytest.raises(CredentialError, match=r"no-such-plugin-kubecrypt .* is not installed or "
                       r"not on PATH; install it with: brew install it$"):
        Credentials(gone).current()


@pytest.mark.parametrize(("output", "message"), [
    ("not json", r"\(its output line 1: not valid JSON"),
    ("[" * 200 + "]" * 200, "nesting is deeper than 100 levels"),
    ('{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", '
     '"status": {"token": "t"}}', "apiVersion 'client.authentication.k8s.io/v1beta1'"),
    ('{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
     '"status": {}}', "neither a token nor a client certificate"),
    ('{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
     '"status": {"token": "t", "expirationTimestamp": "soon"}}', "not RFC 3339"),
], ids=["not-json", "too-deep", "wrong-version", "empty-status", "bad-expiry"])
def test_bad_plugin_output(tmp_path: Path, output: str, message: str) -> None:
    script = _plugin(tmp_path, f"print({output!r})")
    path = write(tmp_path / "config", {"a": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
        "interactiveMode": "Never"}}})
    with pytest.raises(CredentialError, match=message):
        Credentials(load(Overrides(kubeconfig=str(path)))).current()


def test_interactive_always_needs_a_terminal(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"a": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "true",
        "interactiveMode": "Always"}}})
    with pytest.raises(CredentialError, match=r"needs an interactive terminal \(interactiveMode: "
                       "Always\\)"):
        Credentials(load(Overrides(kubeconfig=str(path)))).current()


def test_exec_client_certificate(tmp_path: Path) -> None:
    script = _plugin(tmp_path, 'print(\'{"apiVersion": "client.authentication.k8s.io/v1", '
                     '"kind": "ExecCredential", "status": {"clientCertificateData": "C", '
                     '"clientKeyData": "K"}}\')')
    path = write(tmp_path / "config", {"a": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": str(script),
        "interactiveMode": "IfAvailable"}}})
    cred = Credentials(load(Overrides(kubeconfig=str(path)))).current()
    assert cred.authorization is None and cred.client_cert == (b"C", b"K")


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    monkeypatch.setenv("KUBECRYPT_SERVICEACCOUNT_DIR", str(sa))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(KubeConfigError, match=r"service account token .* is missing"):
        load()
    (sa / "token").write_text("tok\n")
    (sa / "ca.crt").write_bytes(CA)
    cfg = load()  # no kubeconfig anywhere: the in-cluster config, as kubectl falls back
    assert (cfg.server, cfg.namespace, cfg.token_file, cfg.ca_pem) == (
        "https://[fd00::1]:443", "default", sa / "token", CA)
    (sa / "namespace").write_text("team")
    assert in_cluster_config().namespace == "team"
    assert Credentials(cfg).current().authorization == "Bearer tok"
    # A kubeconfig, when there is one, wins over the in-cluster config.
    path = write(tmp_path / "config", {"a": {"token": "t"}})
    assert load(Overrides(kubeconfig=str(path))).server == "https://k8s.example:6443"


def test_impersonation_and_compression_headers(tmp_path: Path) -> None:
    path = write(tmp_path / "config", {"a": {"token": "t", "as": "jane", "as-groups": ["g1"],
                                             "as-user-extra": {"scopes": ["s"]}}})
    cfg = load(Overrides(kubeconfig=str(path), impersonate_groups=("g1", "g2"),
                         impersonate_uid="42", disable_compression=True))
    transport = KubeTransport(cfg)
    request = httpx2.Request("GET", "https://k8s.example:6443/api")
    transport._decorate(request, transport.credentials.current())
    assert request.headers.get_list("Impersonate-Group") == ["g1", "g2"]
    assert request.headers["Impersonate-User"] == "jane"
    assert request.headers["Impersonate-Uid"] == "42"
    assert request.headers["Impersonate-Extra-scopes"] == "s"
    assert request.headers["Accept-Encoding"] == "identity"
    assert request.headers["Authorization"] == "Bearer t"
    transport._decorate(request, transport.credentials.current())  # a retry adds nothing
    assert request.headers.get_list("Impersonate-Group") == ["g1", "g2"]


def test_proxy_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "config", {"a": {}},
                 cluster={"server": "https://k8s.example:6443", "proxy-url": "http://p:3128"})
    assert proxy_for(load(Overrides(kubeconfig=str(path)))) == "http://p:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://env:3128")
    remote = load(Overrides(server="https://k8s.example:6443"))
    assert proxy_for(remote) == "http://env:3128"
    for local in ("https://127.0.0.1:6443", "https://localhost:6443", "https://[::1]:6443"):
        assert proxy_for(load(Overrides(server=local))) is None
    monkeypatch.setenv("NO_PROXY", ".example")
    assert proxy_for(remote) is None
