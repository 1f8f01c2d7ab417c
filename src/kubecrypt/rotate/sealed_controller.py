"""``kubecrypt rotate sealed --controller``: the cluster path. Renew the controller's key now the
way upstream's operators do (a new key Secret with the controller's label in its namespace,
which the controller watches and starts sealing with), wait until its ``/v1/cert.pem`` serves
the new certificate, then re-encrypt every SealedSecret file of a Git working tree through its
``/v1/rotate`` — all through the API server's service proxy, as ``kubecrypt seal`` reaches it.

Which key a SealedSecret was sealed for cannot be told from its ciphertext without the private
keys, so the ``kubecrypt.io/sealed-with`` annotation decides: a file whose SealedSecrets all
name the certificate the controller serves is current and left alone; any other file
(kubeseal's, or on an older key) is re-encrypted and stamped. Old keys are never removed:
SealedSecrets in the cluster still unseal."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.errors import KubecryptError
from kubecrypt.fileio import atomic_write
from kubecrypt.kube import ControllerProxy, status_message
from kubecrypt.rotate.errors import NotLoaded, RotateError
from kubecrypt.rotate.sealed import (
    CURRENT,
    FAILED,
    REENCRYPTED,
    FileResult,
    SealedReport,
    exposed,
    file_text,
    mixed,
    sealed_files,
)
from kubecrypt.sealed.crypto import fingerprint
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.keys import (
    DEFAULT_KEY_PREFIX,
    KEY_LABEL,
    KEY_LABEL_ACTIVE,
    SealingKey,
    generate_key,
    key_secret,
    parse_certificates,
)
from kubecrypt.sealed.kubeseal import KubesealRequest, re_encrypt
from kubecrypt.sealed.provenance import cert_fingerprint, sealed_with

DEFAULT_WAIT = 60.0


@dataclass
class ControllerOptions:
    key_size: int = 4096
    cn: str = ""
    key_prefix: str = DEFAULT_KEY_PREFIX
    renew: bool = True
    compromised: bool = False
    dry_run: bool = False
    wait_timeout: float = DEFAULT_WAIT


def _where(proxy: ControllerProxy) -> str:
    return f"{proxy.namespace}/{proxy.name}"


def served_certificate(proxy: ControllerProxy) -> x509.Certificate:
    """The certificate the controller seals with now; one sentence when it cannot be had."""
    try:
        pem = proxy.certificate()
    except KubecryptError as exc:
        reason = str(exc).split("\n", 1)[0].rstrip(".")
        raise RotateError(
            f"cannot reach the Sealed Secrets controller {_where(proxy)} through the API server "
            f"({reason}); check --controller-name, --controller-namespace and --kubeconfig"
        ) from None
    certs = parse_certificates(pem)
    if not certs:
        raise RotateError(f"the controller {_where(proxy)} served no certificate at /v1/cert.pem")
    return certs[0]


def _cert_fingerprint(cert: x509.Certificate) -> str:
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise RotateError("the controller's certificate is not for an RSA key")
    return fingerprint(public_key)


def create_key(proxy: ControllerProxy, current: x509.Certificate, opts: ControllerOptions
               ) -> tuple[SealingKey, str]:
    """A key made as the controller makes it, stored as a labelled key Secret in its namespace
    (generateName: the API server picks the suffix). Its certificate starts strictly after the
    one served now, so the controller's newest-first order picks it."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    latest = current.not_valid_before_utc
    if latest >= now:
        now = latest + dt.timedelta(seconds=1)
    private_key, cert = generate_key(opts.key_size, cn=opts.cn, now=now)
    key = SealingKey(private_key, cert, namespace=proxy.namespace,
                     labels={KEY_LABEL: KEY_LABEL_ACTIVE})
    secret = key_secret(key, opts.key_prefix)
    meta = secret["metadata"]
    meta.pop("name", None)
    meta.pop("creationTimestamp", None)
    path = f"/api/v1/namespaces/{proxy.namespace}/secrets"
    status, body = proxy.client.request("POST", path, body=json.dumps(secret).encode(),
                                        headers={"Content-Type": "application/json"})
    if status not in (200, 201):
        raise RotateError(f"cannot create the new key Secret in namespace {proxy.namespace}: "
                          f"{status_message(status, body).rstrip('.')}; nothing was changed")
    name = str((json.loads(body).get("metadata") or {}).get("name") or "")
    return key, f"{proxy.namespace}/{name}"


def wait_served(proxy: ControllerProxy, key: SealingKey, secret: str, timeout: float,
                sleep: Callable[[float], None] = time.sleep) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _cert_fingerprint(served_certificate(proxy)) == key.fingerprint:
                return
        except RotateError:
            pass  # a controller restarting in between: keep waiting until the deadline
        if time.monotonic() > deadline:
            raise NotLoaded(
                f"the controller {_where(proxy)} does not serve the new key's certificate yet "
                f"after {timeout:g}s (key Secret {secret} was created and stays; no file was "
                "re-encrypted): check the controller's logs, then rerun with --no-renew")
        sleep(0.2)


def rotate_with_controller(proxy: ControllerProxy, directory: Path | None,
                           opts: ControllerOptions) -> SealedReport:
    if directory is not None and not directory.is_dir():
        raise RotateError(f"{directory} is not a directory; pass the Git working tree with --dir")
    current = served_certificate(proxy)  # unreachable or wrong namespace: stop, nothing changed
    report = SealedReport()
    if opts.renew and not opts.dry_run:
        key, secret = create_key(proxy, current, opts)
        report.new_key, report.new_key_secret = key, secret
        wait_served(proxy, key, secret, opts.wait_timeout)
        newest = key.fingerprint
        assert key.certificate is not None
        served = cert_fingerprint(key.certificate)
    else:
        newest = _cert_fingerprint(current)
        served = cert_fingerprint(current)
    report.new_key_fingerprint = newest
    if directory is None:
        return report
    for path, sealed, only_sealed in sealed_files(directory):
        if opts.compromised:
            # Every file sealed before the renewal is readable with the old keys.
            report.exposed += [exposed(path, d) for d in sealed]
        if not only_sealed:
            report.files.append(mixed(path))
            continue
        if not opts.renew and all(sealed_with(d) == served for d in sealed):
            report.files.append(FileResult(path, CURRENT, count=len(sealed)))
            continue
        if opts.dry_run:
            report.files.append(FileResult(path, REENCRYPTED, count=len(sealed)))
            continue
        try:
            out = _rotate_docs(proxy, sealed)
        except KubecryptError as exc:
            report.files.append(FileResult(path, FAILED, str(exc)))
            continue
        atomic_write(path, file_text(path, out).encode())
        report.files.append(FileResult(path, REENCRYPTED, count=len(out)))
    return report


def _rotate_docs(proxy: ControllerProxy, sealed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each SealedSecret through ``/v1/rotate``, exactly as ``kubecrypt seal --re-encrypt``."""
    req = KubesealRequest(output_format="json", re_encrypt=True, proxy_factory=lambda: proxy)
    # One call per file: the served certificate is asked once around the whole file.
    answer = re_encrypt(req, "\n".join(json.dumps(doc) for doc in sealed).encode())
    return load_documents(answer.encode(), "the controller's answer")
