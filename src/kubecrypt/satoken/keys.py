"""Service-account signing keys as kube-apiserver names and publishes them.

``key_id`` is pkg/serviceaccount/jwt.go ``keyIDFromPublicKey``: base64url (no padding) of the
SHA-256 of the PKIX (SubjectPublicKeyInfo) DER of the public key, so a token's ``kid`` header
and the JWKS entry match what a real cluster would put there for the same key. ``jwk`` is the
public JWK go-jose writes for it (field order use, kty, kid, crv, alg, x, y, n, e; EC
coordinates padded to the curve size)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kubecrypt.errors import ConfigError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# curve name -> (JWS alg, JWK crv, coordinate size in bytes); jwt.go signerFromECDSAPrivateKey
_EC = {
    "secp256r1": ("ES256", "P-256", 32),
    "secp384r1": ("ES384", "P-384", 48),
    "secp521r1": ("ES512", "P-521", 66),
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key_of(key: PrivateKey | PublicKey) -> PublicKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def key_id(key: PrivateKey | PublicKey) -> str:
    der = public_key_of(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url(hashlib.sha256(der).digest())


def algorithm(key: PrivateKey | PublicKey) -> str:
    """openidmetadata.go ``algorithmFromPublicKey``: RSA keys sign RS256 whatever their size;
    EC keys by curve."""
    pub = public_key_of(key)
    if isinstance(pub, rsa.RSAPublicKey):
        return "RS256"
    curve = pub.curve.name
    if curve not in _EC:
        raise ConfigError(
            f"service-account signing key on curve {curve} is not supported; use P-256, P-384 "
            "or P-521 (or RSA)"
        )
    return _EC[curve][0]


def _int_bytes(n: int, size: int = 0) -> bytes:
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return raw.rjust(size, b"\x00") if size else raw


def jwk(key: PrivateKey | PublicKey) -> dict[str, Any]:
    pub = public_key_of(key)
    out: dict[str, Any] = {"use": "sig"}
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        out.update(kty="RSA", kid=key_id(pub), alg="RS256",
                   n=b64url(_int_bytes(nums.n)), e=b64url(_int_bytes(nums.e)))
        return out
    alg, crv, size = _EC.get(pub.curve.name, ("", "", 0))
    if not alg:
        algorithm(pub)  # raises the sentence
    pt = pub.public_numbers()
    out.update(kty="EC", kid=key_id(pub), crv=crv, alg=alg,
               x=b64url(_int_bytes(pt.x, size)), y=b64url(_int_bytes(pt.y, size)))
    return out


def load_private_key(pem: bytes, source: str = "the key file") -> PrivateKey:
    """An RSA or EC private key from PEM (PKCS#1, SEC1 or PKCS#8), as
    ``--service-account-signing-key-file`` takes it."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{source} is not an unencrypted PEM private key ({exc}); give an RSA or EC key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{source} holds a {type(key).__name__}; give an RSA or EC key")
    algorithm(key)
    return key


def load_public_keys(pem: bytes, source: str = "the key file") -> list[PublicKey]:
    """Every public key in a PEM bundle (PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE or a private
    key, whose public half is taken), as ``--service-account-key-file`` accepts."""
    from cryptography import x509

    keys: list[PublicKey] = []
    for block in _pem_blocks(pem):
        label = block.split(b"\n", 1)[0]
        try:
            if b"CERTIFICATE" in label:
                pub: Any = x509.load_pem_x509_certificate(block).public_key()
            elif b"PRIVATE KEY" in label:
                pub = serialization.load_pem_private_key(block, password=None).public_key()
            else:
                pub = serialization.load_pem_public_key(block)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{source} has a PEM block that does not parse ({exc})") from None
        if isinstance(pub, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            keys.append(pub)
    if not keys:
        raise ConfigError(f"{source} holds no RSA or EC public key in PEM form")
    return keys


def _pem_blocks(pem: bytes) -> list[bytes]:
    out, cur = [], []
    for line in pem.splitlines():
        if line.startswith(b"-----BEGIN "):
            cur = [line]
        elif line.startswith(b"-----END ") and cur:
            cur.append(line)
            out.append(b"\n".join(cur) + b"\n")
            cur = []
        elif cur:
            cur.append(line)
    return out
