"""End to end on the lab: OpenBao's Kubernetes auth configured against the lab (TokenReview with
a reviewer token, the lab's CA), a real ``kubecrypt csi serve`` and ``kubecrypt csi mount``
doing the driver's part for a Pod, the synced Secret and the SecretProviderClassPodStatus read
back with the real kubectl; rotation; another ServiceAccount denied; a SOPS file in a ConfigMap
mounted as plaintext with no Secret created; deploy/csi-provider applied."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# The lab's ServiceAccounts, TokenRequest, TokenReview, Pods and CRDs (branch lab16).
pytest.importorskip("kubecrypt.lab.apiserver.kinds.crd",
                    reason="needs the lab's ServiceAccounts/TokenRequest/TokenReview/Pods/CRDs")

from kubecrypt.lab import up as lab_up

from .conftest import kubecrypt_argv, short_tmpdir, wait_for_socket

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
NS = "csi-e2e"


class Lab:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.lab = lab_up.up(directory, encryption="aesgcm")
        self.env = {**os.environ, "KUBECONFIG": str(self.lab.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True,
                           env=self.env, timeout=60, check=False)
        if check:
            assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
        return p

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("csilab") / "lab"
    handle = Lab(directory)
    try:
        yield handle
    finally:
        lab_up.down(directory, purge=True)


@pytest.fixture(scope="module")
def cluster(lab: Lab, bao: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    lab.kubectl("apply", "-f", str(REPO / "deploy" / "csi-provider" / "crds.yaml"))
    lab.kubectl("create", "ns", NS)
    for sa in ("reviewer", "app", "other"):
        lab.kubectl("create", "sa", sa, "-n", NS)
    lab.kubectl("create", "clusterrolebinding", "csi-e2e-reviewer",
                "--clusterrole=system:auth-delegator", f"--serviceaccount={NS}:reviewer")
    reviewer = lab.kubectl("create", "token", "reviewer", "-n", NS, "--duration", "2h").stdout
    root = bao.root()
    root.sys.enable_auth_method("kubernetes", path="kubernetes")
    root.write("auth/kubernetes/config", kubernetes_host=lab.lab.server,
               kubernetes_ca_cert=(lab.dir / "pki" / "ca.crt").read_text(),
               disable_local_ca_jwt=True, token_reviewer_jwt=reviewer)
    root.write("auth/kubernetes/role/app", bound_service_account_names=["app"],
               bound_service_account_namespaces=[NS], audience="vault", token_policies=["app"],
               token_ttl="10m")
    root.secrets.kv.v2.create_or_update_secret(path="app/e2e", secret={"password": "e2e-v1"})
    # The provider, with the lab's kubeconfig (TokenRequest fallback, ConfigMap reads).
    d = short_tmpdir()
    age = Path(d) / "age"
    age.mkdir()
    subprocess.run(["age-keygen", "-o", str(age / f"{NS}.txt")], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in (age / f"{NS}.txt").read_text().splitlines()
                     if line.startswith("# public key"))
    sock = os.path.join(d, "kubecrypt.sock")
    log = Path(d) / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([*kubecrypt_argv(), "csi", "serve", "--socket", sock,
                                 "--vault-addr", bao.addr, "--age-identity-dir", str(age)],
                                stdout=fh, stderr=fh, env=lab.env)
    wait_for_socket(sock, proc, log)
    try:
        yield {"dir": d, "recipient": recipient, "log": log}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SPC = """
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata: {{name: {name}, namespace: csi-e2e}}
spec:
  provider: kubecrypt
  parameters:
    roleName: app
    objects: |
{objects}
  secretObjects: {secret_objects}
"""

POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: csi-e2e}}
spec:
  serviceAccountName: {sa}
  containers: [{{name: c, image: busybox}}]
  volumes:
    - name: secrets
      csi:
        driver: secrets-store.csi.k8s.io
        readOnly: true
        volumeAttributes: {{secretProviderClass: {spc}}}
"""


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.strip().splitlines())


def _mount(lab: Lab, cluster: dict[str, Any], pod: str, target: Path, *extra: str
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kubecrypt_argv(), "csi", "mount", "-n", NS, "--pod", pod,
                           "--volume", "secrets", "--target", str(target), "--providers-dir",
                           cluster["dir"], "--token-audience", "vault", *extra],
                          capture_output=True, text=True, env=lab.env, timeout=120)


