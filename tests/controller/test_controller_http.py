"""The controller's HTTP servers and its API-server client under bitnami's flags:
``--read-timeout``/``--write-timeout`` bound slow clients, ``--max-connections`` caps them, and
``--kubeclient-qps``/``--kubeclient-burst`` throttle the requests it sends."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from controller.controller_lab import ISOLATED, Env, seal, secret_data, wait_for
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Namespace

from kubecrypt.controller.ratelimit import TokenBucket
from kubecrypt.controller.run import throttle

Unique = Callable[[str], str]


def _closed_within(port: int, data: bytes, limit: float) -> float:
    """Seconds until the controller closes a connection that sent ``data`` and then waits."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(data)
        t0 = time.monotonic()
        while sock.recv(65536):
            pass
        return time.monotonic() - t0


@pytest.mark.slow
def test_the_controller_starts_with_bitnamis_flags_and_bounds_slow_clients(
        env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("flags"))
    c = env.start(ns, "--all-namespaces", "false", "--workers", "0", "--read-timeout", "1s",
                  "--write-timeout", "2m", "--kubeclient-qps", "20", "--kubeclient-burst", "30",
                  "--max-connections", "3")
    # Half a request on the API port and on the metrics port: dropped after the read timeout.
    for port in (c.port, c.metrics_port):
        took = _closed_within(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", 10)
        assert 0.8 <= took < 4, took
    # Three idle connections hold the cap: a fourth is answered 503.
    held = [socket.create_connection(("127.0.0.1", c.port)) for _ in range(3)]
    try:
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", c.port), timeout=5) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(100).startswith(b"HTTP/1.1 503")
    finally:
        for s in held:
            s.close()
    # The throttled client still does its work.
    env.apply(seal(c.cert(), "throttled", ns, {"k": b"v"}, labels={ISOLATED: "own"}))
    assert secret_data(wait_for(lambda: env.get("secret", ns, "throttled"))) == {"k": b"v"}
    c.stop()


@pytest.mark.slow
def test_bad_timeouts_are_one_sentence(env: Env) -> None:
    for args, expected in ((["--read-timeout", "soon"], "error: --read-timeout: "),
                           (["--write-timeout", "0s"], "error: --write-timeout must be positive")):
        p = subprocess.run([sys.executable, "-m", "kubecrypt", "sealed", "controller", *args],
                           capture_output=True, text=True, env=env.env(), timeout=60)
        assert p.returncode == 1 and p.stderr.startswith(expected), (args, p.stderr)
        assert "Traceback" not in p.stderr


def _timed_gets(env: Env, bucket: TokenBucket | None, count: int) -> float:
    async def main() -> float:
        client = AsyncClient(KubeConfig.from_file(str(env.lab.kubeconfig)).get())
        if bucket is not None:
            throttle(client, bucket)
        t0 = time.monotonic()
        for _ in range(count):
            await client.get(Namespace, "default")
        took = time.monotonic() - t0
        await client.close()
        return took

    return asyncio.run(main())


def test_kubeclient_qps_and_burst_throttle_every_request(env: Env) -> None:
    # burst 2, then 4 per second: 6 requests wait for 4 tokens, at least 1 s.
    assert _timed_gets(env, TokenBucket(4, 2), 6) >= 0.95
    assert _timed_gets(env, TokenBucket(-1, 1), 6) < 0.9  # negative: no limit
