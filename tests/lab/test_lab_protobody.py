"""Protobuf request bodies of workloads (kubectl >= 1.32's typed clients for ``create
deployment|job|cronjob|service``) and the ``deployments/scale`` subresource ``kubectl scale``
patches: the real kubectl against the lab, and the decoder on bodies built by hand from the
field numbers of k8s.io/api ``generated.proto``."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable

import httpx2 as httpx
import pytest

from kubecrypt.lab.apiserver import protobody
from kubecrypt.storage import codec
from kubecrypt.storage.wire import field_bytes, field_str, field_varint

from .conftest import LabHandle

# ----------------------------------------------------------------------------- the real kubectl


@pytest.mark.parametrize("kind, args", [
    ("deployment", ["--image=nginx:1.27", "--replicas=3", "--port=8080", "--", "sh", "-c", "x"]),
    ("job", ["--image=busybox", "--", "echo", "hi"]),
    ("cronjob", ["--image=busybox", "--schedule=*/5 * * * *", "--restart=Never", "--", "date"]),
], ids=["deployment", "job", "cronjob"])
def test_kubectl_create_stores_what_kubectl_sent(lab: LabHandle, unique: Callable[[str], str],
                                                 kind: str, args: list[str]) -> None:
    name = unique(kind[:3])
    # kubectl's own JSON of the object it is about to send as protobuf.
    sent = json.loads(lab.kubectl("create", kind, name, "--dry-run=client", "-o", "json",
                                  *args).stdout)
    lab.kubectl("create", kind, name, *args)
    stored = lab.kubectl_json("get", kind, name)
    assert stored["spec"] == sent["spec"]
    assert stored["metadata"].get("labels") == sent["metadata"].get("labels")
    pod = stored["spec"]["template"] if kind != "cronjob" else \
        stored["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == args[0].removeprefix("--image=")
    if kind == "deployment":
        assert stored["spec"]["replicas"] == 3
        assert stored["spec"]["selector"] == {"matchLabels": {"app": name}}
        assert pod["metadata"]["labels"] == {"app": name}
        assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]
    if kind == "cronjob":
        assert stored["spec"]["schedule"] == "*/5 * * * *"
        assert pod["spec"]["restartPolicy"] == "Never"


def test_kubectl_create_job_from_cronjob_keeps_owner(lab: LabHandle,
                                                     unique: Callable[[str], str]) -> None:
    cron, job = unique("cj"), unique("job")
    lab.kubectl("create", "cronjob", cron, "--image=busybox", "--schedule=0 * * * *")
    lab.kubectl("create", "job", job, f"--from=cronjob/{cron}")
    meta = lab.kubectl_json("get", "job", job)["metadata"]
    uid = lab.kubectl_json("get", "cronjob", cron)["metadata"]["uid"]
    assert meta["ownerReferences"] == [{"apiVersion": "batch/v1", "controller": True,
                                        "kind": "CronJob", "name": cron, "uid": uid}]
    assert meta["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}


def test_kubectl_create_service(lab: LabHandle, unique: Callable[[str], str]) -> None:
    ip, np = unique("ip"), unique("np")
    lab.kubectl("create", "service", "clusterip", ip, "--tcp=80:8080", "--tcp=443:https")
    spec = lab.kubectl_json("get", "service", ip)["spec"]
    assert spec["type"] == "ClusterIP" and spec["selector"] == {"app": ip}
    assert spec["ports"] == [
        {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "443-https", "port": 443, "protocol": "TCP", "targetPort": "https"}]
    lab.kubectl("create", "service", "nodeport", np, "--tcp=80:8080", "--node-port=30080")
    spec = lab.kubectl_json("get", "service", np)["spec"]
    assert spec["type"] == "NodePort" and spec["ports"][0]["nodePort"] == 30080


_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}, matchExpressions: [{{key: tier, operator: In,
              values: [web, api]}}]}}
  template:
    metadata: {{labels: {{app: {name}, tier: web}}}}
    spec: {{containers: [{{name: c, image: nginx}}]}}
"""