def test_vault_mount_sync_rotate_and_deny(lab: Lab, bao: Any, cluster: dict[str, Any],
                                          tmp_path: Path) -> None:
    objects = ("- objectName: password\n  secretPath: secret/data/app/e2e\n  secretKey: password\n"
               "  filePermission: 0400\n")
    secret_objects = json.dumps([{"secretName": "app-db", "type": "Opaque",
                                  "data": [{"objectName": "password", "key": "pw"}]}])
    lab.kubectl("apply", "-f", "-", input=SPC.format(name="vault-spc", objects=_indent(objects),
                                                      secret_objects=secret_objects))
    lab.kubectl("apply", "-f", "-", input=POD.format(name="app", sa="app", spc="vault-spc"))
    target = tmp_path / "app"
    r = _mount(lab, cluster, "app", target)
    assert r.returncode == 0, r.stderr
    assert (target / "password").read_bytes() == b"e2e-v1"
    assert os.stat(target / "password").st_mode & 0o777 == 0o400
    assert os.readlink(target / "..data").startswith("..")
    secret = lab.json("get", "secret", "app-db", "-n", NS)
    assert secret["metadata"]["labels"]["secrets-store.csi.k8s.io/managed"] == "true"
    assert base64.b64decode(secret["data"]["pw"]) == b"e2e-v1"
    owner = secret["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "SecretProviderClassPodStatus"
    spcps = lab.json("get", "secretproviderclasspodstatuses", f"app-{NS}-vault-spc", "-n", NS)
    assert spcps["status"]["mounted"] is True and spcps["status"]["podName"] == "app"
    v1 = {o["id"]: o["version"] for o in spcps["status"]["objects"]}
    assert v1["password"]

    # mounting again needs --rotate; rotation picks up a new value with a new version
    again = _mount(lab, cluster, "app", target)
    assert again.returncode == 1 and "--rotate" in again.stderr
    bao.root().secrets.kv.v2.create_or_update_secret(path="app/e2e", secret={"password": "e2e-v2"})
    r = _mount(lab, cluster, "app", target, "--rotate")
    assert r.returncode == 0, r.stderr
    assert "(changed)" in r.stdout
    assert (target / "password").read_bytes() == b"e2e-v2"
    spcps = lab.json("get", "secretproviderclasspodstatuses", f"app-{NS}-vault-spc", "-n", NS)
    v2 = {o["id"]: o["version"] for o in spcps["status"]["objects"]}
    assert v2["password"] != v1["password"]
    secret = lab.json("get", "secret", "app-db", "-n", NS)
    assert base64.b64decode(secret["data"]["pw"]) == b"e2e-v2"

    # no token in the request: the provider makes a pod-bound one itself (TokenRequest)
    fallback = subprocess.run([*kubecrypt_argv(), "csi", "mount", "-n", NS, "--pod", "app",
                               "--volume", "secrets", "--target", str(tmp_path / "fb"),
                               "--providers-dir", cluster["dir"]],
                              capture_output=True, text=True, env=lab.env, timeout=120)
    assert fallback.returncode == 0, fallback.stderr
    assert (tmp_path / "fb" / "password").read_bytes() == b"e2e-v2"

    # a pod of another ServiceAccount is denied by OpenBao's role binding
    lab.kubectl("apply", "-f", "-", input=POD.format(name="intruder", sa="other", spc="vault-spc"))
    denied = _mount(lab, cluster, "intruder", tmp_path / "intruder")
    assert denied.returncode == 1
    assert "refused the login of service account csi-e2e/other" in denied.stderr
    assert "Traceback" not in denied.stderr
    assert not (tmp_path / "intruder" / "password").exists()
    assert "e2e-v" not in cluster["log"].read_text()


def test_sops_configmap_plaintext_without_secret(lab: Lab, cluster: dict[str, Any],
                                                 tmp_path: Path) -> None:
    plain = tmp_path / "app.env"
    plain.write_text("DB_PASSWORD=sops-plain-42\n")
    enc = subprocess.run(["sops", "encrypt", "--age", cluster["recipient"], str(plain)],
                         check=True, capture_output=True, text=True).stdout
    plain.unlink()
    lab.kubectl("create", "configmap", "app-sops", "-n", NS, f"--from-literal=app.enc.env={enc}")
    before = {s["metadata"]["name"] for s in lab.json("get", "secrets", "-n", NS)["items"]}
    objects = "- objectName: app.env\n  sops: {configMap: app-sops, key: app.enc.env}\n"
    lab.kubectl("apply", "-f", "-", input=SPC.format(name="sops-spc", objects=_indent(objects),
                                                      secret_objects="[]"))
    lab.kubectl("apply", "-f", "-", input=POD.format(name="sops-app", sa="app", spc="sops-spc"))
    r = _mount(lab, cluster, "sops-app", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "app.env").read_text() == "DB_PASSWORD=sops-plain-42\n"
    after = {s["metadata"]["name"] for s in lab.json("get", "secrets", "-n", NS)["items"]}
    assert after == before
    dump = lab.kubectl("get", "secrets,configmaps", "-A", "-o", "yaml").stdout
    assert "sops-plain-42" not in dump


def test_seed_example_error_and_provider_not_found(lab: Lab, cluster: dict[str, Any],
                                                   tmp_path: Path) -> None:
    seed = "array:\n  - |\n    objectName: mysecret\n    objectNamespace: default\n"
    lab.kubectl("apply", "-f", "-", input=SPC.format(name="seed-spc", objects=_indent(seed),
                                                      secret_objects="[]"))
    lab.kubectl("apply", "-f", "-", input=POD.format(name="seed", sa="app", spc="seed-spc"))
    r = _mount(lab, cluster, "seed", tmp_path / "s")
    assert r.returncode == 1
    assert "object 'mysecret' has no secretPath (objectNamespace is not read)" in r.stderr
    spc = yaml.safe_load(SPC.format(name="other-provider", objects=_indent(seed),
                                    secret_objects="[]"))
    spc["spec"]["provider"] = "custom-csi-provider"
    lab.kubectl("apply", "-f", "-", input=json.dumps(spc))
    lab.kubectl("apply", "-f", "-", input=POD.format(name="other-prov", sa="app",
                                                     spc="other-provider"))
    r = _mount(lab, cluster, "other-prov", tmp_path / "o")
    assert r.returncode == 1 and "no custom-csi-provider.sock" in r.stderr


def test_deploy_manifests_apply(lab: Lab) -> None:
    d = REPO / "deploy" / "csi-provider"
    for f in ("crds.yaml", "rbac.yaml", "daemonset.yaml", "example.yaml"):
        lab.kubectl("apply", "-f", str(d / f))
    ds = lab.json("get", "daemonset", "kubecrypt-csi-provider", "-n", "kube-system")
    args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--socket=/provider/kubecrypt.sock" in args
    vols = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
    assert vols["providervol"]["hostPath"]["path"] == "/var/run/secrets-store-csi-providers"
    spc = lab.json("get", "secretproviderclass", "app-secrets", "-n", "default")
    assert spc["spec"]["provider"] == "kubecrypt"
    can = lab.kubectl("auth", "can-i", "create", "serviceaccounts/token",
                      "--as=system:serviceaccount:kube-system:kubecrypt-csi-provider", check=False)
    assert can.stdout.strip() == "yes"




def test_bao_agent_with_a_lab_token(lab: Lab, bao: Any, cluster: dict[str, Any],
                                    tmp_path: Path) -> None:
    """docs/csi.md "Vault with Kubernetes auth": the real ``bao agent`` logs in with a lab-issued
    pod token file and renders the secret into a file."""
    lab.kubectl("apply", "-f", "-", input=POD.format(name="agent", sa="app", spc="vault-spc"))
    token = lab.kubectl("create", "token", "app", "-n", NS, "--audience", "vault",
                        "--bound-object-kind", "Pod", "--bound-object-name", "agent").stdout
    (tmp_path / "token").write_text(token)
    config = AGENT.format(addr=bao.addr, dir=tmp_path)
    (tmp_path / "agent.hcl").write_text(config)
    r = subprocess.run(["bao", "agent", f"-config={tmp_path / 'agent.hcl'}"], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr + r.stdout
    assert (tmp_path / "password").read_text().startswith("e2e-v")
    # the same agent with the other ServiceAccount's token is refused by the role
    other = lab.kubectl("create", "token", "other", "-n", NS, "--audience", "vault").stdout
    (tmp_path / "token").write_text(other)
    (tmp_path / "password").unlink()
    try:
        r = subprocess.run(["bao", "agent", f"-config={tmp_path / 'agent.hcl'}"],
                           capture_output=True, text=True, timeout=8,
                           env={**os.environ, "HOME": str(tmp_path)})
        output = r.stderr + r.stdout
    except subprocess.TimeoutExpired as exc:  # the agent keeps retrying the login
        output = (exc.stderr or b"").decode() + (exc.stdout or b"").decode()
    assert "permission denied" in output or "service account name not authorized" in output
    assert not (tmp_path / "password").exists()


AGENT = """
pid_file = ""
vault {{ address = "{addr}" }}
auto_auth {{
  method "kubernetes" {{
    mount_path = "auth/kubernetes"
    config = {{ role = "app", token_path = "{dir}/token" }}
  }}
  sink "file" {{ config = {{ path = "{dir}/agent-token" }} }}
}}
template {{
  contents    = "{{{{ with secret \\"secret/data/app/e2e\\" }}}}{{{{ .Data.data.password }}}}{{{{ end }}}}"
  destination = "{dir}/password"
}}
exit_after_auth = true
"""
