"""RBAC and workload checks through the API: a lab with ``--authorization-mode RBAC``, objects
applied with real kubectl, doctor reading them back from the lab's API server (no
``--objects-file``). The clean lab (bootstrap policy only) must give no finding above low."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from doctor_support import findings, status

from kubecrypt.lab import up as lab_up

pytestmark = pytest.mark.slow
Doctor = Callable[..., tuple[int, dict[str, Any], str]]
RBAC_GROUP = "rbac.authorization.k8s.io"


class RbacLab:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def kubectl(self, *args: str, input: str | None = None, ok: bool = True
                ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True,
                           env={**os.environ, "KUBECONFIG": str(self.dir / "kubeconfig")},
                           timeout=60, check=False)
        if ok:
            assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
        return p

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))

    def delete(self, *objects: dict[str, Any]) -> None:
        self.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-",
                     input=yaml.safe_dump_all(objects))


@pytest.fixture(scope="module")
def rbac_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RbacLab]:
    directory = tmp_path_factory.mktemp("doctor-rbac") / "lab"
    lab_up.up(directory, encryption="secretbox", authorization_mode="RBAC")
    try:
        handle = RbacLab(directory)
        for ns in ("team-a", "team-b", "team-c"):
            handle.kubectl("create", "namespace", ns)
        yield handle
    finally:
        lab_up.down(directory, purge=True)


def meta(name: str, ns: str = "", **rest: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, **rest}
    if ns:
        m["namespace"] = ns
    return m


def role(kind: str, name: str, rules: list[dict[str, Any]], ns: str = "",
         **rest: Any) -> dict[str, Any]:
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": kind, "metadata": meta(name, ns),
            "rules": rules, **rest}


def bind(kind: str, name: str, role_kind: str, role_name: str,
         subjects: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": kind, "metadata": meta(name, ns),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": role_name},
            "subjects": subjects}


def user(name: str) -> dict[str, Any]:
    return {"kind": "User", "name": name, "apiGroup": RBAC_GROUP}


def sa(name: str, ns: str) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": name, "namespace": ns}


def by_subject(report: dict[str, Any], check: str) -> dict[str, dict[str, Any]]:
    return {f["subject"]: f for f in findings(report, check)}


def assert_clean(report: dict[str, Any]) -> None:
    above = [f for f in report["findings"] if f["severity"] not in ("low", "info")]
    assert above == []
    for check in ("rbac.secret-readers", "rbac.cluster-binding", "rbac.indirect",
                  "workload.secret-env"):
        assert status(report, check) == "pass", check


def test_clean_rbac_lab_bootstrap_policy_gives_nothing_above_low(rbac_lab: RbacLab,
                                                                 doctor: Doctor) -> None:
    # The lab serves the default policy (cluster-admin, admin, edit, view, system:*): read
    # through the API, none of it is a finding, since every subject is system:.
    crbs = json.loads(rbac_lab.kubectl("get", "clusterrolebindings", "-o", "json").stdout)
    assert {s["name"] for b in crbs["items"] for s in b.get("subjects") or []} >= {
        "system:masters"}
    code, report, _ = doctor("--lab", str(rbac_lab.dir))
    assert code == 0
    assert_clean(report)
    # The checks read the API, not a file: the sources say so, and nothing was skipped.
    assert status(report, "workload.token-automount") == "pass"


def test_old_revisions_replays_only_resources_that_must_be_encrypted(rbac_lab: RbacLab,
                                                                     doctor: Doctor) -> None:
    # etcd holds no Secret at all here; a deleted ClusterRoleBinding (not covered by the
    # config, so plaintext by design) leaves an old revision: not an etcd.old-revisions
    # finding. (An empty list of resources once made doctor replay every key of etcd.)
    secrets = json.loads(rbac_lab.kubectl("get", "secrets", "-A", "-o", "json").stdout)
    assert secrets["items"] == []
    crb = bind("ClusterRoleBinding", "short-lived", "ClusterRole", "view", [user("bob")])
    rbac_lab.apply(crb)
    rbac_lab.delete(crb)
    code, report, _ = doctor("--lab", str(rbac_lab.dir))
    assert findings(report, "etcd.old-revisions") == []
    assert status(report, "etcd.old-revisions") == "pass"
    assert code == 0


def test_direct_reader_through_rolebinding(rbac_lab: RbacLab, doctor: Doctor) -> None:
    objs = [
        role("Role", "read-secrets", [{"apiGroups": [""], "resources": ["secrets"],
                                       "verbs": ["get"]}], "team-a"),
        bind("RoleBinding", "alice-reads", "Role", "read-secrets", [user("alice")], "team-a"),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("reporter", "team-a")},
        bind("RoleBinding", "reporter-reads", "Role", "read-secrets",
             [sa("reporter", "team-a")], "team-a"),
    ]
    rbac_lab.apply(*objs)
    try:
        # The lab's authorizer agrees: alice may get Secrets in team-a, not in team-b.
        assert rbac_lab.kubectl("auth", "can-i", "get", "secrets", "-n", "team-a",
                                "--as", "alice").stdout.strip() == "yes"
        assert rbac_lab.kubectl("auth", "can-i", "get", "secrets", "-n", "team-b",
                                "--as", "alice", ok=False).stdout.strip() == "no"
        code, report, _ = doctor("--lab", str(rbac_lab.dir))
        got = by_subject(report, "rbac.secret-readers")
        assert set(got) == {"User alice", "ServiceAccount team-a/reporter"}
        for f in got.values():
            assert f["severity"] == "medium"
            assert "namespace team-a" in f["evidence"]
            assert "Role read-secrets" in f["evidence"]
        assert "RoleBinding team-a/alice-reads" in got["User alice"]["evidence"]
        assert status(report, "rbac.cluster-binding") == "pass"
        assert code == 0  # medium is below the default --fail-on high
    finally:
        rbac_lab.delete(*objs)


def test_aggregated_clusterrole_bound_cluster_wide(rbac_lab: RbacLab, doctor: Doctor) -> None:
    label = "example.com/aggregate-to-audit"
    objs = [
        role("ClusterRole", "audit-agg", [], aggregationRule={
            "clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}),
        {**role("ClusterRole", "audit-secrets", [{"apiGroups": [""], "resources": ["secrets"],
                                                   "verbs": ["watch", "list"]}]),
         "metadata": meta("audit-secrets", labels={label: "true"})},
        bind("ClusterRoleBinding", "auditors", "ClusterRole", "audit-agg",
             [{"kind": "Group", "name": "auditors", "apiGroup": RBAC_GROUP}]),
    ]
    rbac_lab.apply(*objs)
    try:
        # The lab's aggregation controller filled the role: the rule is in the API object.
        agg = json.loads(rbac_lab.kubectl("get", "clusterrole", "audit-agg", "-o",
                                          "json").stdout)
        assert any("secrets" in r.get("resources", []) for r in agg.get("rules") or [])
        code, report, _ = doctor("--lab", str(rbac_lab.dir))
        got = by_subject(report, "rbac.secret-readers")
        assert set(got) == {"Group auditors"}
        assert got["Group auditors"]["severity"] == "high"
        assert "every namespace" in got["Group auditors"]["evidence"]
        assert "aggregated" in got["Group auditors"]["evidence"]
        crb = by_subject(report, "rbac.cluster-binding")
        assert set(crb) == {"ClusterRoleBinding auditors"}
        assert "Group auditors" in crb["ClusterRoleBinding auditors"]["evidence"]
        assert code == 3
    finally:
        rbac_lab.delete(*objs)


def test_indirect_reader_via_create_pods(rbac_lab: RbacLab, doctor: Doctor) -> None:
    objs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("ci", "team-b")},
        role("Role", "deployer", [{"apiGroups": [""], "resources": ["pods"],
                                   "verbs": ["create", "get"]}], "team-b"),
        bind("RoleBinding", "ci-deploys", "Role", "deployer", [sa("ci", "team-b")], "team-b"),
    ]
    rbac_lab.apply(*objs)
    try:
        who = "system:serviceaccount:team-b:ci"
        assert rbac_lab.kubectl("auth", "can-i", "create", "pods", "-n", "team-b",
                                "--as", who).stdout.strip() == "yes"
        assert rbac_lab.kubectl("auth", "can-i", "get", "secrets", "-n", "team-b",
                                "--as", who, ok=False).stdout.strip() == "no"
        code, report, _ = doctor("--lab", str(rbac_lab.dir))
        got = by_subject(report, "rbac.indirect")
        assert set(got) == {"ServiceAccount team-b/ci"}
        f = got["ServiceAccount team-b/ci"]
        assert f["severity"] == "medium"
        assert "create pods" in f["evidence"] and "namespace team-b" in f["evidence"]
        assert status(report, "rbac.secret-readers") == "pass"
        assert code == 0, [f for f in report["findings"] if f["severity"] in ("high", "critical")]
    finally:
        rbac_lab.delete(*objs)


def container(name: str, **rest: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", **rest}


def deployment(name: str, ns: str, containers: list[dict[str, Any]],
               **pod: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns),
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": containers, **pod}}}}


def test_deployments_with_env_secrets(rbac_lab: RbacLab, doctor: Doctor) -> None:
    no_token = {"automountServiceAccountToken": False}
    objs = [
        deployment("key-ref", "team-c", [container("app", env=[
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                     "key": "password"}}}])],
                   **no_token),
        deployment("env-from", "team-c", [container("app", envFrom=[
            {"secretRef": {"name": "api"}, "prefix": "API_"}])], **no_token),
        # Volumes are the recommended way: not a finding.
        deployment("volume", "team-c", [container("app", volumeMounts=[
            {"name": "s", "mountPath": "/etc/s", "readOnly": True}])],
                   volumes=[{"name": "s", "secret": {"secretName": "db"}}], **no_token),
        deployment("config-env", "team-c", [container("app", env=[
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "m"}}}])],
                   **no_token),
    ]
    rbac_lab.apply(*objs)
    try:
        code, report, _ = doctor("--lab", str(rbac_lab.dir))
        got = by_subject(report, "workload.secret-env")
        assert set(got) == {"Deployment team-c/key-ref", "Deployment team-c/env-from"}
        assert "DB_PASSWORD <- secret db key password" in got["Deployment team-c/key-ref"][
            "evidence"]
        assert "every key of secret api (prefix API_) (envFrom)" in got[
            "Deployment team-c/env-from"]["evidence"]
        assert all(f["severity"] == "medium" for f in got.values())
        # automountServiceAccountToken: false on each template: no token finding for them.
        assert not [f for f in findings(report, "workload.token-automount")
                    if "team-c" in f["subject"]]
        assert code == 0
    finally:
        rbac_lab.delete(*objs)


def test_pod_with_token_automount(rbac_lab: RbacLab, doctor: Doctor) -> None:
    pods = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta("talks-to-api", "team-a"),
         "spec": {"containers": [container("app")]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta("opted-out", "team-a"),
         "spec": {"automountServiceAccountToken": False, "containers": [container("app")]}},
        # Its ServiceAccount opts out, the pod says nothing: no token.
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("quiet", "team-b"),
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta("sa-opted-out", "team-b"),
         "spec": {"serviceAccountName": "quiet", "containers": [container("app")]}},
    ]
    rbac_lab.apply(*pods)
    try:
        code, report, _ = doctor("--lab", str(rbac_lab.dir))
        got = by_subject(report, "workload.token-automount")
        assert set(got) == {"Pod team-a/talks-to-api"}
        f = got["Pod team-a/talks-to-api"]
        assert f["severity"] == "low"
        assert "ServiceAccount team-a/default" in f["evidence"]
        assert code == 0
    finally:
        rbac_lab.delete(*pods)
