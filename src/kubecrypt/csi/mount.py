"""``kubecrypt csi mount``: what the Secrets Store CSI driver does for one volume of one pod
(nodeserver.go NodePublishVolume, provider_client.go, the SecretProviderClassPodStatus
controller; v1.6.0), by hand, against any provider socket.

1. read the Pod and its volume (driver ``secrets-store.csi.k8s.io``), then the
   SecretProviderClass named by ``volumeAttributes.secretProviderClass``;
2. ``attributes`` = SPC parameters overlaid by the volume context (the volume's attributes,
   pod name/namespace/uid, service account, ``ephemeral``) plus one TokenRequest per audience
   (what the CSIDriver's ``tokenRequests`` make kubelet do) under
   ``csi.storage.k8s.io/serviceAccount.tokens``; ``secrets`` = the nodePublishSecretRef Secret
   as a JSON map (``null`` without one); ``permission`` = ``"420"``;
3. dial ``unix:<providers-dir>/<provider>.sock`` (authority ``localhost``), ``Version``, ``Mount``;
4. validate and write the files with kubelet's atomic layout, create or update the
   SecretProviderClassPodStatus, and sync ``secretObjects`` to Secrets (managed label, owner
   references = the pod's owners, else the SPCPS)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc

from kubecrypt.csi.files import read_mounted, write_payloads
from kubecrypt.csi.proto import v1alpha1_pb2, v1alpha1_pb2_grpc
from kubecrypt.errors import KubecryptError
from kubecrypt.kube.client import KubeClient, status_message

DRIVER = "secrets-store.csi.k8s.io"
GROUP = "secrets-store.csi.x-k8s.io"
SPC_PATH = f"/apis/{GROUP}/v1/namespaces/{{ns}}/secretproviderclasses/{{name}}"
SPCPS_PATH = f"/apis/{GROUP}/v1/namespaces/{{ns}}/secretproviderclasspodstatuses"
PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_-]{0,30}$")
DEFAULT_PROVIDERS_DIRS = ("/var/run/secrets-store-csi-providers",
                          "/etc/kubernetes/secrets-store-csi-providers")
MANAGED_LABEL = "secrets-store.csi.k8s.io/managed"
NODE_LABEL = "internal.secrets-store.csi.k8s.io/node-name"
PERMISSION = "420"  # json.Marshal(os.FileMode(0644))
TOKEN_SECONDS = 3600
MOUNT_TIMEOUT = 60.0


class MountFailed(KubecryptError):
    """The mount could not be done; one sentence naming the object and the fix."""


@dataclass
class Plan:
    """Everything the driver sends, before it is sent (``--dry-run`` prints it, tokens hidden)."""

    provider: str
    spc: dict[str, Any]
    pod: dict[str, Any]
    volume: str
    attributes: dict[str, str]
    secrets: str
    target: str


@dataclass
class Result:
    files: dict[str, tuple[bytes, int]]
    versions: dict[str, str]
    changed: list[str] = field(default_factory=list)
    secrets_synced: list[str] = field(default_factory=list)


def _get(client: KubeClient, path: str, what: str, fix: str) -> dict[str, Any]:
    status, body = client.request("GET", path)
    if status == 404:
        raise MountFailed(f"{what} does not exist; {fix}")
    if status // 100 != 2:
        raise MountFailed(f"cannot read {what}: {status_message(status, body)}")
    doc: dict[str, Any] = json.loads(body)
    return doc


def _send(client: KubeClient, method: str, path: str, body: dict[str, Any], what: str
          ) -> tuple[int, dict[str, Any]]:
    status, raw = client.request(method, path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    if status // 100 != 2 and status != 409:
        raise MountFailed(f"cannot write {what}: {status_message(status, raw)}")
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {}


def _q(s: str) -> str:
    return quote(s, safe="")


def plan(client: KubeClient, namespace: str, pod_name: str, volume: str, target: str,
         audiences: list[str]) -> Plan:
    pod = _get(client, f"/api/v1/namespaces/{_q(namespace)}/pods/{_q(pod_name)}",
               f"pod {namespace}/{pod_name}", "check --namespace and --pod")
    vols = [v for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("name") == volume]
    if not vols:
        names = ", ".join(str(v.get("name")) for v in pod["spec"].get("volumes") or []) or "none"
        raise MountFailed(f"pod {namespace}/{pod_name} has no volume {volume!r} (it has {names})")
    csi = vols[0].get("csi") or {}
    if csi.get("driver") != DRIVER:
        raise MountFailed(f"volume {volume!r} of pod {namespace}/{pod_name} is not a "
                          f"{DRIVER} CSI volume")
    if not csi.get("readOnly"):
        raise MountFailed(f"volume {volume!r}: the driver requires readOnly: true")
    vol_attrs = {str(k): str(v) for k, v in (csi.get("volumeAttributes") or {}).items()}
    spc_name = vol_attrs.get("secretProviderClass", "")
    if not spc_name:
        raise MountFailed(f"volume {volume!r} has no volumeAttributes.secretProviderClass")
    spc = _get(client, SPC_PATH.format(ns=_q(namespace), name=_q(spc_name)),
               f"SecretProviderClass {namespace}/{spc_name}",
               "create it in the pod's namespace (SecretProviderClasses are namespaced)")
    spec = spc.get("spec") or {}
    provider = str(spec.get("provider") or "")
    if not provider or not PROVIDER_NAME.match(provider):
        raise MountFailed(f"SecretProviderClass {namespace}/{spc_name}: spec.provider "
                          f"{provider!r} is not a valid provider name (1-30 letters, digits, "
                          "'_', '-'); it names the provider's socket <provider>.sock")
    params = {str(k): str(v) for k, v in (spec.get("parameters") or {}).items()}
    if not params:
        raise MountFailed(f"parameters not set in {namespace}/{spc_name}; the driver refuses "
                          "a SecretProviderClass without spec.parameters")
    meta = pod.get("metadata") or {}
    sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    attributes = {**params, **vol_attrs,
                  "csi.storage.k8s.io/pod.name": pod_name,
                  "csi.storage.k8s.io/pod.namespace": namespace,
                  "csi.storage.k8s.io/pod.uid": str(meta.get("uid", "")),
                  "csi.storage.k8s.io/serviceAccount.name": sa,
                  "csi.storage.k8s.io/ephemeral": "true"}
    if audiences:
        attributes["csi.storage.k8s.io/serviceAccount.tokens"] = json.dumps(
            _tokens(client, namespace, sa, pod_name, str(meta.get("uid", "")), audiences))
    secrets = "null"
    ref = (csi.get("nodePublishSecretRef") or {}).get("name")
    if ref:
        secret = _get(client, f"/api/v1/namespaces/{_q(namespace)}/secrets/{_q(ref)}",
                      f"nodePublishSecretRef Secret {namespace}/{ref}", "create it or drop the ref")
        data = {k: base64.b64decode(v).decode("utf-8", "replace")
                for k, v in (secret.get("data") or {}).items()}
        secrets = json.dumps(data)
    return Plan(provider, spc, pod, volume, attributes, secrets, target)


def _tokens(client: KubeClient, ns: str, sa: str, pod: str, uid: str, audiences: list[str]
            ) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for audience in audiences:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience], "expirationSeconds": TOKEN_SECONDS,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod,
                                            "uid": uid}}}
        status, doc = _send(client, "POST",
                            f"/api/v1/namespaces/{_q(ns)}/serviceaccounts/{_q(sa)}/token", body,
                            f"a token for service account {ns}/{sa}")
        st = doc.get("status") or {}
        if status // 100 != 2 or not st.get("token"):
            raise MountFailed(f"TokenRequest for {ns}/{sa} (audience {audience!r}) gave no token")
        out[audience] = {"token": st["token"],
                         "expirationTimestamp": str(st.get("expirationTimestamp", ""))}
    return out


def provider_socket(provider: str, dirs: list[str]) -> str:
    for d in dirs:
        p = Path(d) / f"{provider}.sock"
        if p.exists():
            return str(p)
    raise MountFailed(f"provider not found: no {provider}.sock in {', '.join(dirs)}; start the "
                      f"provider with --socket <dir>/{provider}.sock (the socket's name must be "
                      "the SecretProviderClass's spec.provider)")


def call_mount(socket: str, p: Plan, current: dict[str, str]) -> Any:
    options = [("grpc.default_authority", "localhost"),
               ("grpc.max_receive_message_length", 4 * 1024 * 1024)]
    with grpc.insecure_channel(f"unix:{socket}", options=options) as channel:
        stub = v1alpha1_pb2_grpc.CSIDriverProviderStub(channel)
        try:
            stub.Version(v1alpha1_pb2.VersionRequest(version="v1alpha1"), timeout=10)
            return stub.Mount(v1alpha1_pb2.MountRequest(
                attributes=json.dumps(p.attributes), secrets=p.secrets, target_path=p.target,
                permission=PERMISSION,
                current_object_version=[v1alpha1_pb2.ObjectVersion(id=k, version=v)
                                        for k, v in current.items()]), timeout=MOUNT_TIMEOUT)
        except grpc.RpcError as exc:
            code = exc.code().name if exc.code() else "UNKNOWN"  # type: ignore[union-attr]
            raise MountFailed(f"provider {p.provider!r} failed the mount ({code}): "
                              f"{exc.details()}") from None  # type: ignore[union-attr]


def mount(client: KubeClient, p: Plan, socket: str, node: str = "") -> Result:
    spcps_name = f"{p.pod['metadata']['name']}-{p.pod['metadata']['namespace']}-{p.spc['metadata']['name']}"
    ns = p.pod["metadata"]["namespace"]
    status, existing = client.request(
        "GET", f"{SPCPS_PATH.format(ns=_q(ns))}/{_q(spcps_name)}")
    old = json.loads(existing) if status == 200 else None
    current = {o["id"]: o["version"] for o in ((old or {}).get("status") or {}).get("objects") or []}
    resp = call_mount(socket, p, {})
    if resp.error and resp.error.code:
        raise MountFailed(f"provider {p.provider!r} failed the mount with error code "
                          f"{resp.error.code}")
    if not resp.object_version:
        raise MountFailed(f"provider {p.provider!r} returned no object versions (the driver "
                          "fails such a mount: missing object versions)")
    files = {f.path: (bytes(f.contents), int(f.mode)) for f in resp.files}
    if not files:
        raise MountFailed(f"provider {p.provider!r} returned no files; kubecrypt's driver side "
                          "only supports providers that return files (driver-written mounts)")
    write_payloads(p.target, files)
    versions = {o.id: o.version for o in resp.object_version}
    result = Result(files, versions,
                    changed=sorted(k for k, v in versions.items() if current.get(k) != v))
    spcps = _write_spcps(client, p, spcps_name, versions, node or
                         (p.pod.get("spec") or {}).get("nodeName") or "kubecrypt-local", old)
    result.secrets_synced = sync_secrets(client, p, spcps)
    return result


def _write_spcps(client: KubeClient, p: Plan, name: str, versions: dict[str, str], node: str,
                 old: dict[str, Any] | None) -> dict[str, Any]:
    ns = p.pod["metadata"]["namespace"]
    body: dict[str, Any] = {
        "apiVersion": f"{GROUP}/v1", "kind": "SecretProviderClassPodStatus",
        "metadata": {"name": name, "namespace": ns, "labels": {NODE_LABEL: node},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Pod",
                                          "name": p.pod["metadata"]["name"],
                                          "uid": p.pod["metadata"].get("uid", "")}]},
        "status": {"podName": p.pod["metadata"]["name"],
                   "secretProviderClassName": p.spc["metadata"]["name"], "mounted": True,
                   "targetPath": p.target,
                   "objects": [{"id": k, "version": v} for k, v in sorted(versions.items())]}}
    base = SPCPS_PATH.format(ns=_q(ns))
    if old is None:
        _, doc = _send(client, "POST", base, body, f"SecretProviderClassPodStatus {ns}/{name}")
    else:
        body["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion", "")
        _, doc = _send(client, "PUT", f"{base}/{_q(name)}", body,
                       f"SecretProviderClassPodStatus {ns}/{name}")
    return doc or body


def sync_secrets(client: KubeClient, p: Plan, spcps: dict[str, Any]) -> list[str]:
    """``secretObjects``: one Secret each, from the mounted files named by ``objectName``."""
    objects = (p.spc.get("spec") or {}).get("secretObjects") or []
    if not objects:
        return []
    ns = p.pod["metadata"]["namespace"]
    mounted = read_mounted(p.target)
    owners = [{k: o[k] for k in ("apiVersion", "kind", "name", "uid") if k in o}
              for o in p.pod["metadata"].get("ownerReferences") or []]
    if not owners:
        owners = [{"apiVersion": f"{GROUP}/v1", "kind": "SecretProviderClassPodStatus",
                   "name": spcps["metadata"]["name"], "uid": spcps["metadata"].get("uid", "")}]
    synced = []
    for so in objects:
        name, typ, items = so.get("secretName"), so.get("type"), so.get("data") or []
        if not name or not typ or not items:
            raise MountFailed(f"secretObjects entry {name or '?'!r} needs secretName, type and "
                              "data")
        data = {}
        for item in items:
            obj, key = item.get("objectName"), item.get("key")
            if obj not in mounted:
                raise MountFailed(f"secretObjects {name!r}: objectName {obj!r} is not a file of "
                                  f"the mount (files: {', '.join(sorted(mounted))})")
            data[str(key)] = base64.b64encode(mounted[obj]).decode()
        labels = {**(so.get("labels") or {}), MANAGED_LABEL: "true"}
        body = {"apiVersion": "v1", "kind": "Secret", "type": typ, "data": data,
                "metadata": {"name": name, "namespace": ns, "labels": labels,
                             "annotations": so.get("annotations") or {},
                             "ownerReferences": owners}}
        path = f"/api/v1/namespaces/{_q(ns)}/secrets"
        status, raw = client.request("GET", f"{path}/{_q(name)}")
        if status == 404:
            _send(client, "POST", path, body, f"Secret {ns}/{name}")
        elif status == 200:
            old = json.loads(raw)
            if (old["metadata"].get("labels") or {}).get(MANAGED_LABEL) != "true":
                raise MountFailed(f"Secret {ns}/{name} exists and is not managed by the driver "
                                  f"(no {MANAGED_LABEL}=true label); rename secretName")
            body["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion", "")
            _send(client, "PUT", f"{path}/{_q(name)}", body, f"Secret {ns}/{name}")
        else:
            raise MountFailed(f"cannot read Secret {ns}/{name}: {status_message(status, raw)}")
        synced.append(name)
    return synced


