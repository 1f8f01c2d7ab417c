"""The lab's registry: one strategy module per kind, found by the registry, and the generic
pieces (Table, field selectors, discovery) reading only the strategy."""

from __future__ import annotations

from kubecrypt.lab.apiserver import discovery, table
from kubecrypt.lab.apiserver.kinds.custom import CustomStrategy, json_path
from kubecrypt.lab.apiserver.registry import REGISTRY, Registry
from kubecrypt.lab.apiserver.resources import RW, Resource
from kubecrypt.lab.apiserver.selectors import field_selector


def test_every_kind_module_is_registered_with_its_storage_key() -> None:
    secrets = REGISTRY.lookup("", "v1", "secrets")
    assert secrets is not None and secrets.protobuf and secrets.key("ns", "s") == "/registry/secrets/ns/s"
    services = REGISTRY.lookup("", "v1", "services")
    assert services is not None and services.prefix("kube-system") == "/registry/services/specs/kube-system/"
    assert REGISTRY.lookup("", "v1", "nope") is None


def test_a_new_kind_is_one_resource_with_a_strategy() -> None:
    widget = Resource("example.com", "v1", "widgets", "widget", "Widget", True, False, RW,
                      strategy=CustomStrategy([{"name": "Size", "type": "integer",
                                                "jsonPath": ".spec.size"}]))
    reg = Registry(REGISTRY.builtins)
    reg.set_custom("widgets.example.com", (widget,))
    assert reg.lookup("example.com", "v1", "widgets") is widget
    assert reg.by_kind("example.com/v1", "Widget") is widget
    t = table.table(widget, [{"metadata": {"name": "w"}, "spec": {"size": 3}}], {})
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Size"]
    assert t["rows"][0]["cells"] == ["w", 3]
    reg.set_custom("widgets.example.com", ())
    assert reg.lookup("example.com", "v1", "widgets") is None


def test_json_path_of_printer_columns() -> None:
    obj = {"status": {"conditions": [{"message": "ok"}]}}
    assert json_path(".status.conditions[0].message")(obj) == "ok"
    assert json_path("{.status.conditions[1].message}")(obj) is None


def test_field_selectors_come_from_the_kind() -> None:
    ev = {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}}
    assert field_selector("involvedObject.kind=Pod,involvedObject.name=p", "Event")(ev)
    assert not field_selector("involvedObject.name=q", "Event")(ev)


def test_discovery_lists_namespace_subresources() -> None:
    core = discovery.api_resource_list("v1")
    assert core is not None
    names = {r["name"] for r in core["resources"]}
    assert {"namespaces/status", "namespaces/finalize", "secrets"} <= names
