"""``kubecrypt sealed which``: which known certificate or key sealed each SealedSecret.

The annotation ``kubecrypt.io/sealed-with`` answers it without any private key; without the
annotation (kubeseal's output) the given private keys are tried, one at a time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubecrypt.errors import KubecryptError
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import SealingKey, keys_from_file
from kubecrypt.sealed.objects import SEALED_KIND, encrypted_data
from kubecrypt.sealed.provenance import cert_fingerprint, pem_fingerprint, sealed_with
from kubecrypt.sealed.unseal import decrypt_items, unseal

ANNOTATION, VERIFIED, TRIAL, MISMATCH, UNKNOWN = (
    "annotation", "annotation, verified", "trial", "annotation not confirmed", "unknown")


@dataclass
class Known:
    """A certificate (public) or a key (private, with its certificate when it has one)."""

    name: str
    cert_fingerprint: str | None = None
    key: SealingKey | None = None


def known_from_cert(name: str, path: str) -> Known:
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise SealedInputError(f"cannot read certificate {path}: {exc.strerror}") from None
    fingerprint = pem_fingerprint(pem)
    if fingerprint is None:
        raise SealedInputError(f"failed to read any certificates from {path}")
    return Known(name or path, fingerprint)


def known_from_keys(keys: Iterable[SealingKey], source: str) -> list[Known]:
    return [Known(key.name or f"{source} ({key.fingerprint})",
                  cert_fingerprint(key.certificate) if key.certificate else None, key)
            for key in keys]


def read_key_file(path: str) -> list[Known]:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise SealedInputError(f"cannot read private key file {path}: {exc.strerror}") from None
    return known_from_keys(keys_from_file(content, path), path)


def opens(doc: dict[str, Any], key: SealingKey) -> bool:
    try:
        if encrypted_data(doc.get("spec") or {}):
            decrypt_items(doc, [key.private_key])
        else:
            unseal(doc, [key.private_key])
        return True
    except KubecryptError:
        return False


@dataclass
class Answer:
    file: str
    document: int
    namespace: str
    name: str
    sealed_with: str | None
    known: str
    how: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "document": self.document, "namespace": self.namespace,
                "name": self.name, "sealed_with": self.sealed_with, "known": self.known or None,
                "how": self.how}


def identify(doc: dict[str, Any], known: list[Known]) -> tuple[str, str]:
    """(name of the known cert/key, how it was found)."""
    claimed = sealed_with(doc)
    if claimed is not None:
        for k in known:
            if k.cert_fingerprint == claimed:
                if k.key is None:
                    return k.name, ANNOTATION
                if opens(doc, k.key):
                    return k.name, VERIFIED
                return k.name, MISMATCH
    for k in known:
        if k.key is not None and opens(doc, k.key):
            return k.name, TRIAL
    return "", UNKNOWN


def which(files: list[str], known: list[Known]) -> list[Answer]:
    out = []
    for path in files:
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise SealedInputError(f"cannot read {path}: {exc.strerror}") from None
        docs = load_documents(content, path)
        sealed = [(i, d) for i, d in enumerate(docs, 1) if d.get("kind") == SEALED_KIND]
        if not sealed:
            raise SealedInputError(f"{path} holds no SealedSecret")
        for index, doc in sealed:
            meta = doc.get("metadata") or {}
            name, how = identify(doc, known)
            out.append(Answer(path, index, str(meta.get("namespace") or ""),
                              str(meta.get("name") or ""), sealed_with(doc), name, how))
    return out


__all__ = ["Answer", "Known", "identify", "known_from_cert", "known_from_keys", "opens",
           "read_key_file", "which"]
