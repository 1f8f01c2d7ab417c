"""workload.*: how workloads hold Secrets.

* ``workload.secret-env``: containers (init and ephemeral too) of Pods and of every pod
  template (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs,
  ReplicationControllers) that take Secrets as environment variables, through
  ``valueFrom.secretKeyRef`` or ``envFrom.secretRef`` (EKS's CIS 4.4.1 audit sees only the
  first). Environment variables leak into logs, crash dumps, ``/proc`` and child processes;
  mounted files do not.
* ``workload.token-automount``: pods that get a ServiceAccount token mounted although neither
  the pod nor its ServiceAccount asks for it (CIS 5.1.6).

Pods created by a controller are reported through their controller's template, once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubecrypt.doctor.report import Finding, Report, refs

IDS = ("workload.secret-env", "workload.token-automount")
TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job",
                  "ReplicationController")


def _meta(o: dict[str, Any]) -> dict[str, Any]:
    m = o.get("metadata")
    return m if isinstance(m, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _owned(o: dict[str, Any]) -> bool:
    return any(isinstance(r, dict) and r.get("controller") for r in _meta(o).get("ownerReferences") or [])


def pod_specs(objects: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, namespace/name, pod spec) for every pod and pod template not owned by another."""
    for kind, items in sorted(objects.items()):
        for o in items:
            if _owned(o):
                continue
            spec: dict[str, Any] = _dict(o.get("spec"))
            if kind == "Pod":
                pod = spec
            elif kind == "CronJob":
                pod = _dict(_dict(_dict(_dict(spec.get("jobTemplate")).get("spec"))
                                  .get("template")).get("spec"))
            elif kind in TEMPLATE_KINDS:
                pod = _dict(_dict(spec.get("template")).get("spec"))
            else:
                continue
            m = _meta(o)
            yield kind, f"{m.get('namespace') or 'default'}/{m.get('name') or '?'}", pod


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in pod.get(field) or []:
            if isinstance(c, dict):
                yield c


def secret_env(pod: dict[str, Any]) -> list[str]:
    """``container: VAR <- secret/key`` lines; names of Secrets and keys only."""
    out = []
    for c in _containers(pod):
        cname = c.get("name") or "?"
        for env in c.get("env") or []:
            ref = ((env or {}).get("valueFrom") or {}).get("secretKeyRef")
            if isinstance(ref, dict):
                out.append(f"{cname}: {env.get('name')} <- secret {ref.get('name')} key "
                           f"{ref.get('key')}")
        for src in c.get("envFrom") or []:
            ref = (src or {}).get("secretRef")
            if isinstance(ref, dict):
                prefix = f" (prefix {src['prefix']})" if src.get("prefix") else ""
                out.append(f"{cname}: every key of secret {ref.get('name')}{prefix} (envFrom)")
    return out


def run(report: Report, objects: dict[str, list[dict[str, Any]]], token_reason: str = "") -> None:
    env_findings = []
    for kind, name, pod in pod_specs(objects):
        uses = secret_env(pod)
        if uses:
            env_findings.append(Finding(
                "workload.secret-env", "medium", f"{kind} {name}",
                f"takes Secrets as environment variables: {'; '.join(uses)}",
                "mount the Secret as a volume (readOnly, defaultMode 0400) and read the file; "
                "env vars leak into logs, crash reports and child processes",
                refs(cis="5.4.1 (EKS/GKE 4.4.1, AKS 4.5.1)", kubescape="C-0207")))
    report.record("workload.secret-env", env_findings,
                  "no workload takes Secrets as environment variables")

    if token_reason:
        report.skip(["workload.token-automount"], token_reason)
        return
    opt_out = {(str(_meta(sa).get("namespace") or "default"), str(_meta(sa).get("name")))
               for sa in objects.get("ServiceAccount", [])
               if sa.get("automountServiceAccountToken") is False}
    tokens = []
    for kind, name, pod in pod_specs(objects):
        if pod.get("automountServiceAccountToken") is False:
            continue
        ns = name.split("/", 1)[0]
        sa = pod.get("serviceAccountName") or pod.get("serviceAccount") or "default"
        if pod.get("automountServiceAccountToken") is None and (ns, sa) in opt_out:
            continue
        tokens.append(Finding(
            "workload.token-automount", "low", f"{kind} {name}",
            f"mounts a token of ServiceAccount {ns}/{sa}: whoever runs code in it can call "
            "the API as that ServiceAccount",
            "set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless "
            "it talks to the API server",
            refs(cis="5.1.6", kubescape="C-0034", trivy="KSV-0036")))
    report.record("workload.token-automount", tokens, "no pod mounts a token it did not ask for")
