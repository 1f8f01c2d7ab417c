"""The key manager: first key, renewal with a short period (new seals use the new key, old
SealedSecrets still open), --key-renew-period 0, --key-cutoff-time, malformed key Secrets."""

from __future__ import annotations

import base64
import email.utils
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from controller.controller_lab import ISOLATED, Env, seal, secret_data, wait_for

from kubecrypt.sealed.errors import UnsealError
from kubecrypt.sealed.keys import KEY_LABEL, key_from_secret
from kubecrypt.sealed.unseal import unseal

Unique = Callable[[str], str]
OWN = ("--all-namespaces", "false", "--workers", "0")


def key_secrets(env: Env, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = env.kubectl_json("get", "secrets", "-n", ns, "-l",
                                                   KEY_LABEL)["items"]
    return items


@pytest.mark.slow
def test_renewal_new_key_seals_old_keys_open(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("renew"))
    c = env.start(ns, *OWN, "--key-renew-period", "3s")
    cert1 = c.cert()
    first = key_secrets(env, ns)
    assert len(first) == 1
    meta = first[0]["metadata"]
    assert meta["name"].startswith("sealed-secrets-key") and len(meta["name"]) == 23
    assert meta["generateName"] == "sealed-secrets-key"
    assert meta["labels"] == {KEY_LABEL: "active"} and first[0]["type"] == "kubernetes.io/tls"
    env.apply(seal(cert1, "old", ns, {"v": b"1"}, labels={ISOLATED: "own"}))
    cert2 = wait_for(lambda: (c2 := c.cert()) != cert1 and c2, 10, "a renewed key")
    new = seal(cert2, "new", ns, {"v": b"2"}, labels={ISOLATED: "own"})
    env.apply(new)
    assert secret_data(wait_for(lambda: env.get("secret", ns, "old"))) == {"v": b"1"}
    assert secret_data(wait_for(lambda: env.get("secret", ns, "new"))) == {"v": b"2"}
    keys = [key_from_secret(s, "cluster") for s in key_secrets(env, ns)]
    assert len(keys) >= 2
    key1 = next(k for k in keys if k.certificate is not None and
                base64.b64encode(k.certificate.public_bytes(_pem())) ==
                base64.b64encode(cert1))
    try:
        unseal(new, [key1.private_key])
        raise AssertionError("the new SealedSecret opened with the first key")
    except UnsealError:
        pass
    c.stop()
    assert "Traceback" not in c.logs()


def _pem() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


@pytest.mark.slow
def test_period_zero_cutoff_and_restart(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("zero"))
    c = env.start(ns, *OWN, "--key-renew-period", "0")
    time.sleep(1.5)
    assert len(key_secrets(env, ns)) == 1  # the first key only
    c.stop()
    c = env.start(ns, *OWN, "--key-renew-period", "0")  # a restart makes no key
    wait_for(lambda: "became the leader" in c.logs(), what="leadership")
    time.sleep(0.5)
    assert len(key_secrets(env, ns)) == 1
    c.stop()
    future = email.utils.format_datetime(email.utils.localtime()).replace(
        str(time.localtime().tm_year), str(time.localtime().tm_year + 1))
    c = env.start(ns, *OWN, "--key-renew-period", "0", "--key-cutoff-time", future)
    # the newest key was older than the cutoff
    wait_for(lambda: len(key_secrets(env, ns)) == 2, what="a key made for the cutoff")
    c.stop()


def test_bad_cutoff_time_is_refused(env: Env) -> None:
    p = subprocess.run([sys.executable, "-m", "kubecrypt", "sealed", "controller",
                        "--kubeconfig", str(env.lab.kubeconfig), "--key-cutoff-time",
                        "yesterday"], capture_output=True, text=True, env=env.env(), timeout=60)
    assert p.returncode != 0 and p.stderr.startswith("error: --key-cutoff-time 'yesterday'")
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_malformed_key_secrets_are_skipped(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("badkey"))
    env.kubectl("create", "secret", "generic", "broken", "-n", ns,
                "--from-literal=tls.key=not a key", "--from-literal=tls.crt=nor a cert")
    env.kubectl("label", "secret", "broken", "-n", ns, f"{KEY_LABEL}=active")
    c = env.start(ns, *OWN)  # starts, skips it, makes a key of its own
    assert "skipping key Secret broken" in c.logs()
    wait_for(lambda: len(key_secrets(env, ns)) == 2, what="a key of its own")
    # One more broken key while running: logged, skipped, the controller carries on.
    env.kubectl("create", "secret", "generic", "broken2", "-n", ns, "--from-literal=x=y")
    env.kubectl("label", "secret", "broken2", "-n", ns, f"{KEY_LABEL}=active")
    wait_for(lambda: "skipping key Secret broken2" in c.logs(), what="the log line")
    cert = c.cert()
    env.apply(seal(cert, "still", ns, {"ok": b"1"}, labels={ISOLATED: "own"}))
    assert secret_data(wait_for(lambda: env.get("secret", ns, "still"))) == {"ok": b"1"}
    c.stop()


@pytest.mark.slow
def test_sigusr1_renews_now(env: Env, unique: Unique) -> None:
    ns = env.namespace(unique("usr1"))
    c = env.start(ns, *OWN, "--key-renew-period", "0")
    wait_for(lambda: "became the leader" in c.logs(), what="leadership")
    cert1 = c.cert()
    assert c.proc is not None
    time.sleep(1.1)  # certificates carry whole seconds; a same-second tie keeps the older key
    c.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: len(key_secrets(env, ns)) == 2, what="a key made on SIGUSR1")
    wait_for(lambda: c.cert() != cert1, what="the new certificate to be served")
    c.stop()


@pytest.mark.slow
def test_bad_flags_are_one_sentence(env: Env) -> None:
    for args, expected in (
            (["--listen-addr", "nope"], "error: --listen-addr 'nope' is not [host]:port"),
            (["--key-renew-period", "soon"], "error: --key-renew-period: "),
            (["--key-size", "1024"], "error: --key-size must be at least 2048 bits"),
            (["--kubeconfig", "/nonexistent"], "error: kubeconfig /nonexistent does not exist; fix --kubeconfig\n")):
        p = subprocess.run([sys.executable, "-m", "kubecrypt", "sealed", "controller", *args],
                           capture_output=True, text=True, env=env.env(), timeout=60)
        assert p.returncode == 1 and p.stderr.startswith(expected), (args, p.stderr)
        assert "Traceback" not in p.stderr
