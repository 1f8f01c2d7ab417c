"""``kubecrypt rotate sealed``: renew the Sealed Secrets key now and re-encrypt every SealedSecret
file of a Git working tree for it, offline with the keys (a key directory as ``kubecrypt sealed
keys`` keeps it). Renewing alone re-encrypts nothing: the files in Git stay sealed for the old
key until this is done.

``--compromised`` is the remedy for a leaked key: a new key, every file re-encrypted, and the
list of every Secret whose values must be changed *at their source*, since whoever holds the
leaked key can still open the old ciphertexts in Git history, whatever is re-encrypted now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt.errors import KubecryptError
from kubecrypt.fileio import atomic_write
from kubecrypt.rotate.errors import RotateError
from kubecrypt.sealed.documents import load_documents
from kubecrypt.sealed.keys import KeyRegistry, SealingKey, generate_key
from kubecrypt.sealed.keystore import KeyStore
from kubecrypt.sealed.kubeseal import render_sealed
from kubecrypt.sealed.objects import encrypted_data
from kubecrypt.sealed.provenance import cert_fingerprint, sealed_with, stamp
from kubecrypt.sealed.seal import reencrypt
from kubecrypt.sealed.unseal import decrypt_items

SEALED_KIND = "SealedSecret"
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules"}
SUFFIXES = (".yaml", ".yml", ".json")
REENCRYPTED, CURRENT, SKIPPED, FAILED = "re-encrypted", "current", "skipped", "failed"


@dataclass
class Exposed:
    """A Secret that a compromised key can open from an old ciphertext."""

    file: Path
    namespace: str
    name: str
    items: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.file), "namespace": self.namespace, "name": self.name,
                "items": self.items}


@dataclass
class FileResult:
    path: Path
    outcome: str
    detail: str = ""
    count: int = 0


@dataclass
class SealedReport:
    new_key: SealingKey | None = None
    new_key_file: Path | None = None
    new_key_secret: str = ""
    new_key_fingerprint: str = ""  # controller mode: namespace/name of the new key Secret
    files: list[FileResult] = field(default_factory=list)
    exposed: list[Exposed] = field(default_factory=list)
    # --compromised, offline: every value the leaked keys open anywhere in the Git history of
    # the working tree (None: --dir is not in a Git repository)
    history: list[Any] | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    def summary(self) -> str:
        n = sum(f.count for f in self.files if f.outcome == REENCRYPTED)
        return (f"{self.count(REENCRYPTED)} files re-encrypted ({n} SealedSecrets), "
                f"{self.count(CURRENT)} already current, {self.count(FAILED)} failed")


def renew(store: KeyStore, key_size: int = 4096, cn: str = "",
          existing: Iterable[SealingKey] = ()) -> tuple[SealingKey, Path]:
    """A new key, as the controller's key renewal makes it. Its certificate starts strictly after
    every existing key's (NotBefore has one-second resolution), so it is the newest, the one
    the controller seals with."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    latest = max((k.not_before for k in existing if k.not_before), default=None)
    if latest is not None and latest >= now:
        now = latest + dt.timedelta(seconds=1)
    private_key, cert = generate_key(key_size, cn=cn, now=now)
    key = SealingKey(private_key, cert, namespace="kube-system", creation=dt.datetime.now(dt.UTC))
    return key, store.add(key, "sealed-secrets-key")


def _files(directory: Path) -> Iterable[Path]:
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory).parts
        if any(part in SKIP_DIRS for part in rel) or p.is_symlink() or not p.is_file():
            continue
        if p.suffix in SUFFIXES:
            yield p


def _is_sealed(doc: dict[str, Any]) -> bool:
    return doc.get("kind") == SEALED_KIND and str(doc.get("apiVersion", "")).startswith("bitnami.com/")


def _opened_by(doc: dict[str, Any], keys: Iterable[SealingKey]) -> bool:
    try:
        decrypt_items(doc, KeyRegistry(list(keys)))
        return True
    except KubecryptError:
        return False


def _current(doc: dict[str, Any], new_key: SealingKey, fingerprint: str | None) -> bool:
    """On the newest key already: by its provenance annotation when it has one (no RSA work),
    else by opening it with the newest key."""
    claimed = sealed_with(doc)
    if claimed is not None:
        return claimed == fingerprint
    return _opened_by(doc, [new_key])


def sealed_files(directory: Path) -> Iterable[tuple[Path, list[dict[str, Any]], bool]]:
    """Every file under ``directory`` holding SealedSecrets: (path, its SealedSecrets, whether
    it holds only SealedSecrets). Files that are not Kubernetes manifests are ignored."""
    if not directory.is_dir():
        raise RotateError(f"{directory} is not a directory; pass the Git working tree with --dir")
    for path in _files(directory):
        try:
            docs = load_documents(path.read_bytes(), str(path))
        except KubecryptError:
            continue  # not a Kubernetes manifest: none of our business
        sealed = [d for d in docs if _is_sealed(d)]
        if sealed:
            yield path, sealed, len(sealed) == len(docs)


