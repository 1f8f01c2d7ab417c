"""ServiceAccount tokens: kid, claims, discovery documents, verification, TokenReview."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubecrypt.errors import ConfigError
from kubecrypt.satoken import (
    Authenticated,
    LiveObject,
    ObjectRef,
    Rejected,
    TokenIssuer,
    TokenReviewError,
    jwks_document,
    key_id,
    load_private_key,
    load_public_keys,
    openid_configuration,
    review,
    verify,
)

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDS = [ISSUER]
NOW = 1_750_000_000

# pkg/serviceaccount/keyid_test.go (TestKeyIDStability): this key's kid must never change.
UPSTREAM_PUBLIC_KEY = b"""-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA249XwEo9k4tM8fMxV7zx
OhcrP+WvXn917koM5Qr2ZXs4vo26e4ytdlrV0bQ9SlcLpQVSYjIxNfhTZdDt+ecI
zshKuv1gKIxbbLQMOuK1eA/4HALyEkFgmS/tleLJrhc65tKPMGD+pKQ/xhmzRuCG
51RoiMgbQxaCyYxGfNLpLAZK9L0Tctv9a0mJmGIYnIOQM4kC1A1I1n3EsXMWmeJU
j7OTh/AjjCnMnkgvKT2tpKxYQ59PgDgU8Ssc7RDSmSkLxnrv+OrN80j6xrw0OjEi
B4Ycr0PqfzZcvy8efTtFQ/Jnc4Bp1zUtFXt7+QeevePtQ2EcyELXE0i63T1CujRM
WwIDAQAB
-----END PUBLIC KEY-----
"""
UPSTREAM_KID = "JHJehTTTZlsspKHT-GaJxK7Kd1NQgZJu3fyK6K_QDYU"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


SA = ObjectRef("app", "sa-uid-1")
POD = ObjectRef("app-7d9f", "pod-uid-1")
NODE = ObjectRef("node-1", "node-uid-1")
SECRET = ObjectRef("app-token", "secret-uid-1")


class Store:
    """The lab's objects as the verifier's lookup sees them."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], LiveObject] = {
            ("ServiceAccount", "team-a", "app"): LiveObject("sa-uid-1"),
            ("Pod", "team-a", "app-7d9f"): LiveObject("pod-uid-1"),
            ("Node", "", "node-1"): LiveObject("node-uid-1"),
        }

    def __call__(self, kind: str, namespace: str, name: str) -> LiveObject | None:
        return self.objects.get((kind, namespace, name))


def issue(key: Any, **kw: Any) -> str:
    args: dict[str, Any] = dict(namespace="team-a", service_account=SA, audiences=["vault"],
                                expiration_seconds=3600, now=NOW, jti="4b1c2f0e-0000-4000-8000-000000000001")
    args.update(kw)
    return TokenIssuer(key, ISSUER).issue(**args)


def check(token: str, key: Any, *, store: Store | None = None, now: float = NOW,
          audiences: list[str] | None = None) -> Authenticated | Rejected | None:
    pub = key.public_key()
    return verify(token, keys=[pub], issuers=[ISSUER], api_audiences=API_AUDS, now=now,
                  lookup=store or Store(), audiences=audiences)


