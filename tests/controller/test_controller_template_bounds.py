"""Issue 13 item 11: one SealedSecret with a runaway template must not stall the controller.
It gets a failed Synced condition quickly and is not retried; its neighbour still unseals."""

from __future__ import annotations

import time
from collections.abc import Callable

from controller.controller_lab import ControllerProc, Env, seal, secret_data, wait_for

Unique = Callable[[str], str]

RUNAWAY = {
    # The reproducer: 30 million iterations (4.5 GB and 80 s per attempt before).
    "big": "{{ range $i := until 30000000 }}a{{ end }}",
    # Not refused up front: stopped by the output bound while running.
    "grow": '{{ $x := "ab" }}{{ range until 64 }}{{ $x = print $x $x }}{{ end }}{{ $x }}',
}


def test_runaway_template_fails_fast_once_and_neighbour_unseals(
        env: Env, lab_controller: ControllerProc, unique: Unique) -> None:
    ns = env.namespace(unique("bomb"))
    cert = lab_controller.cert()
    bomb = seal(cert, "bomb", ns, {"v": b"1"})
    bomb["spec"]["template"]["data"] = RUNAWAY
    started = time.monotonic()
    env.apply(bomb)
    env.apply(seal(cert, "ok", ns, {"password": b"fine"}))

    def failed() -> dict[str, str] | None:
        ss = env.get("sealedsecret", ns, "bomb") or {}
        conds = (ss.get("status") or {}).get("conditions") or []
        return conds[0] if conds and conds[0].get("status") == "False" else None

    cond = wait_for(failed, timeout=20, what="the failed Synced condition")
    assert time.monotonic() - started < 15
    assert "big" in cond["message"] and "templates are limited to" in cond["message"]
    secret = wait_for(lambda: env.get("secret", ns, "ok"), what="the neighbour's Secret")
    assert secret_data(secret) == {"password": b"fine"}
    assert env.get("secret", ns, "bomb") is None

    # Reported once and not retried: the log says so and no retry follows.
    key = f"{ns}/bomb"
    wait_for(lambda: f"{key}: " in lab_controller.logs() and "(not retried)" in
             lab_controller.logs(), what="the not-retried log line")
    time.sleep(2)  # retry-base is 0.2 s: a retry loop would have run several times by now
    lines = [ln for ln in lab_controller.logs().splitlines() if f"{key}: " in ln]
    assert len(lines) == 1 and lines[0].endswith("(not retried)"), lines
