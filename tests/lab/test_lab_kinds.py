"""The kinds Secrets touch, with the real kubectl: Pods that use a Secret (env secretKeyRef and a
secret volume), a Secret with stringData, ServiceAccounts (a ``default`` per namespace), RBAC
kinds with the default ClusterRoles, workloads; ConfigMaps encrypted at rest and counted by
``kubecrypt etcd scan``; a CRD served dynamically; ``kubectl apply -k deploy/sealed-secrets``."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecrypt.lab import up as lab_up

from .conftest import LabHandle

ROOT = Path(__file__).resolve().parents[2]

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds"},
          "type": "Opaque", "stringData": {"username": "admin", "password": "s3cr3t-pw"}}
POD_ENV = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app-env"},
           "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                    "command": ["sh", "-c", "echo $DB_PASSWORD; sleep 3600"],
                                    "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                                        "name": "db-creds", "key": "password"}}}]}]}}
POD_VOLUME = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app-volume"},
              "spec": {"containers": [{"name": "app", "image": "busybox:1.36",
                                       "volumeMounts": [{"name": "creds", "readOnly": True,
                                                         "mountPath": "/etc/creds"}]}],
                       "volumes": [{"name": "creds", "secret": {"secretName": "db-creds"}}]}}


def _kubectl(version: str) -> str:
    found = shutil.which("kubectl")
    assert found
    return str(Path(os.path.realpath(found)).parent / f"kubectl.{version}")


@pytest.mark.slow
@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_seed_pods_and_secret_apply_get_describe(lab: LabHandle, version: str,
                                                 tmp_path: Path) -> None:
    env = {**lab.env(), "KUBECACHEDIR": str(tmp_path / "cache")}
    ns = f"seed-{version.replace('.', '-')}"

    def run(*args: str, input: str | None = None) -> str:
        p = subprocess.run([_kubectl(version), *args], input=input, capture_output=True,
                           text=True, env=env, timeout=60, check=False)
        assert p.returncode == 0, f"kubectl {version} {' '.join(args)}: {p.stderr}"
        return p.stdout

    run("create", "ns", ns)
    docs = yaml.safe_dump_all([SECRET, POD_ENV, POD_VOLUME])
    out = run("apply", "-n", ns, "-f", "-", input=docs)
    assert "secret/db-creds created" in out and "pod/app-env created" in out
    secret = json.loads(run("get", "secret", "db-creds", "-n", ns, "-o", "json"))
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["password"]) == b"s3cr3t-pw"
    rows = run("get", "pods", "-n", ns).splitlines()
    assert rows[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(r.split()[:3] for r in rows[1:]) == [["app-env", "0/1", "Pending"],
                                                      ["app-volume", "0/1", "Pending"]]
    pod = json.loads(run("get", "pod", "app-env", "-n", ns, "-o", "json"))
    assert pod["spec"]["serviceAccountName"] == "default"
    env0 = pod["spec"]["containers"][0]["env"][0]
    assert env0["valueFrom"]["secretKeyRef"] == {"name": "db-creds", "key": "password"}
    (cond,) = pod["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False",
                                                              "Unschedulable")
    described = run("describe", "pod", "app-volume", "-n", ns)
    assert "Pending" in described and "db-creds" in described and "runs no nodes" in described
    # Re-applying the same manifests changes nothing; deleting a Pod is immediate (no kubelet).
    assert "unchanged" in run("apply", "-n", ns, "-f", "-", input=docs)
    run("delete", "pod", "app-env", "-n", ns)
    assert lab.etcd_get(f"/registry/pods/{ns}/app-env") is None
    run("delete", "ns", ns)


def test_pod_without_containers_is_invalid(lab: LabHandle, unique: Any) -> None:
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": unique("bad")},
           "spec": {"containers": []}}
    p = lab.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode != 0 and "spec.containers: Required value" in p.stderr


def test_default_service_account_per_namespace_and_rbac_defaults(lab: LabHandle,
                                                                 unique: Any) -> None:
    ns = unique("sa")
    lab.kubectl("create", "ns", ns)
    deadline = time.monotonic() + 10
    while lab.kubectl("get", "sa", "default", "-n", ns, check=False).returncode != 0:
        assert time.monotonic() < deadline, "no default ServiceAccount was made"
        time.sleep(0.1)
    lab.kubectl("create", "sa", "app", "-n", ns)  # kubectl 1.32: a protobuf body
    assert "app" in lab.kubectl("get", "sa", "-n", ns).stdout
    names = lab.kubectl("get", "clusterroles", "-o", "name").stdout.split()
    for role in ("cluster-admin", "admin", "edit", "view", "system:auth-delegator"):
        assert f"clusterrole.rbac.authorization.k8s.io/{role}" in names
    # admin, edit and view are aggregated: their rules come from the aggregate-to-* roles.
    view = lab.kubectl_json("get", "clusterrole", "view")
    assert view["aggregationRule"] and any("configmaps" in r.get("resources", [])
                                           for r in view["rules"])
    lab.kubectl("create", "role", "r", "-n", ns, "--verb=get", "--resource=secrets")
    lab.kubectl("create", "rolebinding", "rb", "-n", ns, "--role=r", f"--serviceaccount={ns}:app")
    rb = lab.kubectl_json("get", "rolebinding", "rb", "-n", ns)
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]
    p = lab.kubectl("patch", "rolebinding", "rb", "-n", ns, "--type=merge", "-p",
                    '{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role",'
                    '"name":"other"}}', check=False)
    assert p.returncode != 0 and "cannot change roleRef" in p.stderr
    lab.kubectl("delete", "ns", ns)


def test_workloads_are_stored_with_generation(lab: LabHandle, unique: Any) -> None:
    name = unique("web")
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27", "envFrom": [{"secretRef": {"name": "db"}}]}]}}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                    "template": template}}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
                "spec": {**template["spec"], "restartPolicy": "Never"}}}}}}
    lab.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([dep, cron]))
    got = lab.kubectl_json("get", "deployment", name)
    assert got["metadata"]["generation"] == 1 and got["spec"]["replicas"] == 2
    lab.kubectl("patch", "deployment", name, "--type=merge", "-p", '{"spec":{"replicas":3}}')
    assert lab.kubectl_json("get", "deployment", name)["metadata"]["generation"] == 2
    stored = lab.etcd_get(f"/registry/deployments/default/{name}")
    assert stored is not None and json.loads(stored[0])["kind"] == "Deployment"  # JSON
    assert "*/5 * * * *" in lab.kubectl("get", "cronjobs").stdout
    no_selector = {**dep, "metadata": {"name": name + "-x"},
                   "spec": {"template": template}}
    p = lab.kubectl("apply", "-f", "-", input=json.dumps(no_selector), check=False)
    assert p.returncode != 0 and "spec.selector: Required value" in p.stderr
    lab.kubectl("delete", "deployment,cronjob", name)


# ------------------------------------------------------------------ a lab of its own


@pytest.fixture(scope="module")
def lab2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    """Secrets and ConfigMaps encrypted; no Sealed Secrets controller (apply -k installs it)."""
    base = tmp_path_factory.mktemp("lab2")
    config = base / "encryption.yaml"
    key = base64.b64encode(os.urandom(32)).decode()
    config.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets", "configmaps"], "providers": [
            {"aesgcm": {"keys": [{"name": "k1", "secret": key}]}}, {"identity": {}}]}]}))
    directory = base / "lab"
    handle = LabHandle(lab_up.up(directory, encryption_provider_config=config,
                                 sealed_secrets=False), directory)
    try:
        yield handle
    finally:
        lab_up.down(directory, purge=True)


@pytest.mark.slow
def test_configmaps_encrypted_at_rest_and_scanned(lab2: LabHandle) -> None:
    lab2.kubectl("create", "configmap", "app-config", "--from-literal=mode=prod")
    raw = lab2.etcd_get("/registry/configmaps/default/app-config")
    assert raw is not None and raw[0].startswith(b"k8s:enc:aesgcm:v1:k1:")
    assert b"prod" not in raw[0]
    assert lab2.kubectl_json("get", "cm", "app-config")["data"] == {"mode": "prod"}
    scan = subprocess.run([sys.executable, "-m", "kubecrypt", "etcd", "scan", "--endpoints",
                           lab2.etcd, "--resources", "secrets,configmaps", "-o", "json"],
                          capture_output=True, text=True, timeout=60, check=False)
    summary = json.loads(scan.stdout.splitlines()[-1])["summary"]
    cms = summary["resources"]["configmaps"]
    assert cms["encrypted"] >= 1 and cms["not_encrypted"] == 0, scan.stdout
    # A key outside the configured resources (a ServiceAccount) is stored as JSON, plaintext.
    sa = lab2.etcd_get("/registry/serviceaccounts/default/default")
    assert sa is not None and json.loads(sa[0])["kind"] == "ServiceAccount"


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "shortNames": ["wd"]},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields":
                                                          True}},
                           "additionalPrinterColumns": [
                               {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                               {"name": "Phase", "type": "string",
                                "jsonPath": ".status.phase"}]}]}}


@pytest.mark.slow
def test_crd_is_served_dynamically(lab2: LabHandle) -> None:
    assert lab2.kubectl("get", "widgets", check=False).returncode != 0
    lab2.kubectl("apply", "-f", "-", input=json.dumps(WIDGET_CRD))
    crd = lab2.kubectl_json("get", "crd", "widgets.example.com")
    assert {c["type"] for c in crd["status"]["conditions"]} >= {"Established", "NamesAccepted"}
    cr = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"},
          "spec": {"size": 3}, "status": {"phase": "ignored-on-create"}}
    lab2.kubectl("apply", "-f", "-", input=json.dumps(cr))
    got = lab2.kubectl_json("get", "wd", "w1")
    assert got["metadata"]["generation"] == 1 and "status" not in got
    lab2.kubectl("patch", "widget", "w1", "--subresource=status", "--type=merge", "-p",
                 '{"status":{"phase":"Ready"}}')
    rows = lab2.kubectl("get", "widgets").stdout.splitlines()
    assert rows[0].split() == ["NAME", "SIZE", "PHASE"] and rows[1].split() == ["w1", "3", "Ready"]
    stored = lab2.etcd_get("/registry/example.com/widgets/default/w1")
    assert stored is not None and json.loads(stored[0])["spec"] == {"size": 3}
    # Watch from the list's resourceVersion sees a change.
    rv = json.loads(lab2.kubectl("get", "--raw", "/apis/example.com/v1/namespaces/default/"
                                 "widgets").stdout)["metadata"]["resourceVersion"]
    lab2.kubectl("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":4}}')
    watched = lab2.kubectl("get", "--raw", f"/apis/example.com/v1/namespaces/default/widgets"
                           f"?watch=true&resourceVersion={rv}&timeoutSeconds=1").stdout
    event = json.loads(watched.splitlines()[0])
    assert event["type"] == "MODIFIED" and event["object"]["spec"]["size"] == 4
    assert event["object"]["metadata"]["generation"] == 2
    # Deleting the CRD stops serving it and removes its objects.
    lab2.kubectl("delete", "crd", "widgets.example.com")
    deadline = time.monotonic() + 10
    while lab2.etcd_get("/registry/example.com/widgets/default/w1") is not None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    p = lab2.kubectl("get", "--raw", "/apis/example.com/v1/namespaces/default/widgets",
                     check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr


@pytest.mark.slow
def test_apply_k_sealed_secrets_manifests(lab2: LabHandle) -> None:
    out = lab2.kubectl("apply", "-k", str(ROOT / "deploy" / "sealed-secrets")).stdout
    for created in ("serviceaccount/sealed-secrets-controller", "deployment.apps/sealed-secrets-controller",
                    "clusterrolebinding.rbac.authorization.k8s.io/sealed-secrets-controller",
                    "service/sealed-secrets-controller"):
        assert created in out, out
    again = lab2.kubectl("apply", "-k", str(ROOT / "deploy" / "sealed-secrets")).stdout
    assert "deployment.apps/sealed-secrets-controller unchanged" in again
    # The SealedSecret CRD the lab serves is this manifest's CRD.
    assert lab2.kubectl_json("get", "crd", "sealedsecrets.bitnami.com")["spec"]["group"] == \
        "bitnami.com"
    assert "sealedsecrets" in lab2.kubectl("api-resources", "--api-group=bitnami.com").stdout


def test_packaged_sealed_secrets_crd_is_the_deploy_manifest() -> None:
    packaged = ROOT / "src" / "kubecrypt" / "lab" / "apiserver" / "sealedsecrets-crd.yaml"
    assert packaged.read_text() == (ROOT / "deploy" / "sealed-secrets" / "crd.yaml").read_text()
