"""core/v1 Pod, stored for what references Secrets (env ``secretKeyRef``, ``secret`` volumes,
``serviceAccountName``) and for pod-bound tokens. The lab runs no scheduler and no kubelet: a Pod
stays Pending with a PodScheduled=False condition that says so, and is deleted at once (as an
unscheduled Pod is)."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver import validation
from kubecrypt.lab.apiserver.columns import AGE, NAME, col, get, path, text
from kubecrypt.lab.apiserver.errors import Cause
from kubecrypt.lab.apiserver.kindbase import Getter, Strategy, fields, selectors
from kubecrypt.lab.apiserver.resources import RW, Resource

NO_NODES = ("the kubecrypt lab runs no nodes (no scheduler, no kubelet): the Pod is stored, "
            "never scheduled or started")


def _now() -> str:
    from kubecrypt.lab.apiserver.strategy import now

    return now()


def _ready(o: dict[str, Any]) -> str:
    containers = get(o, "spec", "containers") or []
    ready = sum(1 for s in get(o, "status", "containerStatuses") or [] if get(s, "ready"))
    return f"{ready}/{len(containers) if isinstance(containers, list) else 0}"


def _field(*p: str) -> Getter:
    return lambda o: text(get(o, *p))


class PodStrategy(Strategy):
    columns = (NAME, col("Ready", _ready), col("Status", path("status", "phase")),
               col("Restarts", lambda o: 0, "integer"), AGE)
    field_selectors = selectors({
        "spec.nodeName": _field("spec", "nodeName"),
        "spec.restartPolicy": _field("spec", "restartPolicy"),
        "spec.schedulerName": _field("spec", "schedulerName"),
        "spec.serviceAccountName": _field("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda o: "true" if get(o, "spec", "hostNetwork") else "false",
        "status.phase": _field("status", "phase"),
        "status.podIP": _field("status", "podIP"),
        "status.nominatedNodeName": _field("status", "nominatedNodeName"),
    })
    top_fields = fields("spec", "status")

    def on_create(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("securityContext", {})
            for c in spec.get("containers") or []:
                if isinstance(c, dict):
                    c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(
                        ":latest") or ":" not in str(c.get("image", "")) else "IfNotPresent")
                    c.setdefault("terminationMessagePath", "/dev/termination-log")
                    c.setdefault("terminationMessagePolicy", "File")
                    c.setdefault("resources", {})
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": NO_NODES, "lastProbeTime": None, "lastTransitionTime": _now()}]}

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [validation.required("spec")]
        containers = spec.get("containers")
        if not containers or not isinstance(containers, list):
            return [validation.required("spec.containers")]
        causes: list[Cause] = []
        names: set[str] = set()
        for i, c in enumerate(containers):
            if not isinstance(c, dict):
                causes.append(validation.required(f"spec.containers[{i}]"))
                continue
            name = c.get("name") or ""
            if not name:
                causes.append(validation.required(f"spec.containers[{i}].name"))
            elif name in names:
                causes.append(Cause("FieldValueDuplicate", f"spec.containers[{i}].name",
                                               f'Duplicate value: "{name}"'))
            names.add(name)
            if not c.get("image") and old is None:
                causes.append(validation.required(f"spec.containers[{i}].image"))
        if old is not None:
            for f in ("containers", "volumes", "serviceAccountName", "nodeName"):
                if f != "containers" and spec.get(f) != (old.get("spec") or {}).get(f):
                    causes.append(validation.forbidden(
                        "spec", "pod updates may not change fields other than "
                        "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                        "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to "
                        "existing tolerations), `spec.terminationGracePeriodSeconds` (allow it "
                        "to be set to 1 if it was previously negative)"))
                    break
        return causes


STRATEGY = PodStrategy()
PODS = Resource("", "v1", "pods", "pod", "Pod", True, False, RW, ("po",), ("all",),
                status_subresource=True, strategy=STRATEGY)
RESOURCES = (PODS,)