def test_kubectl_scale_deployment(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("scale")
    lab.kubectl("apply", "-f", "-", input=_DEPLOYMENT.format(name=name))
    before = lab.kubectl_json("get", "deployment", name)
    assert before["spec"]["replicas"] == 1
    lab.kubectl("scale", "deployment", name, "--replicas=4")
    after = lab.kubectl_json("get", "deployment", name)
    assert after["spec"]["replicas"] == 4
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert after["spec"]["template"] == before["spec"]["template"]
    wrong = lab.kubectl("scale", "deployment", name, "--current-replicas=2", "--replicas=1",
                        check=False)
    assert wrong.returncode != 0 and "Expected replicas to be 2, was 4" in wrong.stderr
    lab.kubectl("scale", "deployment", name, "--current-replicas=4", "--replicas=0")
    assert lab.kubectl_json("get", "deployment", name)["spec"]["replicas"] == 0

    path = f"/apis/apps/v1/namespaces/default/deployments/{name}/scale"
    scale = json.loads(lab.kubectl("get", "--raw", path).stdout)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {}  # replicas 0 is omitempty in ScaleSpec
    assert scale["status"] == {"replicas": 0, "selector": f"app={name},tier in (api,web)"}
    scale["spec"]["replicas"] = 2
    lab.kubectl("replace", "--raw", path, "-f", "-", input=json.dumps(scale))
    assert lab.kubectl_json("get", "deployment", name)["spec"]["replicas"] == 2
    scale = json.loads(lab.kubectl("get", "--raw", path).stdout)
    scale["spec"]["replicas"] = -1
    bad = lab.kubectl("replace", "--raw", path, "-f", "-", input=json.dumps(scale), check=False)
    assert bad.returncode != 0
    assert 'The Scale "' + name + '" is invalid: spec.replicas: Invalid value: -1' in bad.stderr


def test_kubectl_scale_statefulset(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("sts")
    manifest = _DEPLOYMENT.format(name=name).replace("kind: Deployment", "kind: StatefulSet")
    lab.kubectl("apply", "-f", "-", input=manifest)
    lab.kubectl("scale", "statefulset", name, "--replicas=3")
    assert lab.kubectl_json("get", "statefulset", name)["spec"]["replicas"] == 3
    lab.kubectl("patch", "statefulset", name, "--subresource=scale", "--type=json",
                "-p", '[{"op": "replace", "path": "/spec/replicas", "value": 5}]')
    assert lab.kubectl_json("get", "statefulset", name)["spec"]["replicas"] == 5


def _raw(lab: LabHandle) -> httpx.Client:
    ca = ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))
    return httpx.Client(base_url=lab.lab.server, verify=ca,
                        headers={"Authorization": f"Bearer {lab.lab.token}"})


def test_unknown_protobuf_field_is_refused(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("unknown")
    # PodSpec field 18 is affinity, which the lab's schema does not decode.
    pod = _pod_spec(field_bytes(18, field_bytes(1, field_bytes(1, b"x"))))
    body = _envelope("apps/v1", "Deployment", _deployment(name, pod))
    with _raw(lab) as http:
        r = http.post("/apis/apps/v1/namespaces/default/deployments", content=body,
                      headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status_code == 415, r.text
    message = r.json()["message"]
    assert "Deployment protobuf body sets field number 18 of spec.template.spec" in message
    assert "kubectl apply -f" in message
    gone = lab.kubectl("get", "deployment", name, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


# ----------------------------------------------------------------------------- the decoder


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field_str(1, api_version) + field_str(2, kind)
    return codec.MAGIC + field_bytes(1, type_meta) + field_bytes(2, raw)


def _meta(name: str, **labels: str) -> bytes:
    out = field_str(1, name)
    for k, v in labels.items():
        out += field_bytes(11, field_str(1, k) + field_str(2, v))
    return out


def _container() -> bytes:
    quantity = field_bytes(2, field_str(1, "500m"))  # map entry value: Quantity{string: 500m}
    secret_ref = field_bytes(1, field_str(1, "db")) + field_str(2, "password")
    env = field_str(1, "PASS") + field_bytes(3, field_bytes(4, secret_ref))
    return (field_str(1, "app") + field_str(2, "nginx:1.27") + field_str(3, "sh")
            + field_str(4, "-c") + field_bytes(6, field_varint(3, 80) + field_str(4, "TCP"))
            + field_bytes(7, env) + field_bytes(8, field_bytes(1, field_str(1, "cpu") + quantity))
            + field_bytes(9, field_str(1, "creds") + field_varint(2, 1) + field_str(3, "/etc/c"))
            + field_varint(16, 0)  # stdin false: a plain bool, written though unset
            + field_str(14, "IfNotPresent"))


def _pod_spec(extra: bytes = b"") -> bytes:
    secret_volume = field_str(1, "creds") + field_bytes(2, field_bytes(6, field_str(1, "db")))
    empty_volume = field_str(1, "tmp") + field_bytes(2, field_bytes(2, b""))
    return (field_bytes(1, secret_volume) + field_bytes(1, empty_volume)
            + field_bytes(2, _container()) + field_str(3, "Always")
            + field_bytes(7, field_str(1, "disk") + field_str(2, "ssd"))
            + field_str(8, "app-sa") + field_varint(11, 0) + field_str(16, "") + extra)


def _deployment(name: str, pod: bytes) -> bytes:
    selector = field_bytes(1, field_str(1, "app") + field_str(2, name))
    rolling = (field_bytes(1, field_varint(1, 0) + field_varint(2, 1))
               + field_bytes(2, field_varint(1, 1) + field_str(3, "25%")))
    spec = (field_varint(1, 3) + field_bytes(2, selector)
            + field_bytes(3, field_bytes(1, _meta("", app=name)) + field_bytes(2, pod))
            + field_bytes(4, field_str(1, "RollingUpdate") + field_bytes(2, rolling))
            + field_varint(5, 0))
    status = field_varint(1, 0) + field_varint(2, 0)  # a plain struct: written though empty
    return field_bytes(1, _meta(name)) + field_bytes(2, spec) + field_bytes(3, status)


def test_decode_deployment() -> None:
    obj = protobody.decode(_envelope("apps/v1", "Deployment", _deployment("web", _pod_spec())))
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    assert obj["metadata"]["name"] == "web" and "status" not in obj
    spec = obj["spec"]
    assert spec["replicas"] == 3 and "minReadySeconds" not in spec
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}
    pod = spec["template"]["spec"]
    assert pod["volumes"] == [{"name": "creds", "secret": {"secretName": "db"}},
                              {"name": "tmp", "emptyDir": {}}]
    assert pod["restartPolicy"] == "Always" and pod["serviceAccountName"] == "app-sa"
    assert pod["nodeSelector"] == {"disk": "ssd"} and "hostNetwork" not in pod
    assert pod["containers"] == [{
        "name": "app", "image": "nginx:1.27", "command": ["sh"], "args": ["-c"],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db",
                                                                "key": "password"}}}],
        "resources": {"limits": {"cpu": "500m"}},
        "volumeMounts": [{"name": "creds", "readOnly": True, "mountPath": "/etc/c"}],
        "imagePullPolicy": "IfNotPresent"}]


