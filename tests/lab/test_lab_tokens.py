"""ServiceAccount tokens from the lab, checked by the real kubectl and the real OpenBao
(``bao auth enable kubernetes``): TokenRequest with --audience/--duration/--bound-object-kind,
SA tokens as bearer tokens, OIDC discovery, TokenReview -- and the logins OpenBao must refuse."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openbao import dev_server

from kubecrypt.satoken import ObjectRef, TokenIssuer, load_private_key

from .conftest import LabHandle

ROOT_TOKEN = "root"


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_create_token_audience_duration_and_bound_pod(lab: LabHandle, unique: Any) -> None:
    ns = unique("tok")
    lab.kubectl("create", "ns", ns)
    lab.kubectl("create", "sa", "app", "-n", ns)
    sa_uid = lab.kubectl_json("get", "sa", "app", "-n", ns)["metadata"]["uid"]
    token = lab.kubectl("create", "token", "app", "-n", ns, "--audience", "vault",
                        "--duration", "20m").stdout
    c = _claims(token)
    assert c["aud"] == ["vault"] and c["exp"] - c["iat"] == 1200
    assert c["sub"] == f"system:serviceaccount:{ns}:app"
    assert c["kubernetes.io"]["serviceaccount"] == {"name": "app", "uid": sa_uid}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
           "spec": {"serviceAccountName": "app", "containers": [{"name": "c", "image": "x:1"}]}}
    lab.kubectl("apply", "-f", "-", input=json.dumps(pod))
    bound = lab.kubectl("create", "token", "app", "-n", ns, "--bound-object-kind", "Pod",
                        "--bound-object-name", "p").stdout
    pod_uid = lab.kubectl_json("get", "pod", "p", "-n", ns)["metadata"]["uid"]
    assert _claims(bound)["kubernetes.io"]["pod"] == {"name": "p", "uid": pod_uid}
    # A default-audience token is a bearer token for the API; whoami names the SA and the pod.
    who = lab.kubectl("--token", bound, "auth", "whoami", "-o", "json").stdout
    user = json.loads(who)["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{ns}:app" and user["uid"] == sa_uid
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    # Once the pod is gone its tokens are not; an audience other than the API's never was.
    lab.kubectl("delete", "pod", "p", "-n", ns)
    p = lab.kubectl("--token", bound, "get", "ns", check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr
    p = lab.kubectl("--token", token, "get", "ns", check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr
    short = lab.kubectl("create", "token", "app", "-n", ns, "--duration", "5m", check=False)
    assert short.returncode != 0 and "less than 10 minutes" in short.stderr
    missing = lab.kubectl("create", "token", "nope", "-n", ns, check=False)
    assert missing.returncode != 0 and 'serviceaccounts "nope" not found' in missing.stderr
    lab.kubectl("delete", "ns", ns)


def test_oidc_discovery_and_jwks(lab: LabHandle) -> None:
    config = json.loads(lab.kubectl("get", "--raw", "/.well-known/openid-configuration").stdout)
    assert config["issuer"] == "https://kubernetes.default.svc.cluster.local"
    jwks = json.loads(lab.kubectl("get", "--raw", "/openid/v1/jwks").stdout)
    (key,) = jwks["keys"]
    token = lab.kubectl("create", "token", "default").stdout
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "kid": key["kid"]} and key["kty"] == "RSA"


@pytest.fixture(scope="module")
def bao() -> Iterator[dict[str, str]]:
    """The ``bao`` CLI's environment for a dev server."""
    with dev_server(ROOT_TOKEN) as (addr, _):
        yield {**os.environ, "BAO_ADDR": addr, "BAO_TOKEN": ROOT_TOKEN,
               "HOME": os.environ.get("HOME", "/tmp")}


def _bao(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["bao", *args], env=env, capture_output=True, text=True, timeout=60,
                       check=False)
    if check:
        assert p.returncode == 0, f"bao {' '.join(args)}: {p.stderr}"
    return p


