"""kubeseal's modes, in its precedence order: ``--recovery-unseal`` → ``--validate`` →
``--re-encrypt`` → (certificate) ``--fetch-cert`` → ``--merge-into`` → ``--raw`` → sealing.

Each mode takes the input bytes and returns what to print; the CLI only parses and prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt import safeparse
from kubecrypt.fileio import atomic_write
from kubecrypt.sealed.certsource import Controller, obtain_certificate
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.errors import ControllerError, SealedInputError, UnsealError
from kubecrypt.sealed.keys import KeyRegistry, keys_from_file, sealing_public_key
from kubecrypt.sealed.objects import SEALED_API_VERSION, SEALED_KIND, check_sealed_secret
from kubecrypt.sealed.provenance import pem_fingerprint, sealed_with, stamp, strip
from kubecrypt.sealed.render import SEALED_SECRET, SECRET, ordered, render
from kubecrypt.sealed.scope import Scope
from kubecrypt.sealed.seal import (
    ERR_NO_SECRETS,
    SealOptions,
    merge_into,
    reencrypt,
    rotate_like_controller,
    seal_documents,
    seal_raw,
    unseal_raw,
)
from kubecrypt.sealed.unseal import unseal


@dataclass
class KubesealRequest:
    output_format: str = "json"
    format_given: bool = False
    cert: str | None = None
    fetch_cert: bool = False
    scope: Scope = Scope.STRICT
    name: str = ""
    namespace: str = ""
    default_namespace: str = "default"
    allow_empty_data: bool = False
    raw: bool = False
    from_file: list[str] = field(default_factory=list)
    merge_into: str | None = None
    validate: bool = False
    re_encrypt: bool = False
    flatten_template: bool = False  # offline --re-encrypt exactly as upstream's /v1/rotate
    recovery_unseal: bool = False
    recovery_private_keys: list[str] = field(default_factory=list)
    provenance: bool = True  # write kubecrypt.io/sealed-with on every SealedSecret
    # Built lazily: offline modes must work without any kubeconfig.
    proxy_factory: Callable[[], Controller] | None = None


def load_registry(files: list[str]) -> KeyRegistry:
    """``--recovery-private-key``: repeatable and comma-separated; PEM keys or key backups."""
    registry = KeyRegistry()
    for entry in files:
        for name in filter(None, (part.strip() for part in entry.split(","))):
            try:
                content = Path(name).read_bytes()
            except OSError as exc:
                raise SealedInputError(f"cannot read private key file {name}: {exc.strerror}") \
                    from None
            for key in keys_from_file(content, name):
                registry.add(key)
    return registry


def render_sealed(obj: dict[str, Any], output_format: str) -> str:
    return render(ordered(obj, SEALED_SECRET), output_format)


def run(req: KubesealRequest, read_input: Callable[[], bytes]) -> str | bytes:
    if req.from_file and not req.raw:
        raise SealedInputError("--from-file requires --raw")
    if req.recovery_unseal and req.raw:
        return recovery_unseal_raw(req, read_input())
    if req.recovery_unseal:
        return recovery_unseal(req, read_input())
    if req.validate:
        return validate(req, read_input())
    if req.re_encrypt:
        return re_encrypt(req, read_input())
    proxy = req.proxy_factory() if (req.cert is None and req.proxy_factory) else None
    cert_pem, source = obtain_certificate(req.cert, proxy)
    if req.fetch_cert:
        return cert_pem
    if req.merge_into:
        public_key = sealing_public_key(cert_pem, source=source)
        return merge(req, read_input(), public_key, _options(req), _fingerprint(req, cert_pem))
    if req.raw:
        return raw(req, read_input, sealing_public_key(cert_pem, source=source))
    return seal_with_cert(req, read_input(), cert_pem, source)


def _options(req: KubesealRequest) -> SealOptions:
    return SealOptions(
        scope=req.scope, name=req.name, namespace=req.namespace,
        default_namespace=req.default_namespace, allow_empty_data=req.allow_empty_data,
    )


def _fingerprint(req: KubesealRequest, cert_pem: bytes) -> str | None:
    return pem_fingerprint(cert_pem) if req.provenance else None


def seal_with_cert(req: KubesealRequest, content: bytes, cert_pem: bytes, source: str,
                   extra: dict[str, str] | None = None) -> str:
    """Plain sealing for one certificate, stamped with its fingerprint; ``extra`` annotations
    (the escrow mark) go on the SealedSecret's own metadata."""
    public_key = sealing_public_key(cert_pem, source=source)
    sealed = seal_documents(load_documents(content), public_key, _options(req))
    fingerprint = _fingerprint(req, cert_pem)
    for obj in sealed:
        stamp(obj, fingerprint)
        if extra:
            obj["metadata"].setdefault("annotations", {}).update(extra)
    return "".join(render_sealed(s, req.output_format) for s in sealed)


