"""A restarted controller repeats no work (no Secret, status or event written again) and loses
nothing (what changed while it was down is done after the restart)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

import pytest
from controller.controller_lab import ISOLATED, Env, seal, secret_data, wait_for

from kubecrypt.lab import up as lab_up

Unique = Callable[[str], str]
OWN = ("--all-namespaces", "false", "--workers", "0")
REQUESTS = "sealed_secrets_controller_unseal_requests_total"


def _versions(env: Env, kind: str, ns: str) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in env.kubectl_json("get", kind, "-n", ns)["items"]}


@pytest.mark.slow
def test_restart_repeats_nothing_and_loses_nothing(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("restart"))
    c = env.start(ns, *OWN)
    cert = c.cert()
    names = [f"s{i}" for i in range(5)]
    for n in names:
        env.apply(seal(cert, n, ns, {"v": n.encode()}, labels={ISOLATED: "own"}))
    for n in names:
        wait_for(lambda n=n: env.get("secret", ns, n), what=f"Secret {n}")
    wait_for(lambda: all(((env.get("sealedsecret", ns, n) or {}).get("status") or {})
                         .get("conditions") for n in names), what="status")
    secrets_before = _versions(env, "secrets", ns)
    sealed_before = _versions(env, "sealedsecrets", ns)
    events_before = {e["metadata"]["name"]
                     for e in env.kubectl_json("get", "events", "-n", ns)["items"]}
    c.stop()

    # While it is down: a new SealedSecret, a deleted Secret.
    env.apply(seal(cert, "late", ns, {"v": b"late"}, labels={ISOLATED: "own"}))
    env.kubectl("delete", "secret", "s0", "-n", ns)
    c = env.start(ns, *OWN)
    assert secret_data(wait_for(lambda: env.get("secret", ns, "late"))) == {"v": b"late"}
    assert secret_data(wait_for(lambda: env.get("secret", ns, "s0"))) == {"v": b"s0"}
    wait_for(lambda: c.metric(REQUESTS) >= 6, what="every SealedSecret to be seen")
    after = _versions(env, "secrets", ns)
    for n in names[1:]:
        assert after[n] == secrets_before[n], f"Secret {n} was written again"
    sealed_after = _versions(env, "sealedsecrets", ns)
    for n in names[1:]:
        assert sealed_after[n] == sealed_before[n], f"the status of {n} was written again"
    events = env.kubectl_json("get", "events", "-n", ns)["items"]
    new = [e for e in events if e["metadata"]["name"] not in events_before]
    assert {e["involvedObject"]["name"] for e in new} <= {"late", "s0"}
    c.stop()
    assert "Traceback" not in c.logs()


@pytest.mark.slow
def test_api_server_restart_and_compacted_watch(env: Env, unique: Unique) -> None:
    """The API server goes away and comes back with etcd compacted past the controller's
    watch: the controller retries, gets 410 Gone, lists again and carries on."""
    ns = env.namespace(unique("gone"))
    c = env.start(ns, *OWN)
    cert = c.cert()
    env.apply(seal(cert, "before", ns, {"v": b"1"}, labels={ISOLATED: "own"}))
    wait_for(lambda: env.get("secret", ns, "before"), what="the first Secret")
    etcd = env.lab.etcd_endpoints[0]
    status = json.loads(subprocess.run(
        ["etcdctl", f"--endpoints={etcd}", "endpoint", "status", "-w", "json"],
        capture_output=True, text=True, check=True, timeout=30).stdout)
    revision = status[0]["Status"]["header"]["revision"]
    # Something newer than the controller's resourceVersion, then compact everything older.
    env.kubectl("create", "secret", "generic", "bump", "-n", ns, "--from-literal=x=1")
    subprocess.run(["etcdctl", f"--endpoints={etcd}", "compact", str(revision + 1)],
                   capture_output=True, check=True, timeout=30)
    env.lab = lab_up.up(env.lab.dir)  # restart the API server (the lab's controller stays)
    env.apply(seal(cert, "after", ns, {"v": b"2"}, labels={ISOLATED: "own"}))
    assert secret_data(wait_for(lambda: env.get("secret", ns, "after"), 30)) == {"v": b"2"}
    assert c.proc is not None and c.proc.poll() is None
    logs = c.logs()
    assert "watch failed" in logs  # the API server went away: retried with back-off
    # back on the old resourceVersion: 410 Gone and a new list (or, when the reconnect came
    # while the server was still down, a new list straight away)
    assert "SealedSecret watch expired (410 Gone); listing again" in logs or \
        "SealedSecret list/watch failed" in logs
    c.stop()
    assert "Traceback" not in c.logs()


@pytest.mark.slow
def test_old_gc_behavior_deletes_only_what_it_owns(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("gc"))
    c = env.start(ns, *OWN, "--old-gc-behavior", "true")
    cert = c.cert()
    keep = seal(cert, "keep", ns, {"v": b"1"}, labels={ISOLATED: "own"},
                annotations={"sealedsecrets.bitnami.com/skip-set-owner-references": "true"})
    env.apply(keep)
    env.apply(seal(cert, "owned", ns, {"v": b"2"}, labels={ISOLATED: "own"}))
    wait_for(lambda: env.get("secret", ns, "keep") and env.get("secret", ns, "owned"),
             what="both Secrets")
    env.kubectl("delete", "sealedsecret", "keep", "owned", "-n", ns)
    wait_for(lambda: c.metric(REQUESTS) >= 4, what="the deletions to be processed")
    wait_for(lambda: env.get("secret", ns, "owned") is None, what="the owned Secret to go")
    time.sleep(0.3)
    # "keep" never had an owner: the controller does not delete what it does not own
    assert env.get("secret", ns, "keep") is not None
    c.stop()


@pytest.mark.slow
def test_additional_namespaces_only(env: Env, unique: Unique) -> None:
    own, extra, other = (env.namespace(unique(p)) for p in ("home", "extra", "other"))
    c = env.start(own, "--workers", "0", "--additional-namespaces", f"{extra},missing-ns")
    cert = c.cert()
    for ns in (own, extra, other):
        env.apply(seal(cert, "s", ns, {"v": ns.encode()}, labels={ISOLATED: "own"}))
    for ns in (own, extra):
        assert secret_data(wait_for(lambda ns=ns: env.get("secret", ns, "s"))) == \
            {"v": ns.encode()}
    time.sleep(0.5)
    assert env.get("secret", other, "s") is None  # not watched
    assert c.proc is not None and c.proc.poll() is None  # a missing namespace is no problem
    c.stop()
