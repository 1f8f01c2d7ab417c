"""Sealing one input for many clusters at once (upstream #839, #263): one SealedSecret per
certificate under ``DIR/<NAME>/<file>``, and optionally an escrow copy for an offline key.

Each cluster's copy is ordinary kubeseal output (plus kubecrypt's provenance annotation),
sealed for that cluster's certificate, so that cluster's controller opens it unchanged.

The escrow copy is for disaster recovery only and must never be applied: it is written as
``DIR/escrow/<file>.escrow`` (``kubectl apply -f DIR`` and ``-R`` only read ``.json``,
``.yaml`` and ``.yml``) and carries ``kubecrypt.io/escrow: "true"``; the cluster's controller
could not open it anyway, as the offline key never goes there."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubecrypt.fileio import atomic_write
from kubecrypt.sealed.certsource import read_cert_arg
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.kubeseal import KubesealRequest, seal_with_cert
from kubecrypt.sealed.provenance import ESCROW_ANNOTATION, pem_fingerprint

CONTEXT_PREFIX = "context:"
ESCROW_DIR = "escrow"
ESCROW_SUFFIX = ".escrow"
FINGERPRINT_PREFIX_LEN = 12  # hex digits of the SHA-256 certificate fingerprint
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class CertTarget:
    """One ``--cert [NAME=]SOURCE``; SOURCE is a path, a URL or ``context:<kubeconfig context>``."""

    name: str
    source: str


def parse_cert_args(args: list[str]) -> list[CertTarget]:
    """``NAME=`` is a prefix only when it looks like a directory name (so URLs with ``=`` in
    their query stay whole); a path holding ``=`` can always be written ``NAME=path``."""
    out = []
    for arg in args:
        name, sep, rest = arg.partition("=")
        if sep and _NAME.match(name) and rest:
            out.append(CertTarget(name, rest))
        else:
            out.append(CertTarget("", arg))
    return out


@dataclass
class Resolved:
    name: str
    cert_pem: bytes
    source: str


def resolve(targets: list[CertTarget], fetch_context: Callable[[str], tuple[bytes, str]],
            escrow: bool = False) -> list[Resolved]:
    """Every certificate read (or fetched through its kubeconfig context) before anything is
    sealed; names defaulted to the fingerprint prefix and checked to be distinct."""
    out: list[Resolved] = []
    for target in targets:
        if target.source.startswith(CONTEXT_PREFIX):
            context = target.source[len(CONTEXT_PREFIX):]
            if not context:
                raise SealedInputError("--cert context: needs a kubeconfig context name, "
                                       "e.g. --cert context:prod")
            pem, source = fetch_context(context)
            source = f"{source} (context {context})"
        else:
            pem, source = read_cert_arg(target.source), target.source
        fingerprint = pem_fingerprint(pem)
        if fingerprint is None:
            raise SealedInputError(f"failed to read any certificates from {source}")
        name = target.name or fingerprint.removeprefix("sha256:")[:FINGERPRINT_PREFIX_LEN]
        out.append(Resolved(name, pem, source))
    names = [r.name for r in out]
    for name in names:
        if name == ESCROW_DIR and not escrow:
            raise SealedInputError(f"--cert {name}=...: '{ESCROW_DIR}' is reserved for the "
                                   "escrow copy; choose another name")
        if names.count(name) > 1:
            raise SealedInputError(f"two --cert options would both write to {name}/; give each "
                                   "a distinct NAME= prefix")
    return out


def output_file_name(sealed_secret_file: str | None, secret_file: str | None,
                     output_format: str) -> str:
    for given in (sealed_secret_file, secret_file):
        if given and given != "-":
            return Path(given).name
    return f"sealedsecret.{output_format}"


def plan(req: KubesealRequest, content: bytes, clusters: list[Resolved],
         escrow: Resolved | None, output_dir: Path, file_name: str) -> list[tuple[Path, bytes]]:
    """Every file to write, sealed in memory first: a failure leaves nothing half-written."""
    out = [(output_dir / c.name / file_name,
            seal_with_cert(req, content, c.cert_pem, c.source).encode()) for c in clusters]
    if escrow is not None:
        text = seal_with_cert(req, content, escrow.cert_pem, escrow.source,
                              extra={ESCROW_ANNOTATION: "true"})
        out.append((output_dir / ESCROW_DIR / (file_name + ESCROW_SUFFIX), text.encode()))
    return out


def write(outputs: list[tuple[Path, bytes]]) -> None:
    for path, _ in outputs:
        if path.parent.exists() and not path.parent.is_dir():
            raise SealedInputError(f"{path.parent} exists and is not a directory; choose another "
                                   "--output-dir or NAME")
    for path, data in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)


__all__ = ["CertTarget", "Resolved", "output_file_name", "parse_cert_args", "plan", "resolve",
           "write"]
