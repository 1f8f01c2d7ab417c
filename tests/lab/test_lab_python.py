"""A Python client (lightkube) against the lab: the controller's view of the API."""

from __future__ import annotations

import ssl
import subprocess
import time
from collections.abc import Callable, Iterator

import httpx2 as httpx
import pytest
from lightkube import ApiError, Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Secret
from lightkube.types import PatchType

from .conftest import LabHandle

SealedSecret = create_namespaced_resource("bitnami.com", "v1alpha1", "SealedSecret",
                                          "sealedsecrets")


@pytest.fixture(scope="module")
def client(lab: LabHandle) -> Iterator[Client]:
    c = Client(KubeConfig.from_file(lab.lab.kubeconfig))
    yield c
    c.close()


@pytest.fixture
def ns(client: Client, unique: Callable[[str], str]) -> str:
    name = unique("py")
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


def test_crud_and_conflict(client: Client, ns: str) -> None:
    created = client.create(Secret(metadata=ObjectMeta(name="s"), stringData={"k": "v"}),
                            namespace=ns)
    assert created.data == {"k": "dg=="} and created.type == "Opaque"
    got = client.get(Secret, "s", namespace=ns)
    assert got.metadata.uid == created.metadata.uid
    got.metadata.labels = {"x": "1"}
    updated = client.replace(got)
    assert int(updated.metadata.resourceVersion) > int(created.metadata.resourceVersion)
    got.metadata.labels = {"x": "2"}  # still carries the old resourceVersion
    with pytest.raises(ApiError) as err:
        client.replace(got)
    assert err.value.status.code == 409 and err.value.status.reason == "Conflict"
    with pytest.raises(ApiError) as err:
        client.create(Secret(metadata=ObjectMeta(name="s")), namespace=ns)
    assert err.value.status.code == 409 and err.value.status.reason == "AlreadyExists"
    client.delete(Secret, "s", namespace=ns)
    with pytest.raises(ApiError) as err:
        client.get(Secret, "s", namespace=ns)
    assert err.value.status.code == 404


def test_noop_update_keeps_resource_version(client: Client, ns: str) -> None:
    created = client.create(Secret(metadata=ObjectMeta(name="same"), data={"a": "YQ=="}),
                            namespace=ns)
    again = client.replace(created)
    assert again.metadata.resourceVersion == created.metadata.resourceVersion


def test_list_selectors_and_paging(client: Client, ns: str) -> None:
    for i in range(5):
        client.create(Secret(metadata=ObjectMeta(name=f"item-{i}",
                                                 labels={"parity": "odd" if i % 2 else "even"})),
                      namespace=ns)
    names = [s.metadata.name for s in client.list(Secret, namespace=ns, chunk_size=2)]
    assert names == [f"item-{i}" for i in range(5)]
    odd = [s.metadata.name for s in client.list(Secret, namespace=ns, labels={"parity": "odd"})]
    assert odd == ["item-1", "item-3"]
    one = list(client.list(Secret, namespace=ns, fields={"metadata.name": "item-2"}))
    assert [s.metadata.name for s in one] == ["item-2"]


def test_watch_resumes_from_resource_version(client: Client, ns: str) -> None:
    first = client.create(Secret(metadata=ObjectMeta(name="w")), namespace=ns)
    client.patch(Secret, "w", {"metadata": {"labels": {"step": "2"}}}, namespace=ns)
    client.delete(Secret, "w", namespace=ns)
    events = []
    for kind, obj in client.watch(Secret, namespace=ns,
                                  resource_version=first.metadata.resourceVersion,
                                  server_timeout=2):
        events.append((kind, obj.metadata.name))
        if kind == "DELETED":
            break
    assert events == [("MODIFIED", "w"), ("DELETED", "w")]


def test_lease_leader_election_style(client: Client, ns: str) -> None:
    lease = client.create(Lease(metadata=ObjectMeta(name="leader"),
                                spec=LeaseSpec(holderIdentity="a", leaseDurationSeconds=15)),
                          namespace=ns)
    lease.spec.holderIdentity = "b"
    client.replace(lease)
    lease.spec.holderIdentity = "c"
    with pytest.raises(ApiError) as err:
        client.replace(lease)  # lost the race
    assert err.value.status.code == 409
    assert client.get(Lease, "leader", namespace=ns).spec.holderIdentity == "b"


