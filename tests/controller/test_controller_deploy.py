"""deploy/sealed-secrets: upstream's names and schema, and a Deployment whose command line the
controller accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml
from controller.controller_lab import Env

from kubecrypt.cli.sealed import sealed

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "sealed-secrets"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def test_crd_matches_upstream_identity() -> None:
    (crd,) = _docs("crd.yaml")
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "sealedsecrets.bitnami.com"
    assert (spec["group"], spec["scope"]) == ("bitnami.com", "Namespaced")
    assert spec["names"] == {"kind": "SealedSecret", "listKind": "SealedSecretList",
                             "plural": "sealedsecrets", "singular": "sealedsecret"}
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    assert [c["jsonPath"] for c in version["additionalPrinterColumns"]] == [
        ".status.conditions[0].message", ".status.conditions[0].status",
        ".metadata.creationTimestamp"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    assert schema["spec"]["required"] == ["encryptedData"]
    assert schema["spec"]["properties"]["encryptedData"]["x-kubernetes-preserve-unknown-fields"]
    conditions = schema["status"]["properties"]["conditions"]["items"]
    assert conditions["required"] == ["type", "status"]


def test_deployment_command_line_is_accepted() -> None:
    (deployment,) = _docs("deployment.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["kubecrypt", "sealed", "controller"]
    controller = sealed.commands["controller"]
    ctx = controller.make_context("controller", list(container["args"]))
    assert ctx.params["listen_addr"] == ":8080" and ctx.params["listen_metrics_addr"] == ":8081"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "metrics": 8081}
    assert isinstance(controller, click.Command)


def test_services_and_rbac_apply_in_the_lab(env: Env) -> None:
    svc, metrics = _docs("service.yaml")
    assert svc["metadata"]["name"] == "sealed-secrets-controller"
    assert svc["spec"]["ports"][0]["name"] == "http"  # kubeseal proxies to the first port's name
    assert metrics["spec"]["ports"][0]["port"] == 8081
    rbac = {(d["kind"], d["metadata"]["name"]) for d in _docs("rbac.yaml")}
    assert ("ClusterRole", "secrets-unsealer") in rbac
    assert ("Role", "sealed-secrets-service-proxier") in rbac
    ns = "deploy-check"
    env.kubectl("create", "namespace", ns)
    text = (DEPLOY / "service.yaml").read_text().replace("namespace: kube-system",
                                                         f"namespace: {ns}")
    env.kubectl("apply", "-f", "-", input=text)
    got = env.get("service", ns, "sealed-secrets-controller")
    assert got is not None and got["spec"]["ports"][0]["targetPort"] == "http"
