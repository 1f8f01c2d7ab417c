"""The provider as the driver sees it: a real ``kubecrypt csi serve`` process, raw gRPC with
hand-encoded MountRequests (upstream field numbers), against a real OpenBao dev server whose JWT
auth mount plays Kubernetes auth. Bad requests get an error naming the problem; the server
stays up and answers the next request."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from . import wire
from .conftest import JWT_MOUNT, Served, attributes, kubecrypt_argv

pytestmark = pytest.mark.slow

OBJECTS = """
- objectName: password
  secretPath: secret/data/app/db
  secretKey: password
- objectName: config/port
  secretPath: secret/data/app/db
  secretKey: port
  filePermission: 0600
- objectName: blob
  secretPath: secret/data/app/db
  secretKey: blob
  encoding: base64
"""


def _tokens(bao, sa="app", audience="vault"):
    return json.dumps({audience: {"token": bao.token_for("default", sa, audience),
                                  "expirationTimestamp": "2099-01-01T00:00:00Z"}})


def _attrs(bao, objects=OBJECTS, sa="app", audience="vault", **extra):
    params = {"roleName": "app", "vaultAddress": bao.addr,
              "vaultKubernetesMountPath": JWT_MOUNT, **extra}
    a = attributes(objects, **params)
    if sa is not None:
        a["csi.storage.k8s.io/serviceAccount.tokens"] = _tokens(bao, sa, audience)
    return json.dumps(a)


def _mount(served, attrs, secrets="null", permission="420"):
    with served.channel() as ch:
        raw = wire.call(ch, "Mount", wire.mount_request(attrs, secrets, "/var/lib/kubelet/x/mount",
                                                        permission))
    return wire.mount_response(raw)


def _mount_error(served, attrs, secrets="null", permission="420"):
    with pytest.raises(grpc.RpcError) as info:
        _mount(served, attrs, secrets, permission)
    return info.value


def test_version_and_socket(serve):
    served = serve()
    mode = stat.S_IMODE(os.stat(served.socket).st_mode)
    assert mode == 0o600
    with served.channel() as ch:
        resp = dict(wire.fields(wire.call(ch, "Version", wire.field_bytes(1, b"v1alpha1"))))
    assert resp[1] == b"v1alpha1" and resp[2] == b"kubecrypt"
    assert resp[3].count(b".") == 2  # semver


@pytest.mark.parametrize("secrets", ["null", "{}", '{"username":"u","password":"p"}', ""])
def test_mount_kv2_secrets_forms(serve, bao, secrets):
    served = serve()
    resp = _mount(served, _attrs(bao), secrets)
    assert resp["error"] is None
    files = {p: (m, c) for p, m, c in resp["files"]}
    assert files == {"password": (0o644, b"s3cr3t-v1"), "config/port": (0o600, b"5432"),
                     "blob": (0o644, b"hello")}
    ids = [i for i, _ in resp["versions"]]
    assert ids == ["password", "config/port", "blob"]
    assert all(v for _, v in resp["versions"])


def test_version_changes_with_value_and_survives_restart(serve, bao):
    served = serve()
    first = dict(_mount(served, _attrs(bao))["versions"])
    assert dict(_mount(served, _attrs(bao))["versions"]) == first
    # same HMAC key file -> same versions after a restart
    served.proc.send_signal(signal.SIGTERM)
    served.proc.wait(timeout=10)
    again = serve("--hmac-key-file", os.path.join(served.dir, ".kubecrypt-hmac.key"))
    assert dict(_mount(again, _attrs(bao))["versions"]) == first
    bao.root().secrets.kv.v2.patch(path="app/db", secret={"password": "s3cr3t-v2"})
    try:
        resp = _mount(again, _attrs(bao))
        versions = dict(resp["versions"])
        assert versions["password"] != first["password"]
        assert versions["config/port"] == first["config/port"]
        assert dict((p, c) for p, _, c in resp["files"])["password"] == b"s3cr3t-v2"
    finally:
        bao.root().secrets.kv.v2.patch(path="app/db", secret={"password": "s3cr3t-v1"})


def test_whole_response_when_no_secret_key(serve, bao):
    served = serve()
    resp = _mount(served, _attrs(bao, "- objectName: all\n  secretPath: secret/data/app/db\n"))
    doc = json.loads(resp["files"][0][2])
    assert doc["data"]["data"]["username"] == "admin"
    assert set(doc) == {"request_id", "lease_id", "lease_duration", "renewable", "data", "warnings"}


def test_errors_and_server_stays_up(serve, bao):
    served = serve()
    cases = [
        ("not json", "null", "420", grpc.StatusCode.INVALID_ARGUMENT, "not JSON"),
        (json.dumps({"objects": 5}), "null", "420", grpc.StatusCode.INVALID_ARGUMENT,
         "JSON object of strings"),
        (_attrs(bao), "[1]", "420", grpc.StatusCode.INVALID_ARGUMENT, "MountRequest.secrets"),
        (_attrs(bao), "null", "\"x\"", grpc.StatusCode.INVALID_ARGUMENT, "permission"),
        (_attrs(bao, objects=""), "null", "420", grpc.StatusCode.INVALID_ARGUMENT,
         "'objects' is missing"),
        (_attrs(bao, objects="- objectName: a\n  secretPath: x\n- objectName: a\n  secretPath: y\n"),
         "null", "420", grpc.StatusCode.INVALID_ARGUMENT, "appears twice"),
        (_attrs(bao, objects="- objectName: ../etc\n  secretPath: x\n"), "null", "420",
         grpc.StatusCode.INVALID_ARGUMENT, "'..'"),
        (_attrs(bao, objects="- objectName: a\n  secretPath: x\n  encoding: rot13\n"), "null",
         "420", grpc.StatusCode.INVALID_ARGUMENT, "encoding"),
        (_attrs(bao, sa=None), "null", "420", grpc.StatusCode.PERMISSION_DENIED,
         "no service-account token for audience 'vault'"),
        (_attrs(bao, audience="other"), "null", "420", grpc.StatusCode.PERMISSION_DENIED,
         "audiences present: other"),
        (_attrs(bao, sa="intruder"), "null", "420", grpc.StatusCode.PERMISSION_DENIED,
         "refused the login of service account default/app (pod app-0) to role 'app'"),
        (_attrs(bao, objects="- objectName: a\n  secretPath: secret/data/other\n  secretKey: k\n"),
         "null", "420", grpc.StatusCode.PERMISSION_DENIED, "may not GET secret/data/other"),
        (_attrs(bao, objects="- objectName: a\n  secretPath: secret/data/app/nope\n  secretKey: k\n"),
         "null", "420", grpc.StatusCode.NOT_FOUND, "nothing at secret/data/app/nope"),
        (_attrs(bao, objects="- objectName: a\n  secretPath: secret/data/app/db\n  secretKey: k\n"),
         "null", "420", grpc.StatusCode.NOT_FOUND, "keys there are blob, password, port, username"),
    ]
    for attrs, secrets, perm, code, text in cases:
        err = _mount_error(served, attrs, secrets, perm)
        assert err.code() == code, (text, err.details())
        assert text in err.details(), (text, err.details())
        assert "s3cr3t" not in err.details()
    assert served.proc.poll() is None
    assert _mount(served, _attrs(bao))["files"]  # still serving
    assert "s3cr3t" not in served.stderr()


def test_missing_role_and_seed_example(serve, bao):
    served = serve()
    attrs = json.loads(_attrs(bao))
    del attrs["roleName"]
    err = _mount_error(served, json.dumps(attrs))
    assert "'roleName' is missing" in err.details()
    # Seed 2's example: Azure's array: wrapper, objectNamespace instead of secretPath.
    seed = "array:\n  - |\n    objectName: mysecret\n    objectNamespace: default\n"
    err = _mount_error(served, _attrs(bao, objects=seed))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "object 'mysecret' has no secretPath (objectNamespace is not read)" in err.details()
    fixed = ("array:\n  - |\n    objectName: mysecret\n    secretPath: secret/data/app/db\n"
             "    secretKey: username\n")
    assert _mount(served, _attrs(bao, objects=fixed))["files"] == [("mysecret", 0o644, b"admin")]


def test_openbao_key_spellings(serve, bao):
    served = serve()
    base = attributes(OBJECTS, roleName="app", openbaoKubernetesMountPath=JWT_MOUNT)
    base["csi.storage.k8s.io/serviceAccount.tokens"] = _tokens(bao)
    for key in ("openbaoAddress", "baoAddress"):
        attrs = {**base, key: bao.addr, "audience": "vault"}
        assert len(_mount(served, json.dumps(attrs))["files"]) == 3
    # openbao keys default the audience to "openbao": a "vault" token alone is not used
    err = _mount_error(served, json.dumps({**base, "baoAddress": bao.addr}))
    assert "audience 'openbao'" in err.details()


def test_unreachable_store(serve, bao):
    served = serve()
    err = _mount_error(served, _attrs(bao, vaultAddress="http://127.0.0.1:9"))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert "cannot reach http://127.0.0.1:9" in err.details()


def test_bad_provider_name_refused(tmp_path):
    r = subprocess.run([*kubecrypt_argv(), "csi", "serve", "--no-kube", "--socket",
                        str(tmp_path / "custom.provider.sock")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1
    assert "would be refused by the driver" in r.stderr and "Traceback" not in r.stderr


def test_stale_socket_replaced_live_refused_sigterm_clean(serve):
    served = serve()
    path = served.socket
    second = subprocess.run([*kubecrypt_argv(), "csi", "serve", "--no-kube", "--socket", path],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 1 and "already serving" in second.stderr
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=10) == 0
    assert not os.path.exists(path)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # a socket file nobody listens on
    log = Path(served.dir) / "second.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([*kubecrypt_argv(), "csi", "serve", "--no-kube", "--socket", path],
                                stdout=fh, stderr=fh)
    try:
        deadline = time.monotonic() + 20
        while "serving" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "removing stale socket" in log.read_text()
        with Served(path, proc, served.dir, log).channel() as ch:
            assert wire.call(ch, "Version", b"")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_metrics_count_calls_and_error_codes(serve, bao):
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = serve("--metrics-listen", f"127.0.0.1:{port}")
    _mount(served, _attrs(bao))
    _mount_error(served, _attrs(bao, objects=""))
    deadline = time.monotonic() + 10
    while True:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert 'kubecrypt_csi_requests_total{method="Mount"} 2.0' in text
    assert 'kubecrypt_csi_errors_total{code="BadParameters",method="Mount"} 1.0' in text
    assert "kubecrypt_kms" not in text
    health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
    assert health == b"ok\n"