def b64json(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_kid_matches_upstream_vector() -> None:
    [pub] = load_public_keys(UPSTREAM_PUBLIC_KEY)
    assert key_id(pub) == UPSTREAM_KID


def test_payload_bytes_and_header_as_kube_writes_them(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(rsa_key, pod=POD, node=NODE)
    head, payload, _ = token.split(".")
    assert base64.urlsafe_b64decode(head + "==") == (
        b'{"alg":"RS256","kid":"' + key_id(rsa_key).encode() + b'"}')
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == (
        b'{"aud":["vault"],"exp":1750003600,"iat":1750000000,'
        b'"iss":"https://kubernetes.default.svc.cluster.local",'
        b'"jti":"4b1c2f0e-0000-4000-8000-000000000001",'
        b'"kubernetes.io":{"namespace":"team-a","node":{"name":"node-1","uid":"node-uid-1"},'
        b'"pod":{"name":"app-7d9f","uid":"pod-uid-1"},'
        b'"serviceaccount":{"name":"app","uid":"sa-uid-1"}},'
        b'"nbf":1750000000,"sub":"system:serviceaccount:team-a:app"}'
    )


@pytest.mark.parametrize("keyname", ["rsa_key", "ec_key"])
def test_openbao_view_pyjwt_decodes_every_claim(keyname: str, request: pytest.FixtureRequest) -> None:
    """What OpenBao reads (path_login.go): aud as a list, exp/iat, the projected claim."""
    key = request.getfixturevalue(keyname)
    now = int(time.time())  # PyJWT checks exp/iat against the real clock
    token = issue(key, pod=POD, warnafter_seconds=3607, now=now)
    alg = "RS256" if keyname == "rsa_key" else "ES256"
    assert jwt.get_unverified_header(token) == {"alg": alg, "kid": key_id(key)}
    c = jwt.decode(token, key.public_key(), algorithms=[alg], audience="vault", issuer=ISSUER)
    assert set(c) == {"aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"}
    assert c["aud"] == ["vault"] and isinstance(c["exp"], int) and isinstance(c["iat"], int)
    assert c["sub"] == "system:serviceaccount:team-a:app"
    assert c["kubernetes.io"] == {
        "namespace": "team-a",
        "pod": {"name": "app-7d9f", "uid": "pod-uid-1"},
        "serviceaccount": {"name": "app", "uid": "sa-uid-1"},
        "warnafter": now + 3607,
    }


@pytest.mark.parametrize("keyname", ["rsa_key", "ec_key"])
def test_round_trip_user_info(keyname: str, request: pytest.FixtureRequest) -> None:
    key = request.getfixturevalue(keyname)
    result = check(issue(key, pod=POD, node=NODE), key, audiences=["vault"])
    assert isinstance(result, Authenticated)
    assert result.audiences == ["vault"]
    u = result.user
    assert (u.name, u.uid) == ("system:serviceaccount:team-a:app", "sa-uid-1")
    assert u.groups == ("system:serviceaccounts", "system:serviceaccounts:team-a",
                        "system:authenticated")
    assert u.extra == {
        "authentication.kubernetes.io/pod-name": ["app-7d9f"],
        "authentication.kubernetes.io/pod-uid": ["pod-uid-1"],
        "authentication.kubernetes.io/credential-id": ["JTI=4b1c2f0e-0000-4000-8000-000000000001"],
        "authentication.kubernetes.io/node-name": ["node-1"],
        "authentication.kubernetes.io/node-uid": ["node-uid-1"],
    }


def tamper(token: str) -> str:
    head, payload, sig = token.split(".")
    claims = b64json(payload)
    claims["kubernetes.io"]["namespace"] = "kube-system"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def deleted_sa() -> Store:
    s = Store()
    del s.objects[("ServiceAccount", "team-a", "app")]
    return s


def recreated_sa() -> Store:
    s = Store()
    s.objects[("ServiceAccount", "team-a", "app")] = LiveObject("sa-uid-2")
    return s


def terminating_sa(ago: float) -> Store:
    s = Store()
    s.objects[("ServiceAccount", "team-a", "app")] = LiveObject("sa-uid-1", NOW - ago)
    return s


def pod_gone() -> Store:
    s = Store()
    del s.objects[("Pod", "team-a", "app-7d9f")]
    return s


def pod_recreated() -> Store:
    s = Store()
    s.objects[("Pod", "team-a", "app-7d9f")] = LiveObject("pod-uid-9")
    return s


def with_object(kind: str, namespace: str, name: str, obj: LiveObject) -> Store:
    s = Store()
    s.objects[(kind, namespace, name)] = obj
    return s


INVALIDATED = "service account token has been invalidated"

REJECTIONS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("tampered", {"tamper": True}, {}, "go-jose/go-jose: error in cryptographic primitive"),
    ("wrong-key", {"other_key": True}, {}, "invalid signature, no keys found"),
    ("wrong-audience", {}, {"audiences": ["other"]},
     'token audiences ["vault"] is invalid for the target audiences ["other"]'),
    ("api-audience-by-default", {}, {},
     'token audiences ["vault"] is invalid for the target audiences '
     '["https://kubernetes.default.svc.cluster.local"]'),
    ("expired", {}, {"audiences": ["vault"], "now": NOW + 3600 + 61},
     "service account token has expired"),
    ("not-yet-valid", {}, {"audiences": ["vault"], "now": NOW - 61},
     "service account token is not valid yet"),
    ("sa-deleted", {}, {"audiences": ["vault"], "store": deleted_sa()},
     'serviceaccounts "app" not found'),
    ("sa-recreated", {}, {"audiences": ["vault"], "store": recreated_sa()},
     "service account UID (sa-uid-2) does not match claim (sa-uid-1)"),
    ("sa-terminating", {}, {"audiences": ["vault"], "store": terminating_sa(61)},
     "service account team-a/app has been deleted"),
    ("pod-deleted", {"pod": POD}, {"audiences": ["vault"], "store": pod_gone()},
     "service account token has been invalidated"),
    ("pod-recreated", {"pod": POD}, {"audiences": ["vault"], "store": pod_recreated()},
     "pod UID (pod-uid-9) does not match service account pod ref claim (pod-uid-1)"),
    # The same three checks for every bound object: there, same UID, not deleted.
    ("secret-deleted", {"secret": SECRET}, {"audiences": ["vault"]}, INVALIDATED),
    ("secret-recreated", {"secret": SECRET},
     {"audiences": ["vault"],
      "store": with_object("Secret", "team-a", "app-token", LiveObject("secret-uid-9"))},
     "secret UID (secret-uid-9) does not match service account secret ref claim (secret-uid-1)"),
    ("node-recreated", {"node": NODE},
     {"audiences": ["vault"], "store": with_object("Node", "", "node-1", LiveObject("node-uid-9"))},
     "node UID (node-uid-9) does not match service account node ref claim (node-uid-1)"),
    ("node-terminating", {"node": NODE},
     {"audiences": ["vault"],
      "store": with_object("Node", "", "node-1", LiveObject("node-uid-1", NOW - 61))},
     INVALIDATED),
]


@pytest.mark.parametrize(("issue_kw", "check_kw", "reason"), [r[1:] for r in REJECTIONS],
                         ids=[r[0] for r in REJECTIONS])
def test_rejections(rsa_key: rsa.RSAPrivateKey, issue_kw: dict[str, Any],
                    check_kw: dict[str, Any], reason: str) -> None:
    kw = dict(issue_kw)
    do_tamper, other = kw.pop("tamper", False), kw.pop("other_key", False)
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048) if other else rsa_key
    token = issue(signer, **kw)
    if do_tamper:
        token = tamper(token)
    assert check(token, rsa_key, **check_kw) == Rejected(reason)


