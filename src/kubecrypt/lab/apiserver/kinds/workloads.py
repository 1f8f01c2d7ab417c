"""apps/v1 Deployments, StatefulSets and DaemonSets; batch/v1 Jobs and CronJobs. Stored (as
JSON) for what their pod templates reference -- Secrets in env and volumes, ServiceAccounts --
with generation tracking and a status subresource; no controller turns them into Pods."""

from __future__ import annotations

from typing import Any

from kubecrypt.lab.apiserver import validation
from kubecrypt.lab.apiserver.columns import AGE, NAME, Column, col, get, text
from kubecrypt.lab.apiserver.errors import Cause
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource


def _ratio(ready: str, want: str) -> Column:
    return col("Ready", lambda o: f"{get(o, 'status', ready) or 0}/{get(o, 'spec', want) or 0}")


def _int(title: str, *p: str) -> Column:
    return col(title, lambda o: int(get(o, *p) or 0), "integer")


class WorkloadStrategy(Strategy):
    tracks_generation = True
    top_fields = fields("spec", "status")

    def __init__(self, columns: tuple[Column, ...], template: tuple[str, ...],
                 selector: bool, replicas: bool = False) -> None:
        self.columns = columns
        self.template = template  # path to the pod template
        self.selector = selector
        self.replicas = replicas

    def on_create(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict) and self.replicas:
            spec.setdefault("replicas", 1)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [validation.required("spec")]
        causes: list[Cause] = []
        if self.selector and not isinstance(spec.get("selector"), dict):
            causes.append(validation.required("spec.selector"))
        template = get(obj, *self.template)
        field = ".".join(self.template)
        if not isinstance(template, dict):
            causes.append(validation.required(field))
        elif not get(template, "spec", "containers"):
            causes.append(validation.required(f"{field}.spec.containers"))
        if old is not None and self.selector and spec.get("selector") != get(old, "spec",
                                                                               "selector"):
            causes.append(validation.invalid("spec.selector", text(spec.get("selector")),
                                             "field is immutable"))
        return causes


_POD = ("spec", "template")
_DEPLOY = WorkloadStrategy((NAME, _ratio("readyReplicas", "replicas"),
                            _int("Up-to-date", "status", "updatedReplicas"),
                            _int("Available", "status", "availableReplicas"), AGE), _POD, True, True)
_STS = WorkloadStrategy((NAME, _ratio("readyReplicas", "replicas"), AGE), _POD, True, True)
_DS = WorkloadStrategy((NAME, _int("Desired", "status", "desiredNumberScheduled"),
                        _int("Current", "status", "currentNumberScheduled"),
                        _int("Ready", "status", "numberReady"), AGE), _POD, True)
_JOB = WorkloadStrategy((NAME, col("Status", lambda o: "Running" if not get(
    o, "status", "succeeded") else "Complete"), col("Completions", lambda o: "{}/{}".format(
        get(o, "status", "succeeded") or 0, get(o, "spec", "completions") or 1)), AGE),
    _POD, False)
_CRON = WorkloadStrategy((NAME, col("Schedule", lambda o: text(get(o, "spec", "schedule"))),
                          col("Suspend", lambda o: "True" if get(o, "spec", "suspend")
                              else "False"),
                          _int("Active", "status", "active"), AGE),
                         ("spec", "jobTemplate", "spec", "template"), False)

# The autoscaling/v1 Scale over spec.replicas (served by ``scale.py``), as kube-apiserver has it.
_SCALE = ("scale", ("get", "patch", "update"))

RESOURCES = (
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True, False, RW,
             ("deploy",), ("all",), status_subresource=True, strategy=_DEPLOY,
             subresources=(_SCALE,)),
    Resource("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, False, RW,
             ("sts",), ("all",), status_subresource=True, strategy=_STS,
             subresources=(_SCALE,)),
    Resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, False, RW,
             ("ds",), ("all",), status_subresource=True, strategy=_DS),
    Resource("batch", "v1", "jobs", "job", "Job", True, False, RW, (), ("all",),
             status_subresource=True, strategy=_JOB),
    Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True, False, RW, ("cj",),
             ("all",), status_subresource=True, strategy=_CRON),
)