def test_decode_cronjob_and_scale() -> None:
    job_spec = field_varint(7, 0) + field_bytes(6, field_bytes(2, _pod_spec()))
    spec = (field_str(1, "0 3 * * *") + field_varint(4, 0)  # suspend: a pointer, so kept
            + field_bytes(5, field_bytes(1, _meta("")) + field_bytes(2, job_spec)))
    obj = protobody.decode(_envelope("batch/v1", "CronJob",
                                     field_bytes(1, _meta("nightly")) + field_bytes(2, spec)))
    assert obj["spec"]["schedule"] == "0 3 * * *" and obj["spec"]["suspend"] is False
    job = obj["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    assert job["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    scale = protobody.decode(_envelope("autoscaling/v1", "Scale",
                                       field_bytes(1, _meta("web"))
                                       + field_bytes(2, field_varint(1, 5))))
    assert scale["spec"] == {"replicas": 5} and scale["kind"] == "Scale"


def test_decode_pod() -> None:
    pod = protobody.decode(_envelope("v1", "Pod", field_bytes(1, _meta("p", run="p"))
                                     + field_bytes(2, _pod_spec()) + field_bytes(3, b"")))
    assert pod["kind"] == "Pod" and pod["metadata"]["labels"] == {"run": "p"}
    assert pod["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "db"
    assert "status" not in pod


@pytest.mark.parametrize("where, extra, number, path", [
    ("pod", field_bytes(18, field_bytes(1, field_str(1, "zone"))), 18, "spec.template.spec"),
    ("pod", field_varint(99, 1), 99, "spec.template.spec"),
    ("container", field_bytes(12, field_bytes(1, field_bytes(1, field_str(1, "x")))), 12,
     "spec.template.spec.containers"),
], ids=["affinity", "future-field", "lifecycle"])
def test_decode_refuses_unknown_fields(where: str, extra: bytes, number: int, path: str) -> None:
    pod = _pod_spec(extra) if where == "pod" else field_bytes(2, _container() + extra)
    body = _envelope("apps/v1", "Deployment", _deployment("web", pod))
    with pytest.raises(protobody.UnknownField, match=f"field number {number} of {path}$"):
        protobody.decode(body)


def test_decode_skips_unknown_fields_left_at_zero() -> None:
    # gogo-protobuf writes every plain Go field; unset ones (here affinity's empty struct and a
    # false bool the schema does not name) carry nothing and are no reason to refuse.
    pod = _pod_spec(field_bytes(18, field_bytes(1, b"")) + field_varint(35, 0))
    obj = protobody.decode(_envelope("apps/v1", "Deployment", _deployment("web", pod)))
    assert "affinity" not in obj["spec"]["template"]["spec"]