def exposed(path: Path, doc: dict[str, Any]) -> Exposed:
    meta = doc.get("metadata") or {}
    return Exposed(path, str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                   sorted(encrypted_data(doc.get("spec") or {})))


def mixed(path: Path) -> FileResult:
    return FileResult(path, SKIPPED, "SealedSecrets mixed with other objects; re-encrypt this "
                      "file with `kubecrypt seal --re-encrypt`")


def file_text(path: Path, out: list[dict[str, Any]]) -> str:
    """The re-encrypted SealedSecrets rendered as the file held them (JSON or YAML)."""
    fmt = "json" if path.suffix == ".json" else "yaml"
    text = "".join(render_sealed(d, fmt) for d in out)
    if fmt == "yaml" and len(out) == 1 and not path.read_text().lstrip().startswith("---"):
        text = text.removeprefix("---\n")
    return text


def reencrypt_dir(directory: Path, registry: KeyRegistry, new_key: SealingKey,
                  compromised: list[SealingKey] | None = None,
                  dry_run: bool = False) -> SealedReport:
    report = SealedReport()
    public_key = new_key.private_key.public_key()
    fingerprint = cert_fingerprint(new_key.certificate) if new_key.certificate else None
    for path, sealed, only_sealed in sealed_files(directory):
        if compromised:
            report.exposed += [exposed(path, d) for d in sealed if _opened_by(d, compromised)]
        if not only_sealed:
            report.files.append(mixed(path))
            continue
        if all(_current(d, new_key, fingerprint) for d in sealed):
            report.files.append(FileResult(path, CURRENT, count=len(sealed)))
            continue
        try:
            out = [stamp(reencrypt(d, registry, public_key), fingerprint) for d in sealed]
        except KubecryptError as exc:
            report.files.append(FileResult(path, FAILED, str(exc)))
            continue
        if not dry_run:
            atomic_write(path, file_text(path, out).encode())
        report.files.append(FileResult(path, REENCRYPTED, count=len(out)))
    return report


def rotate_sealed(keys_dir: Path, directory: Path | None, *, compromised: bool = False,
                  compromised_keys: list[str] | None = None, key_size: int = 4096,
                  cn: str = "", renew_key: bool = True, dry_run: bool = False) -> SealedReport:
    store = KeyStore(keys_dir)
    existing = store.load()
    if not existing and directory is not None:
        raise RotateError(f"no keys in {keys_dir}: the files cannot be opened to re-encrypt them; "
                          "import the controller's keys with `kubecrypt sealed keys import`")
    wanted = set(compromised_keys or [])
    unknown = wanted - {k.fingerprint for k in existing}
    if unknown:
        raise RotateError(f"no key with fingerprint {', '.join(sorted(unknown))} in {keys_dir}; "
                          "see `kubecrypt sealed keys list`")
    leaked = [k for k in existing if not wanted or k.fingerprint in wanted] if compromised else []
    if dry_run or not renew_key:
        newest = KeyRegistry(existing).newest()
        if newest is None:
            raise RotateError(f"no keys in {keys_dir}; run without --no-renew to make one")
        new_key, new_file = newest, None
        if dry_run and renew_key:
            new_key = SealingKey(*generate_key(key_size, cn=cn))  # stands in; never stored
    else:
        new_key, new_file = renew(store, key_size, cn, existing)
    if compromised and new_key.fingerprint in {k.fingerprint for k in leaked}:
        raise RotateError("the newest key is among the compromised ones: renew the key (drop "
                          "--no-renew)")
    report = SealedReport(new_key, new_file)
    if directory is not None:
        registry = KeyRegistry([*existing, new_key])
        dir_report = reencrypt_dir(directory, registry, new_key, leaked, dry_run)
        report.files, report.exposed = dir_report.files, dir_report.exposed
        if leaked:
            report.history = history_exposed(directory, leaked)
    return report


def history_exposed(directory: Path, leaked: list[SealingKey]) -> list[Any] | None:
    """The history audit for the leaked keys over the repository holding ``directory``: the
    old ciphertexts there stay readable with them whatever is re-encrypted now."""
    import secrets
    import subprocess

    from kubecrypt.history.audit import audit

    top = subprocess.run(["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True, check=False)
    if top.returncode != 0:
        return None
    keys = [(k.fingerprint, k.private_key) for k in leaked]
    return audit(Path(top.stdout.strip()), keys, secrets.token_bytes(32)).exposed