def _sealed_inputs(content: bytes) -> list[dict[str, Any]]:
    docs = load_documents(content)
    if not docs:
        raise SealedInputError("no SealedSecret found in input")
    return [check_sealed_secret(doc, f"document {i} of input") for i, doc in enumerate(docs, 1)]


def recovery_unseal(req: KubesealRequest, content: bytes) -> str:
    if not req.recovery_private_keys:
        raise SealedInputError("--recovery-unseal needs --recovery-private-key FILE[,FILE...]")
    registry = load_registry(req.recovery_private_keys)
    out = []
    for sealed in _sealed_inputs(content):
        # Like kubeseal, recovery does not accept the deprecated whole-object 'data' field.
        secret = unseal(sealed, registry, accept_deprecated_v1_data=False)
        out.append(render(ordered(secret, SECRET), req.output_format))
    return "".join(out)


def recovery_unseal_raw(req: KubesealRequest, content: bytes) -> bytes:
    """``--recovery-unseal --raw``: one ``--raw`` value back to its bytes (kubecrypt only)."""
    if not req.recovery_private_keys:
        raise SealedInputError("--recovery-unseal needs --recovery-private-key FILE[,FILE...]")
    registry = load_registry(req.recovery_private_keys)
    namespace = req.namespace or (req.default_namespace if req.scope is not Scope.CLUSTER_WIDE
                                  else "")
    return unseal_raw(content.decode("ascii", "replace"), registry, req.scope, namespace,
                      req.name)


def validate(req: KubesealRequest, content: bytes) -> str:
    try:
        sealed_list = _sealed_inputs(content)
    except SealedInputError:
        raise SealedInputError("unable to decrypt sealed secret") from None
    if req.recovery_private_keys:
        # Offline: the same check the controller's /v1/verify does, with the given keys.
        registry = load_registry(req.recovery_private_keys)
        for sealed in sealed_list:
            try:
                unseal(sealed, registry)
            except UnsealError:
                name = sealed["metadata"].get("name", "")
                raise UnsealError(f"unable to decrypt sealed secret: {name}") from None
        return ""
    proxy = _proxy(req)
    for sealed in sealed_list:
        body = json.dumps(sealed).encode()
        try:
            status, answer = proxy.post("/v1/verify", body)
        except ControllerError as exc:
            raise ControllerError(f"cannot validate sealed secret: {exc}") from None
        if status == 409:
            raise UnsealError(f"unable to decrypt sealed secret: {sealed['metadata'].get('name')}")
        if status != 200:
            raise ControllerError(
                f"cannot validate sealed secret: {proxy.message(status, answer)}"
            )
    return ""


