"""The reconcile loop against the lab with real kubectl: SealedSecret in, owned Secret out;
updates, deletes, annotations, and bad input explained in status and events."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from controller.controller_lab import ControllerProc, Env, http, seal, secret_data, wait_for

from kubecrypt.sealed.scope import Scope

Unique = Callable[[str], str]


def synced(env: Env, ns: str, name: str) -> dict[str, Any] | None:
    ss = env.get("sealedsecret", ns, name)
    conds = ((ss or {}).get("status") or {}).get("conditions") or []
    return conds[0] if conds else None


def events(env: Env, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = env.kubectl_json("get", "events", "-n", ns)["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items
            if e["involvedObject"]["name"] == name]


@pytest.mark.slow
def test_apply_update_delete(env: Env, lab_controller: ControllerProc, unique: Unique) -> None:
    ns = env.namespace(unique("rec"))
    cert = lab_controller.cert()
    ss = seal(cert, "db", ns, {"password": b"s3cr3t", "user": b"admin"})
    env.apply(ss)
    secret = wait_for(lambda: env.get("secret", ns, "db"), what="the Secret")
    owner = env.get("sealedsecret", ns, "db")
    assert owner is not None
    assert secret_data(secret) == {"password": b"s3cr3t", "user": b"admin"}
    assert secret["metadata"]["ownerReferences"] == [{
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "db",
        "uid": owner["metadata"]["uid"], "controller": True}]
    cond = wait_for(lambda: synced(env, ns, "db"), what="status")
    assert cond["type"] == "Synced" and cond["status"] == "True" and "message" not in cond
    assert env.get("sealedsecret", ns, "db")["status"]["observedGeneration"] == 1  # type: ignore[index]
    wait_for(lambda: ("Normal", "Unsealed", "SealedSecret unsealed successfully")
             in events(env, ns, "db"), what="the Unsealed event")
    # kubectl get sealedsecret prints the condition (printer columns)
    assert "True" in env.kubectl("get", "sealedsecret", "db", "-n", ns).stdout

    # An update (a new value) is unsealed again.
    env.apply(seal(cert, "db", ns, {"password": b"n3w", "user": b"admin"}))
    wait_for(lambda: secret_data(env.get("secret", ns, "db") or {}).get("password") == b"n3w",
             what="the updated Secret")
    wait_for(lambda: (env.get("sealedsecret", ns, "db") or {}).get("status", {})
             .get("observedGeneration") == 2, what="observedGeneration 2")

    # A deleted Secret is made again; a deleted SealedSecret takes its Secret with it.
    env.kubectl("delete", "secret", "db", "-n", ns)
    wait_for(lambda: env.get("secret", ns, "db"), what="the recreated Secret")
    env.kubectl("delete", "sealedsecret", "db", "-n", ns)
    wait_for(lambda: env.get("secret", ns, "db") is None, what="the Secret to go")


def test_wrong_namespace_and_scope_show_in_status(env: Env, lab_controller: ControllerProc,
                                                  unique: Unique) -> None:
    ns = env.namespace(unique("bad"))
    cert = lab_controller.cert()
    moved = seal(cert, "moved", "elsewhere", {"password": b"x"})
    moved["metadata"]["namespace"] = ns
    env.apply(moved)
    cond = wait_for(lambda: synced(env, ns, "moved"), what="status")
    assert cond["status"] == "False"
    assert cond["message"] == "no key could decrypt secret (password)"
    wait_for(lambda: ("Warning", "ErrUnsealFailed",
                      "Failed to unseal: no key could decrypt secret (password)")
             in events(env, ns, "moved"), what="the ErrUnsealFailed event")
    assert env.get("secret", ns, "moved") is None
    # Scope comes from the SealedSecret's own metadata: a strict one marked cluster-wide fails.
    widened = seal(cert, "widened", ns, {"a": b"1", "b": b"2"})
    widened["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    env.apply(widened)
    cond = wait_for(lambda: synced(env, ns, "widened"), what="status")
    assert (cond["status"], cond["message"]) == ("False", "no key could decrypt secret (a, b)")
    # A namespace-wide one may be renamed.
    wide = seal(cert, "orig", ns, {"k": b"v"}, scope=Scope.NAMESPACE_WIDE)
    wide["metadata"]["name"] = "renamed"
    env.apply(wide)
    secret = wait_for(lambda: env.get("secret", ns, "renamed"), what="the renamed Secret")
    assert secret_data(secret) == {"k": b"v"}
    assert secret["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"] == "true"
    # The controller is still serving.
    assert lab_controller.cert() == cert


def test_malformed_sealed_secret(env: Env, lab_controller: ControllerProc,
                                 unique: Unique) -> None:
    ns = env.namespace(unique("mal"))
    ss = seal(lab_controller.cert(), "mal", ns, {"good": b"1"})
    ss["spec"]["encryptedData"]["bad"] = "not*base64"
    env.apply(ss)
    cond = wait_for(lambda: synced(env, ns, "mal"), what="status")
    assert cond["status"] == "False" and "(bad)" in cond["message"]
    assert "illegal base64 data at input byte 3" in cond["message"]
    assert env.get("secret", ns, "mal") is None
    truncated = seal(lab_controller.cert(), "short", ns, {"x": b"1"})
    truncated["spec"]["encryptedData"]["x"] = "AAAA"
    env.apply(truncated)
    cond = wait_for(lambda: synced(env, ns, "short"), what="status")
    assert cond["status"] == "False" and cond["message"].endswith("(x)")
    assert lab_controller.metric(
        f'sealed_secrets_controller_unseal_errors_total{{namespace="{ns}",reason="unseal"}}') >= 2
    assert lab_controller.metric('sealed_secrets_controller_condition_info{condition="Synced",'
                                 f'name="mal",namespace="{ns}",ss_app_kubernetes_io_instance=""}}'
                                 ) == -1


@pytest.mark.slow
def test_existing_secrets_managed_patch_and_foreign(env: Env, lab_controller: ControllerProc,
                                                   unique: Unique) -> None:
    ns = env.namespace(unique("own"))
    cert = lab_controller.cert()
    env.kubectl("create", "secret", "generic", "foreign", "-n", ns, "--from-literal=keep=me")
    before = env.get("secret", ns, "foreign")
    env.apply(seal(cert, "foreign", ns, {"password": b"x"}))
    cond = wait_for(lambda: synced(env, ns, "foreign"), what="status")
    message = 'Resource "foreign" already exists and is not managed by SealedSecret'
    assert (cond["status"], cond["message"]) == ("False", f"failed update: {message}")
    wait_for(lambda: ("Warning", "ErrUpdateFailed", message) in events(env, ns, "foreign"),
             what="the ErrUpdateFailed event")
    assert env.get("secret", ns, "foreign") == before  # never touched

    # managed: adopted, replaced wholesale (the annotation goes with the old metadata)
    env.kubectl("create", "secret", "generic", "adopt", "-n", ns, "--from-literal=old=1")
    env.kubectl("annotate", "secret", "adopt", "-n", ns, "sealedsecrets.bitnami.com/managed=true")
    env.apply(seal(cert, "adopt", ns, {"new": b"2"}))
    adopted = wait_for(lambda: (s := env.get("secret", ns, "adopt")) and
                       s["metadata"].get("ownerReferences") and s, what="adoption")
    assert secret_data(adopted) == {"new": b"2"}
    assert "sealedsecrets.bitnami.com/managed" not in (adopted["metadata"].get("annotations")
                                                       or {})
    # patch: merged over the existing Secret; its own keys and labels survive; not owned
    env.kubectl("create", "secret", "generic", "merge", "-n", ns, "--from-literal=extra=keep")
    env.kubectl("label", "secret", "merge", "-n", ns, "team=a")
    env.kubectl("annotate", "secret", "merge", "-n", ns, "sealedsecrets.bitnami.com/patch=true")
    env.apply(seal(cert, "merge", ns, {"password": b"p"}))
    merged = wait_for(lambda: (s := env.get("secret", ns, "merge")) and
                      "password" in (s.get("data") or {}) and s, what="the patch")
    assert secret_data(merged) == {"extra": b"keep", "password": b"p"}
    assert merged["metadata"]["labels"]["team"] == "a"
    assert not merged["metadata"].get("ownerReferences")


def test_template_type_and_skip_owner_references(env: Env, lab_controller: ControllerProc,
                                                 unique: Unique) -> None:
    ns = env.namespace(unique("tpl"))
    cert = lab_controller.cert()
    ss = seal(cert, "cfg", ns, {"user": b"admin", "pass": b"hunter2"},
              annotations={"sealedsecrets.bitnami.com/skip-set-owner-references": "true"},
              template={"type": "kubernetes.io/basic-auth"})
    ss["spec"]["template"]["data"] = {"url": "db://{{ .user }}:{{ .pass }}@db",
                                      "username": "{{ .user | upper }}"}
    ss["spec"]["template"]["metadata"]["labels"] = {"app": "cfg"}
    env.apply(ss)
    secret = wait_for(lambda: env.get("secret", ns, "cfg"), what="the Secret")
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret_data(secret)["url"] == b"db://admin:hunter2@db"
    assert secret_data(secret)["username"] == b"ADMIN"
    assert secret["metadata"]["labels"] == {"app": "cfg"}
    assert not secret["metadata"].get("ownerReferences")
    # not owned: deleting the SealedSecret leaves the Secret
    env.kubectl("delete", "sealedsecret", "cfg", "-n", ns)
    assert env.get("secret", ns, "cfg") is not None


@pytest.mark.slow
def test_http_api_through_the_service_proxy(env: Env, lab_controller: ControllerProc,
                                            unique: Unique) -> None:
    ns = env.namespace(unique("api"))
    fetched = env.kubectl("get", "--raw", "/api/v1/namespaces/kube-system/services/"
                          "http:sealed-secrets-controller:http/proxy/v1/cert.pem").stdout
    assert fetched.encode() == lab_controller.cert()
    p = subprocess.run([sys.executable, "-m", "kubecrypt", "seal", "--fetch-cert"],
                       capture_output=True, env=env.env(), timeout=60, check=False)
    assert p.returncode == 0 and p.stdout == lab_controller.cert(), p.stderr
    assert env.kubectl("get", "--raw", "/api/v1/namespaces/kube-system/services/"
                       "sealed-secrets-controller:http/proxy/healthz").stdout == "ok\n"
    # verify and rotate through kubecrypt seal (kubeseal's --validate / --re-encrypt)
    ss = seal(lab_controller.cert(), "v", ns, {"a": b"1"}, labels={"tier": "x"})
    ss["spec"]["template"]["metadata"]["labels"] = {"tmpl": "only"}
    text = yaml.safe_dump(ss)
    ok = subprocess.run([sys.executable, "-m", "kubecrypt", "seal", "--validate"],
                        input=text.encode(), capture_output=True, env=env.env(), timeout=60)
    assert ok.returncode == 0, ok.stderr
    bad = copy.deepcopy(ss)
    bad["metadata"]["name"] = "other"
    no = subprocess.run([sys.executable, "-m", "kubecrypt", "seal", "--validate"],
                        input=yaml.safe_dump(bad).encode(), capture_output=True,
                        env=env.env(), timeout=60)
    assert no.returncode != 0 and no.stderr == b"error: unable to decrypt sealed secret: other\n"
    rot = subprocess.run([sys.executable, "-m", "kubecrypt", "seal", "--re-encrypt", "-o",
                          "json"], input=text.encode(), capture_output=True, env=env.env(),
                         timeout=60)
    assert rot.returncode == 0, rot.stderr
    rotated = json.loads(rot.stdout)
    assert rotated["spec"]["template"]["metadata"]["labels"] == {"tmpl": "only"}
    assert rotated["spec"]["encryptedData"]["a"] != ss["spec"]["encryptedData"]["a"]
    env.apply(rotated)
    secret = wait_for(lambda: env.get("secret", ns, "v"), what="the rotated Secret")
    assert secret_data(secret) == {"a": b"1"}
    assert lab_controller.metric('sealed_secrets_controller_http_requests_total{code="200",'
                                 'method="post",path="/v1/rotate"}') >= 1
    assert lab_controller.metric('sealed_secrets_controller_http_requests_total{code="200",'
                                 'method="get",path="/v1/cert.pem"}') >= 1


def test_verify_rate_limit_and_metric_names(env: Env, lab_controller: ControllerProc,
                                            unique: Unique) -> None:
    ns = unique("rl")
    body = json.dumps(seal(lab_controller.cert(), "x", ns, {"a": b"1"})).encode()
    client = {"X-Forwarded-For": f"10.0.0.{len(ns) % 250}"}  # a client of its own
    codes = [http(lab_controller.url("/v1/verify"), body, client)[0] for _ in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]  # burst 2, then limited
    status, text, headers = http(lab_controller.url("/v1/verify"), body, client)
    assert (status, text) == (429, b"limit exceeded") and headers["X-RateLimit-Limit"] == "2"
    other = {"X-Forwarded-For": "10.9.9.9"}
    assert http(lab_controller.url("/v1/verify"), b"{not json", other)[0] == 500
    assert http(lab_controller.url("/v1/rotate"), b"{}", other)[0] == 500
    assert http(lab_controller.url("/nope"))[0] == 404
    _, metrics, _ = http(f"http://127.0.0.1:{lab_controller.metrics_port}/metrics")
    names = {line.split()[2] for line in metrics.decode().splitlines()
             if line.startswith("# TYPE ")}
    assert {"sealed_secrets_controller_build_info",
            "sealed_secrets_controller_unseal_requests_total",
            "sealed_secrets_controller_unseal_errors_total",
            "sealed_secrets_controller_condition_info",
            "sealed_secrets_controller_http_requests_total",
            "sealed_secrets_controller_http_request_duration_seconds",
            "process_cpu_seconds_total"} <= names
    assert b"sealed_secrets_controller_unseal_requests_total " in metrics
    assert b"_created" not in metrics
    assert b'path="/v1/verify"' in metrics and b'code="429"' in metrics


def test_immutable_secret_is_not_retried(env: Env, lab_controller: ControllerProc,
                                         unique: Unique) -> None:
    ns = env.namespace(unique("imm"))
    cert = lab_controller.cert()
    env.apply(seal(cert, "frozen", ns, {"v": b"1"}, template={"immutable": True}))
    secret = wait_for(lambda: env.get("secret", ns, "frozen"), what="the Secret")
    assert secret["immutable"] is True
    env.apply(seal(cert, "frozen", ns, {"v": b"2"}, template={"immutable": True}))
    cond = wait_for(lambda: (c := synced(env, ns, "frozen")) and c["status"] == "False" and c,
                    what="the failure")
    assert cond["message"] == (
        f"Error updating {ns}/frozen: the target Secret is immutable. Once a Secret is marked "
        "as immutable, it is not possible to revert this change nor to mutate the contents of "
        "the data field. You can only delete and recreate the Secret.")
    assert secret_data(env.get("secret", ns, "frozen") or {}) == {"v": b"1"}
    # Deleting the Secret lets the controller make it again with the new value.
    env.kubectl("delete", "secret", "frozen", "-n", ns)
    wait_for(lambda: secret_data(env.get("secret", ns, "frozen") or {}) == {"v": b"2"},
             what="the recreated Secret")
