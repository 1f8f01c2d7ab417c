"""Two replicas, one leader: only the Lease holder reconciles; when it dies the other takes
over and carries on."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest
from controller.controller_lab import ISOLATED, Env, seal, secret_data, wait_for

Unique = Callable[[str], str]
OWN = ("--all-namespaces", "false", "--workers", "0")
REQUESTS = "sealed_secrets_controller_unseal_requests_total"


@pytest.mark.slow
def test_two_replicas_one_leader(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("ha"))
    a = env.start(ns, *OWN, "--identity", "replica-a")
    wait_for(lambda: "became the leader" in a.logs(), what="a to lead")
    b = env.start(ns, *OWN, "--identity", "replica-b")  # serves the same key as a standby
    assert b.cert() == a.cert()
    lease = env.get("lease", ns, "sealed-secrets-controller")
    assert lease is not None and lease["spec"]["holderIdentity"] == "replica-a"
    env.apply(seal(a.cert(), "one", ns, {"num": b"1"}, labels={ISOLATED: "own"}))
    wait_for(lambda: env.get("secret", ns, "one"), what="the Secret")
    assert a.metric(REQUESTS) >= 1 and b.metric(REQUESTS) == 0
    assert "became the leader" not in b.logs()

    a.stop(signal.SIGKILL)  # no release: b waits for the lease to expire (3s)
    wait_for(lambda: "became the leader" in b.logs(), 15, "b to take over")
    lease = env.get("lease", ns, "sealed-secrets-controller")
    assert lease is not None and lease["spec"]["holderIdentity"] == "replica-b"
    assert lease["spec"]["leaseTransitions"] == 1
    env.apply(seal(b.cert(), "two", ns, {"num": b"2"}, labels={ISOLATED: "own"}))
    assert secret_data(wait_for(lambda: env.get("secret", ns, "two"))) == {"num": b"2"}
    assert len(env.kubectl_json("get", "secrets", "-n", ns, "-l",
                                "sealedsecrets.bitnami.com/sealed-secrets-key")["items"]) == 1

    # A graceful stop releases the lease at once: a new replica leads without waiting.
    b.stop()
    lease = env.get("lease", ns, "sealed-secrets-controller")
    assert lease is not None and not lease["spec"].get("holderIdentity")
    c = env.start(ns, *OWN, "--identity", "replica-c")
    wait_for(lambda: "became the leader" in c.logs(), 5, "c to lead")
    c.stop()