def re_encrypt(req: KubesealRequest, content: bytes) -> str:
    sealed_list = _sealed_inputs(content)
    out = []
    if req.recovery_private_keys:
        registry = load_registry(req.recovery_private_keys)
        proxy = req.proxy_factory() if (req.cert is None and req.proxy_factory) else None
        cert_pem, source = obtain_certificate(req.cert, proxy)
        public_key = sealing_public_key(cert_pem, source=source)
        resealer = rotate_like_controller if req.flatten_template else reencrypt
        fingerprint = _fingerprint(req, cert_pem)
        for sealed in sealed_list:
            resealed = stamp(resealer(sealed, registry, public_key), fingerprint)
            out.append(render_sealed(resealed, req.output_format))
        return "".join(out)
    proxy = _proxy(req)
    # The controller seals with the certificate it serves; asked before and after, so a
    # renewal in between leaves the output unstamped rather than stamped wrongly.
    served = _served_fingerprint(req, proxy)
    results: list[dict[str, Any]] = []
    for sealed in sealed_list:
        try:
            # Upstream's /v1/rotate copies the outer metadata into the template when they
            # differ: our annotation must not travel into the Secret that way.
            status, answer = proxy.post("/v1/rotate", json.dumps(strip(sealed)).encode())
        except ControllerError as exc:
            raise ControllerError(f"cannot re-encrypt secret: {exc}") from None
        if status != 200:
            raise ControllerError(f"cannot re-encrypt secret: {proxy.message(status, answer)}")
        try:
            result = safeparse.load_json(answer, "the controller's answer", error=ControllerError)
        except ControllerError:
            raise ControllerError("cannot re-encrypt secret: the controller's answer is not JSON") \
                from None
        result["kind"], result["apiVersion"] = SEALED_KIND, SEALED_API_VERSION
        for name in ("creationTimestamp", "deletionTimestamp", "generation"):
            (result.get("metadata") or {}).pop(name, None)
        results.append(strip(result))
    if served and served != _served_fingerprint(req, proxy):
        served = None  # renewed in between: which key sealed each one is not known
    return "".join(render_sealed(stamp(r, served), req.output_format) for r in results)


def _served_fingerprint(req: KubesealRequest, proxy: Controller) -> str | None:
    if not req.provenance:
        return None
    try:
        return pem_fingerprint(proxy.certificate())
    except (ControllerError, SealedInputError):
        return None


def _proxy(req: KubesealRequest) -> Controller:
    if req.proxy_factory is None:
        raise SealedInputError("this mode needs the controller; give a kubeconfig")
    return req.proxy_factory()


def merge(req: KubesealRequest, content: bytes, public_key: Any, options: SealOptions,
          fingerprint: str | None = None) -> str:
    assert req.merge_into is not None
    path = Path(req.merge_into)
    try:
        existing_bytes = path.read_bytes()
    except OSError as exc:
        raise SealedInputError(f"cannot read --merge-into file {path}: {exc.strerror}") from None
    existing = load_documents(existing_bytes, str(path))
    if len(existing) != 1:
        raise SealedInputError(f"--merge-into file {path} must hold exactly one SealedSecret")
    docs = load_documents(content)
    if not docs:
        raise SealedInputError(ERR_NO_SECRETS)
    had_items = bool((existing[0].get("spec") or {}).get("encryptedData"))
    before = sealed_with(existing[0])
    merged = merge_into(existing[0], docs, public_key, options)
    # The file names one certificate only if every item in it is sealed for that one.
    stamp(merged, fingerprint if (not had_items or before == fingerprint) else None)
    output_format = req.output_format
    if not req.format_given:
        output_format = "json" if existing_bytes.lstrip().startswith(b"{") else "yaml"
    atomic_write(path, render_sealed(merged, output_format).encode("utf-8"))
    return ""


def raw(req: KubesealRequest, read_input: Callable[[], bytes], public_key: Any) -> str:
    if len(req.from_file) > 1:
        raise SealedInputError("must provide only one --from-file when using --raw")
    if req.from_file:
        spec = req.from_file[0]
        path = spec.split("=", 1)[1] if "=" in spec else spec
        try:
            value = Path(path).read_bytes()
        except OSError as exc:
            raise SealedInputError(f"cannot read --from-file {path}: {exc.strerror}") from None
    else:
        value = read_input()
    namespace = req.namespace or (req.default_namespace if req.scope is not Scope.CLUSTER_WIDE
                                  else "")
    return seal_raw(value, public_key, req.scope, namespace, req.name)
