"""One lab (real etcd, the lab API server) for the session and a session controller started
the way ``kubecrypt lab up`` starts it."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest
from controller.controller_lab import ISOLATED, ControllerProc, Env

from kubecrypt.lab import sealed as lab_sealed
from kubecrypt.lab import up as lab_up


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    directory = tmp_path_factory.mktemp("ctl") / "lab"
    lab = lab_up.up(directory, encryption="aesgcm")
    handle = Env(lab, directory.parent)
    try:
        yield handle
    finally:
        for c in handle.started:
            c.stop(signal.SIGKILL)
        lab_up.down(directory, purge=True)


@pytest.fixture(scope="session")
def lab_controller(env: Env) -> ControllerProc:
    """The controller as ``lab up`` runs it (kube-system, Service, service proxy), with 2048-bit
    keys and fast retries; SealedSecrets labelled ``ISOLATED`` are left to other controllers."""
    lab_sealed.start_controller(env.lab, key_size=2048, extra_args=(
        "--retry-base", "0.2s", "--workers", "1", "--label-selector", f"!{ISOLATED}"))
    env.lab.save()
    assert lab_sealed.running(env.lab)
    svc = env.get("service", "kube-system", lab_sealed.SERVICE)
    metrics_svc = env.get("service", "kube-system", f"{lab_sealed.SERVICE}-metrics")
    assert svc is not None and metrics_svc is not None
    port = svc["spec"]["ports"][0]["targetPort"]
    metrics_port = metrics_svc["spec"]["ports"][0]["targetPort"]
    return ControllerProc(None, port, metrics_port, env.lab.dir / f"{lab_sealed.NAME}.log",
                          "kube-system")


@pytest.fixture
def unique() -> Callable[[str], str]:
    counter = iter(range(10**6))
    stamp = format(time.monotonic_ns() % 10**8, "x")
    return lambda prefix: f"{prefix}-{stamp}-{next(counter)}"
