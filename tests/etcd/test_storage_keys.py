"""The resource -> etcd key table against kube-apiserver's storage layout: every
``ExpectedEtcdPath`` of kubernetes/kubernetes test/integration/etcd/data.go, one case each."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubecrypt.etcd.inspect import ENCRYPTED, UNREADABLE, Inspector, resource_of
from kubecrypt.storage.keys import BUILTIN, etcd_key, parse_etcd_key

from .conftest import keyed, load_config, write_config

NS = "etcdstoragepathtestnamespace"

# (resource as EncryptionConfiguration names it, namespace, name, upstream's ExpectedEtcdPath)
UPSTREAM = [
    ("configmaps", NS, "cm1", f"/registry/configmaps/{NS}/cm1"),
    ("services", NS, "service1", f"/registry/services/specs/{NS}/service1"),
    ("podtemplates", NS, "pt1name", f"/registry/podtemplates/{NS}/pt1name"),
    ("pods", NS, "pod1", f"/registry/pods/{NS}/pod1"),
    ("endpoints", NS, "ep1name", f"/registry/services/endpoints/{NS}/ep1name"),
    ("resourcequotas", NS, "rq1name", f"/registry/resourcequotas/{NS}/rq1name"),
    ("limitranges", NS, "lr1name", f"/registry/limitranges/{NS}/lr1name"),
    ("namespaces", None, "namespace1", "/registry/namespaces/namespace1"),
    ("nodes", None, "node1", "/registry/minions/node1"),
    ("persistentvolumes", None, "pv1name", "/registry/persistentvolumes/pv1name"),
    ("events", NS, "event1", f"/registry/events/{NS}/event1"),
    ("persistentvolumeclaims", NS, "pvc1", f"/registry/persistentvolumeclaims/{NS}/pvc1"),
    ("serviceaccounts", NS, "sa1name", f"/registry/serviceaccounts/{NS}/sa1name"),
    ("secrets", NS, "secret1", f"/registry/secrets/{NS}/secret1"),
    ("replicationcontrollers", NS, "rc1", f"/registry/controllers/{NS}/rc1"),
    ("daemonsets.apps", NS, "ds6", f"/registry/daemonsets/{NS}/ds6"),
    ("deployments.apps", NS, "deployment4", f"/registry/deployments/{NS}/deployment4"),
    ("statefulsets.apps", NS, "ss3", f"/registry/statefulsets/{NS}/ss3"),
    ("replicasets.apps", NS, "rs3", f"/registry/replicasets/{NS}/rs3"),
    ("controllerrevisions.apps", NS, "crs3", f"/registry/controllerrevisions/{NS}/crs3"),
    ("horizontalpodautoscalers.autoscaling", NS, "hpa2",
     f"/registry/horizontalpodautoscalers/{NS}/hpa2"),
    ("jobs.batch", NS, "job1", f"/registry/jobs/{NS}/job1"),
    ("cronjobs.batch", NS, "cjv1", f"/registry/cronjobs/{NS}/cjv1"),
    ("certificatesigningrequests.certificates.k8s.io", None, "csr2",
     "/registry/certificatesigningrequests/csr2"),
    ("clustertrustbundles.certificates.k8s.io", None, "example.com:signer:abc",
     "/registry/clustertrustbundles/example.com:signer:abc"),
    ("podcertificaterequests.certificates.k8s.io", NS, "req-1",
     f"/registry/podcertificaterequests/{NS}/req-1"),
    ("leases.coordination.k8s.io", NS, "leasev1", f"/registry/leases/{NS}/leasev1"),
    ("leasecandidates.coordination.k8s.io", NS, "lc1", f"/registry/leasecandidates/{NS}/lc1"),
    ("endpointslices.discovery.k8s.io", NS, "slicev1", f"/registry/endpointslices/{NS}/slicev1"),
    ("ingresses.networking.k8s.io", NS, "ingress3", f"/registry/ingress/{NS}/ingress3"),
    ("ingressclasses.networking.k8s.io", None, "ingressclass3",
     "/registry/ingressclasses/ingressclass3"),
    ("networkpolicies.networking.k8s.io", NS, "np2", f"/registry/networkpolicies/{NS}/np2"),
    ("ipaddresses.networking.k8s.io", None, "192.168.2.3", "/registry/ipaddresses/192.168.2.3"),
    ("servicecidrs.networking.k8s.io", None, "range-b2", "/registry/servicecidrs/range-b2"),
    ("poddisruptionbudgets.policy", NS, "pdbv1", f"/registry/poddisruptionbudgets/{NS}/pdbv1"),
    ("storageversionmigrations.storagemigration.k8s.io", None, "test-migration",
     "/registry/storageversionmigrations/test-migration"),
    ("flowschemas.flowcontrol.apiserver.k8s.io", None, "fs-3", "/registry/flowschemas/fs-3"),
    ("prioritylevelconfigurations.flowcontrol.apiserver.k8s.io", None, "conf5",
     "/registry/prioritylevelconfigurations/conf5"),
    ("volumeattachments.storage.k8s.io", None, "va3", "/registry/volumeattachments/va3"),
    ("volumeattributesclasses.storage.k8s.io", None, "vac3",
     "/registry/volumeattributesclasses/vac3"),
    ("storageclasses.storage.k8s.io", None, "sc2", "/registry/storageclasses/sc2"),
    ("csistoragecapacities.storage.k8s.io", NS, "csc-12345-3",
     f"/registry/csistoragecapacities/{NS}/csc-12345-3"),
    ("csinodes.storage.k8s.io", None, "csini2", "/registry/csinodes/csini2"),
    ("csidrivers.storage.k8s.io", None, "csid2", "/registry/csidrivers/csid2"),
    ("roles.rbac.authorization.k8s.io", NS, "role3", f"/registry/roles/{NS}/role3"),
    ("clusterroles.rbac.authorization.k8s.io", None, "crole3", "/registry/clusterroles/crole3"),
    ("rolebindings.rbac.authorization.k8s.io", NS, "roleb3", f"/registry/rolebindings/{NS}/roleb3"),
    ("clusterrolebindings.rbac.authorization.k8s.io", None, "croleb3",
     "/registry/clusterrolebindings/croleb3"),
    ("validatingwebhookconfigurations.admissionregistration.k8s.io", None, "hook2",
     "/registry/validatingwebhookconfigurations/hook2"),
    ("mutatingwebhookconfigurations.admissionregistration.k8s.io", None, "hook2",
     "/registry/mutatingwebhookconfigurations/hook2"),
    ("validatingadmissionpolicies.admissionregistration.k8s.io", None, "vap1",
     "/registry/validatingadmissionpolicies/vap1"),
    ("validatingadmissionpolicybindings.admissionregistration.k8s.io", None, "pb1",
     "/registry/validatingadmissionpolicybindings/pb1"),
    ("mutatingadmissionpolicies.admissionregistration.k8s.io", None, "map1v1",
     "/registry/mutatingadmissionpolicies/map1v1"),
    ("mutatingadmissionpolicybindings.admissionregistration.k8s.io", None, "mpb1v1",
     "/registry/mutatingadmissionpolicybindings/mpb1v1"),
    ("priorityclasses.scheduling.k8s.io", None, "pc3", "/registry/priorityclasses/pc3"),
    ("workloads.scheduling.k8s.io", NS, "w1", f"/registry/workloads/{NS}/w1"),
    ("podgroups.scheduling.k8s.io", NS, "pg1", f"/registry/podgroups/{NS}/pg1"),
    ("apiservices.apiregistration.k8s.io", None, "as2.foo.com",
     "/registry/apiregistration.k8s.io/apiservices/as2.foo.com"),
    ("customresourcedefinitions.apiextensions.k8s.io", None,
     "openshiftwebconsoleconfigs.webconsole2.operator.openshift.io",
     "/registry/apiextensions.k8s.io/customresourcedefinitions/"
     "openshiftwebconsoleconfigs.webconsole2.operator.openshift.io"),
    ("foos.cr.bar.com", NS, "cr1foo", f"/registry/cr.bar.com/foos/{NS}/cr1foo"),
    ("pants.custom.fancy.com", None, "cr2pant", "/registry/custom.fancy.com/pants/cr2pant"),
    ("pandas.awesome.bears.com", None, "cr3panda", "/registry/awesome.bears.com/pandas/cr3panda"),
    ("integers.random.numbers.com", None, "fortytwo",
     "/registry/random.numbers.com/integers/fortytwo"),
    ("runtimeclasses.node.k8s.io", None, "rc3", "/registry/runtimeclasses/rc3"),
    ("devicetaintrules.resource.k8s.io", None, "taint1name", "/registry/devicetaintrules/taint1name"),
    ("resourcepoolstatusrequests.resource.k8s.io", None, "rpsr1name",
     "/registry/resourcepoolstatusrequests/rpsr1name"),
    ("deviceclasses.resource.k8s.io", None, "class4name", "/registry/deviceclasses/class4name"),
    ("resourceclaims.resource.k8s.io", NS, "claim4name", f"/registry/resourceclaims/{NS}/claim4name"),
    ("resourceclaimtemplates.resource.k8s.io", NS, "claimtemplate4name",
     f"/registry/resourceclaimtemplates/{NS}/claimtemplate4name"),
    ("resourceslices.resource.k8s.io", None, "node4slice", "/registry/resourceslices/node4slice"),
    ("storageversions.internal.apiserver.k8s.io", None, "sv1.test",
     "/registry/storageversions/sv1.test"),
]


@pytest.mark.parametrize(("resource", "ns", "name", "path"), UPSTREAM,
                         ids=[u[0] for u in UPSTREAM])
def test_upstream_etcd_path(resource: str, ns: str | None, name: str, path: str) -> None:
    assert etcd_key(resource, ns, name) == path
    assert parse_etcd_key(path) == (resource, ns, name)
    assert etcd_key(resource, ns, name, prefix="/other/") == "/other" + path[len("/registry"):]
    assert parse_etcd_key("/other" + path[len("/registry"):], "/other") == (resource, ns, name)


def test_every_builtin_entry_is_checked_against_upstream() -> None:
    custom = {"cr.bar.com", "custom.fancy.com", "awesome.bears.com", "random.numbers.com"}
    checked = {(r.partition(".")[0], r.partition(".")[2]) for r, *_ in UPSTREAM}
    # Stored with another group's objects (test_groups_sharing_storage).
    aliases = {("events", "events.k8s.io"), ("ingresses", "extensions")}
    assert set(BUILTIN) - aliases == {k for k in checked if k[1] not in custom}


@pytest.mark.parametrize(
    ("resource", "path", "parsed"),
    [
        ("events.events.k8s.io", f"/registry/events/{NS}/event3", "events"),
        ("ingresses.extensions", f"/registry/ingress/{NS}/i", "ingresses.networking.k8s.io"),
    ],
)
def test_groups_sharing_storage(resource: str, path: str, parsed: str) -> None:
    name = path.rsplit("/", 1)[1]
    assert etcd_key(resource, NS, name) == path
    assert parse_etcd_key(path) == (parsed, NS, name)


@pytest.mark.parametrize("key", ["/registry/", "/registry/secrets/", "/registry/a/b/c/d",
                                 "/elsewhere/secrets/a/b"])
def test_keys_naming_no_object(key: str) -> None:
    with pytest.raises(ValueError):
        parse_etcd_key(key)


def test_config_for_deployments_apps_reads_a_deployment(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "enc.json", [
        (["deployments.apps", "ingresses.networking.k8s.io"], [keyed("aesgcm", "k1")]),
    ])
    ts = load_config(cfg)
    inspector = Inspector(ts)
    for resource, kind, group in [("deployments.apps", "Deployment", "apps/v1"),
                                  ("ingresses.networking.k8s.io", "Ingress",
                                   "networking.k8s.io/v1")]:
        key = etcd_key(resource, "prod", "web")
        assert resource_of(key, "/registry") == resource
        plain = b"k8s\x00" + f"{group} {kind}".encode()  # storage bytes; never decoded here
        stored = ts.for_resource(resource).encrypt(plain, key.encode())
        finding = inspector.inspect(key.encode(), stored, resource_of(key, "/registry"))
        assert finding.state == ENCRYPTED and finding.state != UNREADABLE, finding
        assert finding.resource == resource and finding.key_name == "k1"
