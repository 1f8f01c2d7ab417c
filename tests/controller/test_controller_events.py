"""Issue 13 item 14: Events are correlated as client-go does (a repeat bumps ``count`` and
``lastTimestamp`` on the existing Event), and ``kubectl describe sealedsecret`` shows them
through the lab's Event field selectors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from controller.controller_lab import ControllerProc, Env, seal, secret_data, wait_for

Unique = Callable[[str], str]


def _events(env: Env, ns: str, name: str, reason: str) -> list[dict[str, Any]]:
    items = env.kubectl_json("get", "events", "-n", ns)["items"]
    return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


def test_update_is_recorded_as_a_repeat_and_describe_shows_it(
        env: Env, lab_controller: ControllerProc, unique: Unique) -> None:
    ns = env.namespace(unique("ev"))
    cert = lab_controller.cert()
    env.apply(seal(cert, "db", ns, {"password": b"one"}))
    wait_for(lambda: _events(env, ns, "db", "Unsealed"), what="the first Unsealed event")

    # An update that changes the Secret: the same (reason, message) again, counted.
    env.apply(seal(cert, "db", ns, {"password": b"two"}))
    wait_for(lambda: secret_data(env.get("secret", ns, "db") or {}).get("password") == b"two",
             what="the updated Secret")
    events = wait_for(lambda: [e for e in _events(env, ns, "db", "Unsealed")
                               if e.get("count") == 2], what="count 2 on the Unsealed event")
    assert len(_events(env, ns, "db", "Unsealed")) == 1  # one Event, not two
    assert events[0]["lastTimestamp"] >= events[0]["firstTimestamp"]

    out = env.kubectl("describe", "sealedsecret", "db", "-n", ns).stdout
    section = out.split("Events:", 1)[1]
    assert "<none>" not in section, out
    assert re.search(r"Normal\s+Unsealed\s+\S+ \(x2 over \S+\)\s+sealed-secrets\s+"
                     r"SealedSecret unsealed successfully", section), section


def test_event_field_selectors_as_kube_apiserver(env: Env, lab_controller: ControllerProc,
                                                 unique: Unique) -> None:
    ns = env.namespace(unique("evsel"))
    env.apply(seal(lab_controller.cert(), "a", ns, {"k": b"v"}))
    wait_for(lambda: _events(env, ns, "a", "Unsealed"), what="the Unsealed event")
    uid = env.get("sealedsecret", ns, "a")["metadata"]["uid"]  # type: ignore[index]
    for selector in (
        f"involvedObject.name=a,involvedObject.namespace={ns},involvedObject.kind=SealedSecret,"
        f"involvedObject.uid={uid}",
        "involvedObject.apiVersion=bitnami.com/v1alpha1,reason=Unsealed,type=Normal",
        "source=sealed-secrets,reportingComponent=sealed-secrets,involvedObject.fieldPath=",
    ):
        got = env.kubectl_json("get", "events", "-n", ns, "--field-selector", selector)["items"]
        assert [e["reason"] for e in got] == ["Unsealed"], selector
    none = env.kubectl_json("get", "events", "-n", ns, "--field-selector",
                            "involvedObject.name=other")["items"]
    assert none == []
    bad = env.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.nope=x",
                      check=False)
    assert bad.returncode != 0 and "involvedObject.nope" in bad.stderr
