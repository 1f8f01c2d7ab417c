"""Sealing keys: the registry that unseals (every key tried, newest first), certificates, key
generation as the controller does it, and the key Secret / backup formats
(``bitnami-labs/sealed-secrets:pkg/crypto/keys.go``, ``pkg/controller/keys.go``)."""

from __future__ import annotations

import datetime as dt
import secrets as _secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID

from kubecrypt.sealed.crypto import b64decode_std, b64encode_std, fingerprint
from kubecrypt.sealed.errors import CertificateError, SealedInputError

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
KEY_LABEL_ACTIVE = "active"
DEFAULT_KEY_PREFIX = "sealed-secrets-key"
DEFAULT_NAMESPACE = "kube-system"
DEFAULT_KEY_SIZE = 4096
DEFAULT_KEY_TTL = dt.timedelta(hours=87600)
# Kubernetes' generateName suffix alphabet (k8s.io/apiserver/pkg/storage/names): no vowels.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class SealingKey:
    """One private key with its certificate and the key Secret's metadata, when it came from one."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate | None = None
    name: str = ""
    namespace: str = ""
    creation: dt.datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = fingerprint(self.private_key.public_key())

    @property
    def not_before(self) -> dt.datetime | None:
        return self.certificate.not_valid_before_utc if self.certificate else None

    @property
    def not_after(self) -> dt.datetime | None:
        return self.certificate.not_valid_after_utc if self.certificate else None

    @property
    def active(self) -> bool:
        return self.labels.get(KEY_LABEL) == KEY_LABEL_ACTIVE

    def order_time(self, priority: str = "CertNotBefore") -> dt.datetime:
        """How "newest" is decided (the controller's ``--key-order-priority``)."""
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        if priority == "SecretCreationTimestamp":
            return self.creation or self.not_before or epoch
        return self.not_before or self.creation or epoch


class KeyRegistry:
    """Private keys indexed by fingerprint. Every key may decrypt; the newest one seals.

    Decryption tries keys newest first: a SealedSecret is most likely sealed with a recent key,
    and with 4096-bit keys each wrong try costs a full RSA private operation."""

    def __init__(self, keys: Iterable[SealingKey] = (), order_priority: str = "CertNotBefore"):
        self.order_priority = order_priority
        self._keys: dict[str, SealingKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: SealingKey) -> None:
        self._keys.setdefault(key.fingerprint, key)
        self._sorted: list[SealingKey] | None = None

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[SealingKey]:
        return iter(self.newest_first())

    def newest_first(self) -> list[SealingKey]:
        if getattr(self, "_sorted", None) is None:
            # Stable sort: keys with equal times keep insertion order, earlier wins ties upstream.
            self._sorted = sorted(
                self._keys.values(), key=lambda k: k.order_time(self.order_priority), reverse=True
            )
        assert self._sorted is not None
        return self._sorted

    def private_keys(self) -> list[rsa.RSAPrivateKey]:
        return [k.private_key for k in self.newest_first()]

    def newest(self) -> SealingKey | None:
        keys = self.newest_first()
        return keys[0] if keys else None

    def get(self, fp: str) -> SealingKey | None:
        return self._keys.get(fp)


# --- certificates ----------------------------------------------------------------------------


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def sealing_public_key(
    cert_pem: bytes, now: dt.datetime | None = None, source: str = "certificate"
) -> rsa.RSAPublicKey:
    """kubeseal's ParseKey: first CERTIFICATE block, RSA only, refuse an expired one."""
    certs = parse_certificates(cert_pem)
    if not certs:
        raise CertificateError(f"failed to read any certificates from {source}")
    cert = certs[0]
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        kind = type(public_key).__name__.lstrip("_").replace("PublicKey", "")
        raise CertificateError(
            f"expected RSA public key but found an {kind} key in {source}; Sealed Secrets "
            "certificates must hold RSA keys"
        )
    now = now or dt.datetime.now(dt.UTC)
    not_after = cert.not_valid_after_utc
    if now > not_after:
        # Go's "January 2, 2006" layout; NotBefore is not checked upstream either.
        raise CertificateError(
            "failed to encrypt using an expired certificate on "
            f"{not_after.strftime('%B')} {not_after.day}, {not_after.year}"
        )
    return public_key


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# --- key generation --------------------------------------------------------------------------


def generate_key(
    bits: int = DEFAULT_KEY_SIZE, ttl: dt.timedelta = DEFAULT_KEY_TTL, cn: str = "",
    now: dt.datetime | None = None,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return private_key, self_signed_certificate(private_key, ttl, cn, now)


def self_signed_certificate(
    private_key: rsa.RSAPrivateKey, ttl: dt.timedelta = DEFAULT_KEY_TTL, cn: str = "",
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Like upstream ``crypto.SignKey``: random 128-bit serial, CN-only subject = issuer,
    Key Usage critical = encipherOnly, Basic Constraints critical CA, Subject Key Identifier."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)] if cn else [])
    # cryptography's KeyUsage refuses encipher_only without keyAgreement; Go writes that lone bit,
    # so the extension is written as the DER Go produces: BIT STRING 0x01.
    key_usage = x509.UnrecognizedExtension(ExtensionOID.KEY_USAGE, b"\x03\x02\x00\x01")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(int.from_bytes(_secrets.token_bytes(16), "big") >> 1 or 1)
        .not_valid_before(now)
        .not_valid_after(now + ttl)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False
        )
        .sign(private_key, hashes.SHA256())
    )


def generate_key_name(prefix: str = DEFAULT_KEY_PREFIX) -> str:
    return prefix + "".join(_secrets.choice(_NAME_ALPHABET) for _ in range(5))


# --- key Secrets and backups -----------------------------------------------------------------


def private_key_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 ``RSA PRIVATE KEY``, what the controller writes into ``tls.key``."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def key_secret(key: SealingKey, prefix: str = DEFAULT_KEY_PREFIX) -> dict[str, Any]:
    """The controller's key Secret: labelled ``active``, type TLS, PKCS#1 key and certificate."""
    if key.certificate is None:
        raise SealedInputError(f"key {key.fingerprint} has no certificate to export")
    metadata: dict[str, Any] = {"name": key.name or generate_key_name(prefix)}
    metadata["generateName"] = prefix
    metadata["namespace"] = key.namespace or DEFAULT_NAMESPACE
    if key.creation is not None:
        metadata["creationTimestamp"] = format_time(key.creation)
    metadata["labels"] = {**key.labels, KEY_LABEL: key.labels.get(KEY_LABEL, KEY_LABEL_ACTIVE)}
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": metadata,
        "data": {
            "tls.crt": b64encode_std(certificate_pem(key.certificate)),
            "tls.key": b64encode_std(private_key_pem(key.private_key)),
        },
        "type": "kubernetes.io/tls",
    }