def test_sealed_secret_status_and_owner_cleanup(client: Client, ns: str, lab: LabHandle) -> None:
    ss = client.create(SealedSecret(metadata=ObjectMeta(name="ss"),
                                    spec={"encryptedData": {"k": "AgBy..."}}), namespace=ns)
    assert ss.metadata.generation == 1
    client.patch(SealedSecret.Status, "ss", {"status": {"conditions": [
        {"type": "Synced", "status": "True", "message": "ok"}]}},
        namespace=ns, patch_type=PatchType.MERGE)
    got = client.get(SealedSecret, "ss", namespace=ns)
    assert got.status["conditions"][0]["status"] == "True"
    assert got.metadata.generation == 1
    client.create(Secret(metadata=ObjectMeta(name="ss", ownerReferences=[OwnerReference(
        apiVersion="bitnami.com/v1alpha1", kind="SealedSecret", name="ss",
        uid=ss.metadata.uid, controller=True)]), data={"k": "dg=="}), namespace=ns)
    table = lab.kubectl("get", "sealedsecrets", "-n", ns).stdout.split()
    assert table[:4] == ["NAME", "STATUS", "SYNCED", "AGE"] and "ok" in table
    client.delete(SealedSecret, "ss", namespace=ns)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.get(Secret, "ss", namespace=ns)
        except ApiError as exc:
            assert exc.status.code == 404
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the owned Secret was not garbage-collected")


def test_finalizer_holds_deletion(client: Client, ns: str) -> None:
    client.create(Secret(metadata=ObjectMeta(name="held", finalizers=["example.com/hold"])),
                  namespace=ns)
    client.delete(Secret, "held", namespace=ns)
    held = client.get(Secret, "held", namespace=ns)
    assert held.metadata.deletionTimestamp is not None
    client.patch(Secret, "held", [{"op": "remove", "path": "/metadata/finalizers"}],
                 namespace=ns, patch_type=PatchType.JSON)
    with pytest.raises(ApiError) as err:
        client.get(Secret, "held", namespace=ns)
    assert err.value.status.code == 404


def test_server_side_apply_creates_then_merges(client: Client, ns: str) -> None:
    obj = Secret(apiVersion="v1", kind="Secret", metadata=ObjectMeta(name="ssa", namespace=ns),
                 stringData={"a": "1"})
    client.apply(obj, field_manager="test")
    obj.stringData = {"b": "2"}
    client.apply(obj, field_manager="test")
    assert set(client.get(Secret, "ssa", namespace=ns).data) == {"a", "b"}


def _raw(lab: LabHandle) -> httpx.Client:
    ca = ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))
    return httpx.Client(base_url=lab.lab.server, verify=ca,
                        headers={"Authorization": f"Bearer {lab.lab.token}"})