@pytest.mark.slow
def test_openbao_kubernetes_auth_login(lab: LabHandle, bao: dict[str, str], unique: Any,
                                       tmp_path: Path) -> None:
    ns = unique("bao")
    lab.kubectl("create", "ns", ns)
    lab.kubectl("create", "sa", "reviewer", "-n", ns)
    lab.kubectl("create", "sa", "app", "-n", ns)
    lab.kubectl("create", "clusterrolebinding", f"{ns}-reviewer",
                "--clusterrole=system:auth-delegator", f"--serviceaccount={ns}:reviewer")
    reviewer = lab.kubectl("create", "token", "reviewer", "-n", ns).stdout
    _bao(bao, "auth", "enable", "kubernetes")
    _bao(bao, "write", "auth/kubernetes/config", f"kubernetes_host={lab.lab.server}",
         f"kubernetes_ca_cert=@{lab.dir / 'pki' / 'ca.crt'}", "disable_local_ca_jwt=true",
         f"token_reviewer_jwt={reviewer}")
    _bao(bao, "write", "auth/kubernetes/role/app", "bound_service_account_names=app",
         f"bound_service_account_namespaces={ns}", "audience=vault", "token_policies=default")

    def login(jwt: str) -> subprocess.CompletedProcess[str]:
        return _bao(bao, "write", "-format=json", "auth/kubernetes/login", "role=app",
                    f"jwt={jwt}", check=False)

    app_token = lab.kubectl("create", "token", "app", "-n", ns, "--audience", "vault").stdout
    ok = login(app_token)
    assert ok.returncode == 0, ok.stderr
    meta = json.loads(ok.stdout)["auth"]["metadata"]
    sa_uid = lab.kubectl_json("get", "sa", "app", "-n", ns)["metadata"]["uid"]
    assert meta["service_account_name"] == "app" and meta["service_account_uid"] == sa_uid
    assert meta["service_account_namespace"] == ns

    # The wrong namespace: an "app" in another namespace.
    other = unique("bao-other")
    lab.kubectl("create", "ns", other)
    lab.kubectl("create", "sa", "app", "-n", other)
    wrong_ns = login(lab.kubectl("create", "token", "app", "-n", other, "--audience",
                                 "vault").stdout)
    assert wrong_ns.returncode != 0 and "namespace not authorized" in wrong_ns.stderr
    # No audience: the token is for the API server, not for vault.
    no_aud = login(lab.kubectl("create", "token", "app", "-n", ns).stdout)
    assert no_aud.returncode != 0 and "invalid audience" in no_aud.stderr
    # Expired: signed with the lab's own key, as the lab would have issued it two hours ago.
    key = load_private_key((lab.dir / "pki" / "sa.key").read_bytes())
    expired = TokenIssuer(key, "https://kubernetes.default.svc.cluster.local").issue(
        namespace=ns, service_account=ObjectRef("app", sa_uid), audiences=["vault"],
        expiration_seconds=600, now=int(time.time()) - 7200)
    gone = login(expired)
    assert gone.returncode != 0 and "expired" in gone.stderr
    # Deleted and recreated: same name, new UID; the old token must not log in.
    lab.kubectl("delete", "sa", "app", "-n", ns)
    lab.kubectl("create", "sa", "app", "-n", ns)
    stale = login(app_token)
    assert stale.returncode != 0 and "permission denied" in stale.stderr
    fresh = login(lab.kubectl("create", "token", "app", "-n", ns, "--audience", "vault").stdout)
    assert fresh.returncode == 0, fresh.stderr
    lab.kubectl("delete", "clusterrolebinding", f"{ns}-reviewer")
    lab.kubectl("delete", "ns", ns, other)


def test_tokenreview_bare_body_as_openbao_sends_it(lab: LabHandle) -> None:
    token = lab.kubectl("create", "token", "default", "--audience", "vault").stdout
    body = {"metadata": {"creationTimestamp": None},
            "spec": {"token": token, "audiences": ["vault"]}, "status": {"user": {}}}
    p = lab.kubectl("create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-",
                    input=json.dumps(body))
    status = json.loads(p.stdout)["status"]
    assert status["authenticated"] is True and status["audiences"] == ["vault"]
    assert status["user"]["username"] == "system:serviceaccount:default:default"
    bad = dict(body, spec={"token": token + "x", "audiences": ["vault"]})
    p = lab.kubectl("create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-",
                    input=json.dumps(bad))
    status = json.loads(p.stdout)["status"]
    assert "authenticated" not in status and status["user"] == {} and status["error"]