def backup_list(keys: Iterable[SealingKey], prefix: str = DEFAULT_KEY_PREFIX) -> dict[str, Any]:
    """What ``kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml`` gives."""
    return {
        "apiVersion": "v1",
        "items": [key_secret(k, prefix) for k in keys],
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def load_private_key(pem: bytes, source: str) -> rsa.RSAPrivateKey:
    """PKCS#1 or PKCS#8 PEM; only RSA keys can unseal."""
    try:
        # The holder's own key, not attacker input: skipping OpenSSL's RSA consistency check
        # (primality tests, ~0.1-0.2 s per 4096-bit key) keeps loading a key backup fast.
        key = serialization.load_pem_private_key(
            pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError) as exc:
        raise SealedInputError(f"cannot read the private key in {source}: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SealedInputError(f"the private key in {source} is not an RSA key")
    return key


def key_from_secret(secret: Mapping[str, Any], source: str) -> SealingKey:
    data = secret.get("data") or {}
    metadata = secret.get("metadata") or {}
    if "tls.key" not in data:
        # Upstream's wording, typo included (pkg/kubeseal: "secret must contain a 'tls.data' key").
        raise SealedInputError(
            f"secret must contain a 'tls.data' key (Secret {metadata.get('name', '?')!s} "
            f"in {source} has no data[\"tls.key\"])"
        )
    try:
        key_pem = b64decode_std(str(data["tls.key"]))
    except ValueError as exc:
        raise SealedInputError(
            f"tls.key of Secret {metadata.get('name', '?')} in {source}: {exc}"
        ) from None
    private_key = load_private_key(key_pem, source)
    cert = None
    if "tls.crt" in data:
        try:
            certs = parse_certificates(b64decode_std(str(data["tls.crt"])))
        except ValueError:
            certs = []
        cert = certs[0] if certs else None
    return SealingKey(
        private_key=private_key, certificate=cert, name=str(metadata.get("name") or ""),
        namespace=str(metadata.get("namespace") or ""),
        creation=parse_time(metadata.get("creationTimestamp")),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
    )


def keys_from_file(content: bytes, source: str) -> list[SealingKey]:
    """A PEM private key, a ``v1`` List of key Secrets, or one or several Secrets (JSON/YAML)."""
    from kubecrypt.sealed.documents import load_documents  # documents imports YAML; keep lazy

    if b"-----BEGIN" in content and b"PRIVATE KEY-----" in content:
        key = load_private_key(content, source)
        certs = parse_certificates(content)
        return [SealingKey(private_key=key, certificate=certs[0] if certs else None)]
    keys: list[SealingKey] = []
    for doc in load_documents(content, source):
        items = doc.get("items") if doc.get("kind") == "List" else [doc]
        for item in items or []:
            if not isinstance(item, Mapping) or item.get("kind", "Secret") != "Secret":
                raise SealedInputError(
                    f"{source} holds a {item.get('kind') if isinstance(item, Mapping) else item!r}"
                    ", not a key Secret; give a PEM key or a key backup"
                )
            keys.append(key_from_secret(item, source))
    if not keys:
        raise SealedInputError(f"no private key found in {source}")
    return keys


__all__ = [
    "KEY_LABEL",
    "KeyRegistry",
    "SealingKey",
    "backup_list",
    "generate_key",
    "key_secret",
    "keys_from_file",
    "sealing_public_key",
]
