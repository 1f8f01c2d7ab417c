"""The lab's PKI: a CA and a server certificate for 127.0.0.1/localhost.

Go refuses CN-only certificates and Python 3.13's strict X.509 mode wants key identifiers and a
critical basicConstraints on the CA, so both are set."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubecrypt.fileio import atomic_write


def _write(path: Path, data: bytes, private: bool) -> None:
    atomic_write(path, data, mode=0o600 if private else 0o644)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ensure_pki(pki_dir: Path) -> tuple[Path, Path, Path]:
    """Creates (once) ``ca.crt``, ``server.crt`` and ``server.key``; returns their paths."""
    pki_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pki_dir.chmod(0o700)  # mkdir's mode is masked by the umask and ignored for an existing dir
    ca_crt, srv_crt, srv_key = pki_dir / "ca.crt", pki_dir / "server.crt", pki_dir / "server.key"
    if ca_crt.exists() and srv_crt.exists() and srv_key.exists():
        return ca_crt, srv_crt, srv_key
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubecrypt-lab-ca")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write(pki_dir / "ca.key", _pem_key(ca_key), True)
    _write(srv_key, _pem_key(key), True)
    _write(srv_crt, cert.public_bytes(serialization.Encoding.PEM), False)
    _write(ca_crt, ca.public_bytes(serialization.Encoding.PEM), False)
    return ca_crt, srv_crt, srv_key


def issue_client_cert(pki_dir: Path, user: str, groups: tuple[str, ...] = ()
                      ) -> tuple[bytes, bytes]:
    """A client certificate (PEM cert, PEM key) from the lab CA, for x509 authentication:
    CN is the user name and each O a group, as kube-apiserver reads them."""
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user),
                         *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)
