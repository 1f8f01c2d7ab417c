"""A restarted controller repeats no work (no Secret, status or event written again) and loses
nothing (what changed while it was down is done after the restart)."""

from __future__ import annotations

from collections.abc import Callable

from controller.controller_lab import ISOLATED, Env, seal, secret_data, wait_for

Unique = Callable[[str], str]
OWN = ("--all-namespaces", "false", "--workers", "0")
REQUESTS = "sealed_secrets_controller_unseal_requests_total"


def _versions(env: Env, kind: str, ns: str) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in env.kubectl_json("get", kind, "-n", ns)["items"]}


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
