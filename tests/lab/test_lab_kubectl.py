"""The guides' kubectl commands, unchanged, against the lab."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Callable

from .conftest import LabHandle


def test_version_picks_kubectl_132(lab: LabHandle) -> None:
    out = lab.kubectl("version", "-o", "json").stdout
    server = json.loads(out)["serverVersion"]
    assert server["gitVersion"].startswith("v1.32.")


def test_create_secret_generic_and_get_yaml(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("guide")
    out = lab.kubectl("create", "secret", "generic", name, "--from-literal=key1=supersecret")
    assert f"secret/{name} created" in out.stdout
    obj = lab.kubectl_json("get", "secret", name)
    assert base64.b64decode(obj["data"]["key1"]) == b"supersecret"
    assert obj["type"] == "Opaque"
    assert "stringData" not in obj
    yaml_out = lab.kubectl("get", "secret", name, "-o", "yaml").stdout
    assert "key1: c3VwZXJzZWNyZXQ=" in yaml_out
    assert f'resourceVersion: "{obj["metadata"]["resourceVersion"]}"' in yaml_out


def test_get_all_namespaces_table_and_describe(lab: LabHandle,
                                               unique: Callable[[str], str]) -> None:
    ns = unique("ns")
    lab.kubectl("create", "ns", ns)
    lab.kubectl("create", "secret", "generic", "two", "-n", ns,
                "--from-literal=a=1", "--from-literal=b=2")
    table = lab.kubectl("get", "secrets", "-A").stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "TYPE", "DATA", "AGE"]
    row = next(line.split() for line in table if line.startswith(ns))
    assert row[:4] == [ns, "two", "Opaque", "2"]
    described = lab.kubectl("describe", "secret", "two", "-n", ns).stdout
    assert "a:  1 bytes" in described and "b:  1 bytes" in described
    assert "Type:  Opaque" in described
    nss = lab.kubectl("get", "ns").stdout
    assert any(line.split()[:2] == [ns, "Active"] for line in nss.splitlines())


def test_apply_create_then_patch(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("applied")
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name,
                "labels": {"a": "b"}}, "stringData": {"user": "root"}}
    out = lab.kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout
    assert "created" in out
    manifest["metadata"]["labels"] = {"c": "d"}
    manifest["stringData"] = {"user": "admin", "extra": "x"}
    out = lab.kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout
    assert "configured" in out
    obj = lab.kubectl_json("get", "secret", name)
    assert obj["metadata"]["labels"] == {"c": "d"}
    assert base64.b64decode(obj["data"]["user"]) == b"admin"
    assert set(obj["data"]) == {"user", "extra"}
    out = lab.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(manifest)).stdout
    assert "serverside-applied" in out


def test_label_annotate_and_patch_types(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("patched")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=a=1", "--from-literal=b=2")
    lab.kubectl("label", "secret", name, "team=x")
    lab.kubectl("annotate", "secret", name, "note=y")
    lab.kubectl("patch", "secret", name, "--type=json",
                "-p", '[{"op":"remove","path":"/data/b"}]')
    lab.kubectl("patch", "secret", name, "-p", '{"stringData":{"c":"3"}}')  # strategic
    lab.kubectl("patch", "secret", name, "--type=merge", "-p", '{"metadata":{"labels":null}}')
    obj = lab.kubectl_json("get", "secret", name)
    assert set(obj["data"]) == {"a", "c"}
    assert "labels" not in obj["metadata"]
    assert obj["metadata"]["annotations"]["note"] == "y"
    failed = lab.kubectl("patch", "secret", name, "--type=json",
                         "-p", '[{"op":"test","path":"/data/a","value":"nope"}]', check=False)
    assert failed.returncode != 0 and "test failed" in failed.stderr


def test_delete_secret_and_namespace_with_contents(lab: LabHandle,
                                                   unique: Callable[[str], str]) -> None:
    ns = unique("doomed")
    lab.kubectl("create", "ns", ns)
    lab.kubectl("create", "secret", "generic", "inside", "-n", ns, "--from-literal=k=v")
    lab.kubectl("create", "secret", "generic", "gone", "-n", ns, "--from-literal=k=v")
    assert 'secret "gone" deleted' in lab.kubectl("delete", "secret", "gone", "-n", ns).stdout
    missing = lab.kubectl("get", "secret", "gone", "-n", ns, check=False)
    assert missing.returncode == 1
    assert 'secrets "gone" not found' in missing.stderr
    start = time.monotonic()
    lab.kubectl("delete", "ns", ns)  # returns once the DELETED event arrived
    assert time.monotonic() - start < 20
    assert lab.kubectl("get", "ns", ns, check=False).returncode == 1
    assert lab.etcd_get(f"/registry/secrets/{ns}/inside") is None


def test_validation_errors_read_like_kube(lab: LabHandle, unique: Callable[[str], str]) -> None:
    bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": unique("bad")},
           "data": {"bad key": "eA=="}}
    p = lab.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert p.returncode == 1
    assert 'data[bad key]: Invalid value: "bad key": a valid config key must consist of ' \
        "alphanumeric characters" in p.stderr
    tls = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": unique("tls")},
           "type": "kubernetes.io/tls", "data": {"tls.crt": ""}}
    p = lab.kubectl("create", "-f", "-", input=json.dumps(tls), check=False)
    assert "data[tls.key]: Required value" in p.stderr
    upper = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Upper"}}
    p = lab.kubectl("create", "-f", "-", input=json.dumps(upper), check=False)
    assert 'metadata.name: Invalid value: "Upper": a lowercase RFC 1123 subdomain' in p.stderr
    spec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": unique("s")}, "spec": {}}
    p = lab.kubectl("create", "-f", "-", input=json.dumps(spec), check=False)
    assert 'strict decoding error: unknown field "spec"' in p.stderr
    p = lab.kubectl("create", "--validate=warn", "-f", "-", input=json.dumps(spec))
    assert 'Warning: unknown field "spec"' in p.stderr  # Warn: dropped, and reported
    p = lab.kubectl("create", "secret", "generic", "x", "-n", "no-such-ns",
                    "--from-literal=a=b", check=False)
    assert 'namespaces "no-such-ns" not found' in p.stderr


def test_immutable_secret(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("frozen")
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
           "immutable": True, "stringData": {"a": "1"}}
    lab.kubectl("create", "-f", "-", input=json.dumps(obj))
    p = lab.kubectl("patch", "secret", name, "-p", '{"stringData":{"a":"2"}}', check=False)
    assert "data: Forbidden: field is immutable when `immutable` is set" in p.stderr
    lab.kubectl("label", "secret", name, "still=editable")
    p = lab.kubectl("patch", "secret", name, "-p", '{"type":"kubernetes.io/tls"}', check=False)
    assert "type: Invalid value" in p.stderr and "field is immutable" in p.stderr


def test_bad_token_is_unauthorized(lab: LabHandle) -> None:
    p = lab.kubectl("--token=wrong", "get", "secrets", check=False)
    assert p.returncode == 1
    assert "You must be logged in to the server (Unauthorized)" in p.stderr


def test_replace_conflict_on_stale_resource_version(lab: LabHandle,
                                                    unique: Callable[[str], str]) -> None:
    name = unique("raced")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=a=1")
    old = lab.kubectl("get", "secret", name, "-o", "json").stdout
    lab.kubectl("label", "secret", name, "moved=on")
    p = lab.kubectl("replace", "-f", "-", input=old, check=False)
    assert p.returncode == 1
    assert f'Operation cannot be fulfilled on secrets "{name}": the object has been ' \
        "modified" in p.stderr


def test_watch_prints_changes(lab: LabHandle, unique: Callable[[str], str]) -> None:
    ns = unique("watched")
    lab.kubectl("create", "ns", ns)
    lab.kubectl("create", "secret", "generic", "w0", "-n", ns, "--from-literal=a=b")
    proc = subprocess.Popen(["kubectl", "get", "secrets", "-n", ns, "-w"],
                            stdout=subprocess.PIPE, text=True, env=lab.env())
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(2)]  # header, then w0
        lab.kubectl("create", "secret", "generic", "w1", "-n", ns, "--from-literal=a=b",
                    "--from-literal=c=d")
        lab.kubectl("label", "secret", "w1", "-n", ns, "x=y")
        lab.kubectl("delete", "secret", "w1", "-n", ns)
        lines += [proc.stdout.readline().split() for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(10)
    assert lines[0] == ["NAME", "TYPE", "DATA", "AGE"]
    assert [line[:3] for line in lines[1:]] == [["w0", "Opaque", "1"]] + \
        [["w1", "Opaque", "2"]] * 3


def test_edit(lab: LabHandle, unique: Callable[[str], str]) -> None:
    name = unique("edited")
    lab.kubectl("create", "secret", "generic", name, "--from-literal=a=a")
    editor = ("sed -i -e 's/a: YQ==/a: Yg==/' "
              "-e 's/^metadata:/metadata:\\n  labels: {edited: \"yes\"}/'")
    p = subprocess.run(["kubectl", "edit", "secret", name], capture_output=True, text=True,
                       env={**lab.env(), "KUBE_EDITOR": editor}, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert f"secret/{name} edited" in p.stdout
    obj = lab.kubectl_json("get", "secret", name)
    assert obj["data"]["a"] == "Yg==" and obj["metadata"]["labels"] == {"edited": "yes"}