def test_leeway_and_recent_deletion_still_accepted(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(rsa_key)
    assert isinstance(check(token, rsa_key, audiences=["vault"], now=NOW + 3600 + 59), Authenticated)
    assert isinstance(check(token, rsa_key, audiences=["vault"], store=terminating_sa(30)),
                      Authenticated)


def test_foreign_tokens_are_not_ours(rsa_key: rsa.RSAPrivateKey) -> None:
    other_issuer = TokenIssuer(rsa_key, "https://elsewhere").issue(
        namespace="team-a", service_account=SA, audiences=["vault"], expiration_seconds=600,
        now=NOW)
    assert check(other_issuer, rsa_key) is None
    assert check("not-a-jwt", rsa_key) is None
    assert check('{"iss":"x"}', rsa_key) is None


def test_legacy_token_without_aud_gets_api_audiences(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(rsa_key, audiences=[])
    result = check(token, rsa_key)
    assert isinstance(result, Authenticated) and result.audiences == API_AUDS
    assert isinstance(check(token, rsa_key, audiences=["vault"]), Rejected)


def test_discovery_documents_bytes(ec_key: ec.EllipticCurvePrivateKey,
                                   rsa_key: rsa.RSAPrivateKey) -> None:
    [pub] = load_public_keys(UPSTREAM_PUBLIC_KEY)
    doc = jwks_document([pub])
    n = b64json_n(pub)
    assert doc == (b'{"keys":[{"use":"sig","kty":"RSA","kid":"' + UPSTREAM_KID.encode()
                   + b'","alg":"RS256","n":"' + n + b'","e":"AQAB"}]}')
    cfg = openid_configuration(ISSUER, "https://127.0.0.1:6443/openid/v1/jwks", [rsa_key, ec_key])
    assert cfg == (b'{"issuer":"https://kubernetes.default.svc.cluster.local",'
                   b'"jwks_uri":"https://127.0.0.1:6443/openid/v1/jwks",'
                   b'"response_types_supported":["id_token"],"subject_types_supported":["public"],'
                   b'"id_token_signing_alg_values_supported":["ES256","RS256"]}')
    ec_jwk = json.loads(jwks_document([ec_key]))["keys"][0]
    assert list(ec_jwk) == ["use", "kty", "kid", "crv", "alg", "x", "y"]
    assert ec_jwk["crv"] == "P-256" and len(base64.urlsafe_b64decode(ec_jwk["x"] + "=")) == 32
    # PyJWT reads the JWKS and verifies a token with it (what OpenBao's JWT method does)
    token = issue(ec_key, now=int(time.time()))
    key = jwt.PyJWKSet.from_json(jwks_document([ec_key, rsa_key]).decode())[key_id(ec_key)]
    assert jwt.decode(token, key, algorithms=["ES256"], audience="vault")["sub"].endswith(":app")


def b64json_n(pub: Any) -> bytes:
    n = pub.public_numbers().n
    return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=")


@pytest.mark.parametrize("issuer", ["http://x", "https://x?a=b", "https://x#f"])
def test_discovery_refuses_bad_issuers(rsa_key: rsa.RSAPrivateKey, issuer: str) -> None:
    with pytest.raises(ConfigError, match="issuer URL"):
        openid_configuration(issuer, "https://x/openid/v1/jwks", [rsa_key])


def test_load_keys_errors() -> None:
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        load_private_key(b"nope", "sa.key")
    with pytest.raises(ConfigError, match="no RSA or EC public key"):
        load_public_keys(b"", "sa.pub")
    k = ec.generate_private_key(ec.SECP256K1())
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    with pytest.raises(ConfigError, match="secp256k1 is not supported"):
        load_private_key(pem)


# ---------------------------------------------------------------------- TokenReview

def authenticator(key: Any, store: Store | None = None, now: float = NOW) -> Any:
    def run(token: str, audiences: list[str] | None) -> Authenticated | Rejected | None:
        return verify(token, keys=[key.public_key()], issuers=[ISSUER], api_audiences=API_AUDS,
                      now=now, lookup=store or Store(), audiences=audiences)
    return run


def test_tokenreview_openbao_body_without_apiversion(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(rsa_key, pod=POD)
    body = {"metadata": {"creationTimestamp": None},
            "spec": {"token": token, "audiences": ["vault"]}, "status": {"user": {}}}
    out = review(body, authenticator(rsa_key), API_AUDS)
    assert out["kind"] == "TokenReview" and out["apiVersion"] == "authentication.k8s.io/v1"
    assert out["metadata"] == {"creationTimestamp": None}
    assert out["spec"] == {"token": token, "audiences": ["vault"]}
    assert out["status"] == {
        "authenticated": True,
        "user": {
            "username": "system:serviceaccount:team-a:app",
            "uid": "sa-uid-1",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:team-a",
                       "system:authenticated"],
            "extra": {
                "authentication.kubernetes.io/credential-id": [
                    "JTI=4b1c2f0e-0000-4000-8000-000000000001"],
                "authentication.kubernetes.io/pod-name": ["app-7d9f"],
                "authentication.kubernetes.io/pod-uid": ["pod-uid-1"],
            },
        },
        "audiences": ["vault"],
    }
    assert list(out["status"]["user"]["extra"]) == sorted(out["status"]["user"]["extra"])


def test_tokenreview_failures(rsa_key: rsa.RSAPrivateKey) -> None:
    token = issue(rsa_key)
    expired = review({"spec": {"token": token, "audiences": ["vault"]}},
                     authenticator(rsa_key, now=NOW + 7200), API_AUDS)
    assert expired["status"] == {
        "user": {}, "error": "[invalid bearer token, service account token has expired]"}
    garbage = review({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                      "spec": {"token": "garbage"}}, authenticator(rsa_key), API_AUDS)
    assert garbage["status"] == {"user": {}, "error": "invalid bearer token"}
    assert "audiences" not in garbage["spec"]
    # no audiences in the review: the API server's own are asked for, and "vault" is not one
    default = review({"spec": {"token": token}}, authenticator(rsa_key), API_AUDS)
    assert default["status"]["error"].startswith("[invalid bearer token, token audiences")
    # a status the client sends is not echoed
    forged = review({"spec": {"token": "garbage"}, "status": {"authenticated": True}},
                    authenticator(rsa_key), API_AUDS)
    assert "authenticated" not in forged["status"]


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"spec": {}}, 400, "token is required for TokenReview in authentication"),
    ({"kind": "Secret", "spec": {"token": "x"}}, 400, "not a TokenReview"),
    ([], 400, "not a TokenReview"),
])
def test_tokenreview_bad_requests(rsa_key: rsa.RSAPrivateKey, body: Any, code: int,
                                  message: str) -> None:
    with pytest.raises(TokenReviewError, match=message) as err:
        review(body, authenticator(rsa_key), API_AUDS)
    assert err.value.code == code


def test_tokenreview_audience_mismatch_is_internal_error(rsa_key: rsa.RSAPrivateKey) -> None:
    def lax(token: str, audiences: list[str] | None) -> Authenticated:
        from kubecrypt.userinfo import UserInfo
        return Authenticated(UserInfo("x"), ["other"])
    with pytest.raises(TokenReviewError, match="error validating audiences") as err:
        review({"spec": {"token": "t", "audiences": ["vault"]}}, lax, API_AUDS)
    assert err.value.code == 500


def test_deeply_nested_payload_is_not_ours_not_a_crash(rsa_key: rsa.RSAPrivateKey) -> None:
    # Issue 13 item 15: an unauthenticated bearer token is untrusted JSON.
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    deep = b'{"iss":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert check(f"{b64(b'{}')}.{b64(deep)}.sig", rsa_key) is None