def test_malformed_bodies_are_400(lab: LabHandle) -> None:
    with _raw(lab) as http:
        r = http.post("/api/v1/namespaces/default/secrets", content=b"{nope",
                      headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
        r = http.post("/api/v1/namespaces/default/secrets", content=b"k8s\x00\x0a\xff\xff",
                      headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
        assert r.status_code == 400
        r = http.post("/api/v1/namespaces/default/secrets",
                      content=b'{"metadata":{"name":"b64"},"data":{"a":"***"}}')
        assert r.status_code == 400 and "base64" in r.json()["message"]
        r = http.post("/api/v1/namespaces/default/secrets",
                      content=b'{"metadata":{"name":"lbl","labels":{"a":1}}}')
        assert r.status_code == 400 and "metadata.labels" in r.json()["message"]
        r = http.post("/api/v1/namespaces/default/secrets", content=b'["not an object"]')
        assert r.status_code == 400
        r = http.get("/api/v1/namespaces/default/secrets", headers={"Authorization": "Bearer x"})
        assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"


def test_watch_timeout_and_expired(lab: LabHandle) -> None:
    with _raw(lab) as http:
        start = time.monotonic()
        r = http.get("/api/v1/namespaces/kube-public/secrets",
                     params={"watch": "true", "timeoutSeconds": "1", "resourceVersion": "1"})
        assert r.status_code == 200 and time.monotonic() - start < 5
        rev = int(http.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])
        subprocess.run(["etcdctl", f"--endpoints={lab.etcd}", "compact", str(rev)],
                       capture_output=True, check=True, timeout=30)
        r = http.get("/api/v1/namespaces/kube-public/secrets",
                     params={"watch": "true", "resourceVersion": "2", "timeoutSeconds": "5"})
        event = r.json()
        assert event["type"] == "ERROR" and event["object"]["code"] == 410
        assert event["object"]["message"].startswith("too old resource version: 2 (")


def test_terminating_namespace_waits_for_finalizers(client: Client, ns: str,
                                                    lab: LabHandle) -> None:
    client.create(Secret(metadata=ObjectMeta(name="held", finalizers=["example.com/hold"])),
                  namespace=ns)
    client.delete(Namespace, ns)
    time.sleep(0.5)  # the namespace controller runs, but the finalizer holds the Secret
    assert client.get(Namespace, ns).status.phase == "Terminating"
    with pytest.raises(ApiError) as err:
        client.create(Secret(metadata=ObjectMeta(name="late")), namespace=ns)
    assert err.value.status.code == 403 and "being terminated" in err.value.status.message
    client.patch(Secret, "held", {"metadata": {"finalizers": None}}, namespace=ns,
                 patch_type=PatchType.MERGE)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.get(Namespace, ns)
        except ApiError as exc:
            assert exc.status.code == 404
            break
        assert time.monotonic() < deadline, "the namespace was not removed"
        time.sleep(0.1)


def test_namespace_finalize_subresource(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("fin")
    with _raw(lab) as http:
        assert http.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code \
            == 201
        r = http.put(f"/api/v1/namespaces/{name}/finalize",
                     json={"metadata": {"name": name}, "spec": {"finalizers": []}})
        assert r.status_code == 200 and r.json()["spec"] == {}
        assert r.json()["status"] == {"phase": "Active"}
        r = http.delete(f"/api/v1/namespaces/{name}")
        assert r.status_code == 200  # nothing holds it: gone at once
        assert http.get(f"/api/v1/namespaces/{name}").status_code == 404


def test_discovery_version_and_openapi(lab: LabHandle) -> None:
    with _raw(lab) as http:
        agg = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        r = http.get("/apis", headers={"Accept": f"{agg},application/json"})
        assert r.headers["content-type"] == agg
        groups = {i["metadata"]["name"] for i in r.json()["items"]}
        assert groups == {"bitnami.com", "coordination.k8s.io", "apps", "batch",
                          "rbac.authorization.k8s.io", "apiextensions.k8s.io",
                          "authentication.k8s.io", "authorization.k8s.io"}
        r = http.get("/apis/", headers={"Accept": "application/json"})  # kr8s' trailing slash
        assert r.json()["kind"] == "APIGroupList"
        r = http.get("/api/v1")
        names = {x["name"] for x in r.json()["resources"]}
        assert {"secrets", "namespaces", "namespaces/status"} <= names
        r = http.get("/openapi/v2", headers={
            "Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
        assert r.status_code == 200 and r.content == b""
        assert r.headers["content-type"].startswith("application/com.github.proto-openapi")
        anonymous = httpx.get(f"{lab.lab.server}/version", verify=ssl.create_default_context(
            cafile=str(lab.dir / "pki" / "ca.crt")))
        assert anonymous.json()["gitVersion"].startswith("v1.32.")
        assert httpx.get(f"{lab.lab.server}/api/v1/secrets", verify=ssl.create_default_context(
            cafile=str(lab.dir / "pki" / "ca.crt"))).status_code == 401


def _watches(http: httpx.Client) -> int:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("kubecrypt_lab_watches "):
            return int(line.split()[1])
    raise AssertionError("no kubecrypt_lab_watches in /metrics")


def test_closed_watches_are_released(lab: LabHandle) -> None:
    with _raw(lab) as http:
        before = _watches(http)
        for _ in range(5):
            with http.stream("GET", "/api/v1/namespaces", params={"watch": "1"}) as r:
                assert r.status_code == 200
                next(r.iter_lines())  # at least one ADDED: the stream is live
        deadline = time.monotonic() + 10
        while _watches(http) != before:
            assert time.monotonic() < deadline, "watch streams leak after the client left"
            time.sleep(0.1)
