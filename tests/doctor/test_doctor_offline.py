"""RBAC and workload checks from objects given as files (``--objects-file``), config checks
from EncryptionConfiguration files, and the Git checks on repositories built with real git."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from doctor_support import (
    KEY_B64,
    PLANTED,
    assert_no_secrets,
    commit,
    findings,
    init_repo,
    keyed,
    kube_bench_1_2_28,
    kubescape_c0142,
    status,
    write_config,
)

pytestmark = pytest.mark.slow  # each case runs the real command, 2-5 s

Doctor = Callable[..., tuple[int, dict[str, Any], str]]


def rbac(kind: str, name: str, ns: str = "", **rest: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, **rest}


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
            ns: str = "") -> dict[str, Any]:
    return rbac(kind, name, ns, roleRef={"apiGroup": "rbac.authorization.k8s.io",
                                          "kind": role_kind, "name": role}, subjects=subjects)


def dump(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


RBAC_SCENARIO = [
    # A direct reader in one namespace.
    rbac("Role", "read-secrets", "team-a",
         rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]),
    binding("RoleBinding", "alice-reads", "Role", "read-secrets",
            [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
            "team-a"),
    # An aggregated ClusterRole whose Secret rule only comes from the role it selects.
    rbac("ClusterRole", "audit-agg", aggregationRule={"clusterRoleSelectors": [
        {"matchLabels": {"example.com/aggregate-to-audit": "true"}}]}, rules=[]),
    {**rbac("ClusterRole", "audit-secrets",
            rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["watch"]}]),
     "metadata": {"name": "audit-secrets",
                  "labels": {"example.com/aggregate-to-audit": "true"}}},
    binding("ClusterRoleBinding", "auditors", "ClusterRole", "audit-agg",
            [{"kind": "Group", "name": "auditors", "apiGroup": "rbac.authorization.k8s.io"}]),
    # An indirect reader: may create pods in team-b, has no Secret rule.
    rbac("Role", "deployer", "team-b",
         rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]),
    binding("RoleBinding", "ci-deploys", "Role", "deployer",
            [{"kind": "ServiceAccount", "name": "ci", "namespace": "team-b"}], "team-b"),
    # System subjects are the control plane's: not findings.
    binding("ClusterRoleBinding", "ctrl", "ClusterRole", "audit-secrets",
            [{"kind": "ServiceAccount", "name": "sealed-secrets", "namespace": "kube-system"}]),
]


def test_rbac_direct_aggregated_and_indirect_readers(tmp_path: Path, doctor: Doctor) -> None:
    code, report, _ = doctor("--objects-file", str(dump(tmp_path / "rbac.yaml", RBAC_SCENARIO)))
    readers = {f["subject"]: f for f in findings(report, "rbac.secret-readers")}
    assert set(readers) == {"User alice", "Group auditors"}
    assert readers["User alice"]["severity"] == "medium"
    assert "namespace team-a" in readers["User alice"]["evidence"]
    assert "get,list" in readers["User alice"]["evidence"]
    # Only through aggregation does audit-agg grant watch: a literal rule scan misses it.
    assert readers["Group auditors"]["severity"] == "high"
    assert "aggregated" in readers["Group auditors"]["evidence"]
    assert "every namespace" in readers["Group auditors"]["evidence"]
    assert "C-0015" in readers["Group auditors"]["refs"]["kubescape"]
    crb = findings(report, "rbac.cluster-binding")
    assert [f["subject"] for f in crb] == ["ClusterRoleBinding auditors"]
    indirect = findings(report, "rbac.indirect")
    assert [f["subject"] for f in indirect] == ["ServiceAccount team-b/ci"]
    assert "create pods" in indirect[0]["evidence"]
    assert indirect[0]["severity"] == "medium"
    assert code == 3  # a high finding, default --fail-on high
    # Workloads were not in the file: those checks still run (on nothing) or say why not.
    assert status(report, "workload.secret-env") in ("pass", "skipped")


def test_rbac_clean_objects_pass(tmp_path: Path, doctor: Doctor) -> None:
    clean = [rbac("Role", "cm", "a", rules=[{"apiGroups": [""], "resources": ["configmaps"],
                                             "verbs": ["get"]}]),
             binding("RoleBinding", "cm", "Role", "cm", [{"kind": "User", "name": "bob"}], "a")]
    code, report, _ = doctor("--objects-file", str(dump(tmp_path / "clean.yaml", clean)))
    for check in ("rbac.secret-readers", "rbac.cluster-binding", "rbac.indirect"):
        assert status(report, check) == "pass", check
    assert code == 0


def test_rbac_edit_from_defaults(tmp_path: Path, doctor: Doctor) -> None:
    """A dump without the default roles still resolves ``edit`` (aggregated upstream role)."""
    objs = [binding("RoleBinding", "dev-edit", "ClusterRole", "edit",
                    [{"kind": "User", "name": "dev"}], "apps")]
    _, report, _ = doctor("--objects-file", str(dump(tmp_path / "edit.yaml", objs)))
    readers = findings(report, "rbac.secret-readers")
    assert [f["subject"] for f in readers] == ["User dev"]
    assert "ClusterRole edit" in readers[0]["evidence"]


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": "busybox", **extra}


def workload(kind: str, name: str, pod: dict[str, Any], ns: str = "web") -> dict[str, Any]:
    api = {"Pod": "v1", "CronJob": "batch/v1", "Job": "batch/v1"}.get(kind, "apps/v1")
    meta = {"name": name, "namespace": ns}
    if kind == "Pod":
        return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": pod}
    if kind == "CronJob":
        return {"apiVersion": api, "kind": kind, "metadata": meta,
                "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {
                    "spec": pod}}}}}
    return {"apiVersion": api, "kind": kind, "metadata": meta,
            "spec": {"template": {"spec": pod}}}


def test_workloads_env_secrets_and_tokens(tmp_path: Path, doctor: Doctor) -> None:
    env_ref = [{"name": "DB_PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
    objs = [
        workload("Deployment", "api", {"containers": [container(env=env_ref)]}),
        workload("CronJob", "backup", {"initContainers": [container(
            envFrom=[{"secretRef": {"name": "s3"}}])], "containers": [container()],
            "automountServiceAccountToken": False}),
        workload("Deployment", "files", {"automountServiceAccountToken": False,
                                         "containers": [container()],
                                         "volumes": [{"name": "s", "secret": {"secretName": "db"}}]}),
        # Owned by a ReplicaSet: reported through its template, not twice.
        {**workload("Pod", "api-xyz", {"containers": [container(env=env_ref)]}),
         "metadata": {"name": "api-xyz", "namespace": "web", "ownerReferences": [
             {"kind": "ReplicaSet", "name": "api-1", "controller": True}]}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "quiet", "namespace": "web"}, "automountServiceAccountToken": False},
        workload("Pod", "quiet-pod", {"serviceAccountName": "quiet", "containers": [container()]}),
    ]
    code, report, _ = doctor("--objects-file", str(dump(tmp_path / "w.yaml", objs)))
    env = {f["subject"]: f for f in findings(report, "workload.secret-env")}
    assert set(env) == {"Deployment web/api", "CronJob web/backup"}
    assert "DB_PW <- secret db key pw" in env["Deployment web/api"]["evidence"]
    assert "every key of secret s3 (envFrom)" in env["CronJob web/backup"]["evidence"]
    assert env["Deployment web/api"]["refs"]["kubescape"] == ["C-0207"]
    tokens = {f["subject"] for f in findings(report, "workload.token-automount")}
    assert tokens == {"Deployment web/api"}  # opted out: files, backup, quiet-pod (via its SA)
    assert all(f["severity"] == "low" for f in findings(report, "workload.token-automount"))
    assert code == 0  # medium and low only


def test_config_multi_resource_fools_kube_bench(tmp_path: Path, doctor: Doctor) -> None:
    cfg = write_config(tmp_path / "enc.yaml", [
        (["secrets"], [{"identity": {}}, keyed("aescbc", "k1")]),
        (["configmaps"], [keyed("aescbc", "k2", "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="),
                          {"identity": {}}]),
    ])
    assert kube_bench_1_2_28(cfg.read_text()), "kube-bench's rule passes this config"
    assert kubescape_c0142(yaml.safe_load(cfg.read_text())), "and so does kubescape C-0142"
    code, report, _ = doctor("--encryption-provider-config", str(cfg))
    first = findings(report, "config.identity-first")
    assert [f["severity"] for f in first] == ["critical"]
    assert "secrets" in first[0]["subject"]
    assert status(report, "config.not-covered") == "pass"
    assert code == 3


def test_config_not_covered(tmp_path: Path, doctor: Doctor) -> None:
    cfg = write_config(tmp_path / "enc.yaml", [(["configmaps"], [keyed("secretbox", "k")])])
    assert kube_bench_1_2_28(cfg.read_text())
    assert kubescape_c0142(yaml.safe_load(cfg.read_text()))
    code, report, _ = doctor("--encryption-provider-config", str(cfg))
    assert [f["severity"] for f in findings(report, "config.not-covered")] == ["critical"]
    assert code == 3
    # A wildcard covers secrets the way kube-apiserver resolves it.
    wild = write_config(tmp_path / "wild.yaml", [(["*.*"], [keyed("secretbox", "k")])])
    code, report, _ = doctor("--encryption-provider-config", str(wild))
    assert status(report, "config.not-covered") == "pass"
    assert status(report, "config.identity-first") == "pass"
    assert code == 0


def test_config_providers_mode_and_reuse(tmp_path: Path, doctor: Doctor) -> None:
    a = write_config(tmp_path / "a.yaml", [
        (["secrets"], [keyed("aesgcm", "gcm1"), keyed("aescbc", "old"),
                       {"kms": {"name": "v1plugin", "endpoint": "unix:///tmp/x.sock",
                                "apiVersion": "v1"}}])], mode=0o644)
    b = write_config(tmp_path / "b.yaml", [(["secrets"], [keyed("secretbox", "other-name")])])
    code, report, _ = doctor("--encryption-provider-config", str(a),
                             "--encryption-provider-config", str(b))
    gcm = findings(report, "config.aesgcm-rotation")
    assert len(gcm) == 1 and "2^32" in gcm[0]["evidence"]
    assert "apiserver_storage_transformation_operations_total" in gcm[0]["evidence"]
    assert [f["severity"] for f in findings(report, "config.aescbc")] == ["low"]
    assert [f["severity"] for f in findings(report, "config.kms-v1")] == ["low"]
    modes = findings(report, "config.file-mode")
    assert [f["subject"] for f in modes] == [str(a)] and "0644" in modes[0]["evidence"]
    reuse = findings(report, "config.key-reuse")
    # The same 32 bytes: aesgcm gcm1 and aescbc old in a.yaml, secretbox other-name in b.yaml.
    assert len(reuse) == 1 and "3 times" in reuse[0]["evidence"]
    assert code == 3


def test_config_clean(tmp_path: Path, doctor: Doctor) -> None:
    cfg = write_config(tmp_path / "enc.yaml", [(["secrets"], [keyed("secretbox", "k"),
                                                               {"identity": {}}])])
    code, report, _ = doctor("--encryption-provider-config", str(cfg))
    assert report["findings"] == []
    assert all(c["status"] in ("pass", "skipped") for c in report["checks"])
    assert code == 0


def test_git_history_plaintext_secret_gone_from_tree(tmp_path: Path, doctor: Doctor,
                                                     kubecrypt: Callable[..., Any]) -> None:
    repo = init_repo(tmp_path / "repo")
    (repo / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\n"
        f"stringData:\n  password: {PLANTED[0]}\n")
    (repo / "api.json").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api", "namespace": "prod"},
        "data": {"token": PLANTED[1]}}))
    (repo / "list.yml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "in-list"},
         "data": {"k": PLANTED[1]}}]}))
    first = commit(repo, "add secrets")
    (repo / "README").write_text("more\n")
    middle = commit(repo, "unrelated")
    (repo / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (repo / "api.json").unlink()
    removed = commit(repo, "remove secrets")
    # A sops-encrypted Secret is not plaintext.
    (repo / "sops.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: enc}\n"
        "data:\n  pw: ENC[AES256_GCM,data:xx,iv:yy,tag:zz,type:str]\n"
        "sops:\n  mac: ENC[AES256_GCM,data:aa,iv:bb,tag:cc,type:str]\n  version: 3.11.0\n")
    commit(repo, "sops file")
    code, report, _ = doctor("--repo", str(repo))
    got = {f["subject"].split(" in ")[0]: f for f in findings(report, "git.plaintext-secret")}
    assert set(got) == {"Secret prod/db", "Secret prod/api", "Secret (no namespace)/in-list"}
    db = got["Secret prod/db"]
    assert "stringData" in db["evidence"] and "password" in db["evidence"]
    assert "the working tree no longer has it" in db["evidence"]
    assert db["location"]["first_commit"] == first
    assert db["location"]["last_commit"] == middle
    assert "gitleaks" in db["evidence"]
    api = got["Secret prod/api"]
    assert "json" in api["evidence"] and "JSON" in api["evidence"]
    assert api["location"]["last_commit"] == middle != removed
    in_list = got["Secret (no namespace)/in-list"]
    assert "working tree at list.yml" in in_list["evidence"]
    assert code == 3
    # SARIF 2.1.0 carries the same findings, and no value either.
    p = kubecrypt("doctor", "--repo", str(repo), "-o", "sarif")
    assert p.returncode == 3
    assert_no_secrets(p.stdout)
    sarif = json.loads(p.stdout)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"git.plaintext-secret"}
    assert len(results) == 3
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"app.yaml", "api.json", "list.yml"}
    assert all(r["level"] == "error" for r in results)
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"git.plaintext-secret", "git.sealed-foreign-key", "git.sops-mac"} <= rules


def test_git_clean_repo(tmp_path: Path, doctor: Doctor) -> None:
    repo = init_repo(tmp_path / "repo")
    (repo / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (repo / "empty-secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: e}\ndata: {}\n")
    commit(repo, "clean")
    code, report, _ = doctor("--repo", str(repo))
    assert status(report, "git.plaintext-secret") == "pass"
    assert status(report, "git.sealed-foreign-key") == "skipped"
    assert code == 0


def test_bad_input_is_one_sentence(tmp_path: Path, kubecrypt: Callable[..., Any]) -> None:
    for args, words in (
        (("--lab", str(tmp_path / "nolab")), "holds no lab"),
        (("--repo", str(tmp_path / "missing")), "is not a directory"),
        (("--encryption-provider-config", str(tmp_path / "missing.yaml")), "no such file"),
        (("--key-renewal", "soon"), "not a duration"),
    ):
        p = kubecrypt("doctor", *args)
        err = p.stderr.decode()
        assert p.returncode == 1, (args, err)
        assert words in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    (tmp_path / "junk.yaml").write_text("just text\n")
    p = kubecrypt("doctor", "--objects-file", str(tmp_path / "junk.yaml"))
    assert p.returncode == 1 and "holds no Kubernetes objects" in p.stderr.decode()
    assert KEY_B64  # imported for assert_no_secrets' defaults
