"""git.*: what a GitOps repository exposes, in the working tree and in every commit.

* ``git.plaintext-secret``: Secret manifests with ``data`` or ``stringData``, YAML or JSON,
  multi-document or inside a List, with the first and the last commit that held each (gitleaks'
  ``kubernetes-secret-yaml`` rule misses ``stringData``, JSON and non-.yaml paths). History is
  read with ``kubecrypt.history`` (one ``git log --raw``, every blob once through
  ``git cat-file --batch``); sops-encrypted Secrets are not plaintext and are left out.
* ``git.sealed-foreign-key``: SealedSecrets in the working tree that no known key (the
  cluster's, or --sealed-keys-dir) opens: the controller cannot unseal them.
* ``git.sops-mac``: sops files in the working tree whose MAC does not verify, or with a value
  whose AES-GCM tag fails (edited without sops, or tampered with). Needs the file's key
  (SOPS_AGE_KEY_FILE, gpg, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt.doctor.report import Finding, Report, refs
from kubecrypt.errors import KubecryptError
from kubecrypt.history import gitwalk
from kubecrypt.history.manifests import objects
from kubecrypt.sealed.keys import SealingKey

IDS = ("git.plaintext-secret", "git.sealed-foreign-key", "git.sops-mac")
SKIP_DIRS = {".git", "node_modules", ".venv", "__pycache__"}
GITLEAKS = "gitleaks kubernetes-secret-yaml"


@dataclass
class PlainSecret:
    namespace: str
    name: str
    items: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)  # data, stringData
    formats: set[str] = field(default_factory=set)  # yaml, json
    paths: set[str] = field(default_factory=set)
    first: tuple[int, str] | None = None  # (order, sha)
    last: tuple[int, str] | None = None
    in_tree: set[str] = field(default_factory=set)


def plaintext_secrets(data: bytes) -> Iterator[tuple[str, str, list[str], list[str], str]]:
    """(namespace, name, item names, fields, format) of each plaintext Secret in one file."""
    if b"Secret" not in data:
        return
    fmt = "json" if data.lstrip()[:1] in (b"{", b"[") else "yaml"
    for obj in objects(data):
        if obj.get("kind") != "Secret" or "sops" in obj:
            continue
        items: list[str] = []
        fields = []
        for f in ("data", "stringData"):
            values = obj.get(f)
            if isinstance(values, dict) and any(v not in (None, "") for v in values.values()):
                items += [str(k) for k, v in values.items() if v not in (None, "")]
                fields.append(f)
        if items:
            meta = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
            yield (str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                   sorted(set(items)), fields, fmt)


def tree_files(repo: Path) -> Iterator[Path]:
    for path in sorted(repo.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(repo).parts):
            continue
        if path.is_file() and not path.is_symlink():
            try:
                if path.stat().st_size <= gitwalk.MAX_BLOB:
                    yield path
            except OSError:
                continue


def _scan_history(repo: Path, found: dict[tuple[str, str], PlainSecret]) -> int:
    commits = gitwalk.read_log(repo)
    added = sorted({new for c in commits for _p, _o, new in c.changes if new != gitwalk.NULL_OID})
    sizes = gitwalk.blob_sizes(repo, added) if added else {}
    small = [o for o in added if sizes.get(o, 0) <= gitwalk.MAX_BLOB]
    per_blob: dict[str, list[tuple[str, str, list[str], list[str], str]]] = {}
    for oid, data in gitwalk.read_blobs(repo, small):
        hits = list(plaintext_secrets(data))
        if hits:
            per_blob[oid] = hits
    if not per_blob:
        return len(commits)
    where = gitwalk.replay(commits, set(per_blob))
    for oid, hits in per_blob.items():
        w = where.get(oid)
        if w is None:
            continue
        for ns, name, items, fields, fmt in hits:
            s = found.setdefault((ns, name), PlainSecret(ns, name))
            s.items.update(items)
            s.fields.update(fields)
            s.formats.add(fmt)
            for order, sha, path in w.added:
                s.paths.add(path)
                if s.first is None or order < s.first[0]:
                    s.first = (order, sha)
            for order in w.held or [o for o, _, _ in w.added]:
                if s.last is None or order > s.last[0]:
                    s.last = (order, commits[order].sha)
    return len(commits)


def run_plaintext(report: Report, repos: list[Path]) -> None:
    findings = []
    for repo in repos:
        gitwalk.check_repo(repo)
        found: dict[tuple[str, str], PlainSecret] = {}
        commits = _scan_history(repo, found)
        for path in tree_files(repo):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            rel = str(path.relative_to(repo))
            for ns, name, items, fields, fmt in plaintext_secrets(data):
                s = found.setdefault((ns, name), PlainSecret(ns, name))
                s.items.update(items)
                s.fields.update(fields)
                s.formats.add(fmt)
                s.in_tree.add(rel)
        for (ns, name), s in sorted(found.items()):
            held_in = " and ".join(sorted(s.fields))
            where: list[str] = []
            if s.in_tree:
                where.append(f"in the working tree at {', '.join(sorted(s.in_tree))}")
            if s.first and s.last:
                gone = "" if s.in_tree else " (the working tree no longer has it)"
                where.append(f"in history from commit {s.first[1][:12]} to "
                             f"{s.last[1][:12]} at {', '.join(sorted(s.paths))}{gone}")
            missed = []
            if "stringData" in s.fields:
                missed.append("stringData")
            if "json" in s.formats:
                missed.append("JSON")
            caveat = (f"; {GITLEAKS} misses it ({', '.join(missed)})" if missed else "")
            location: dict[str, Any] = {"repo": str(repo),
                                        "path": sorted(s.in_tree or s.paths)[0]}
            if s.first and s.last:
                location.update(first_commit=s.first[1], last_commit=s.last[1])
            findings.append(Finding(
                "git.plaintext-secret", "high",
                f"Secret {ns or '(no namespace)'}/{name} in {repo}",
                f"a plaintext Secret manifest ({held_in}: items {', '.join(sorted(s.items))}; "
                f"{'/'.join(sorted(s.formats))}) is {'; and '.join(where)}{caveat}",
                "change these values at their source (every clone holds them), seal or sops-"
                "encrypt the manifest (kubecrypt seal / kubecrypt sops encrypt), and remove the "
                "history only as a courtesy: it revokes nothing",
                refs(kubescape="C-0012", docs="https://github.com/gitleaks/gitleaks"),
                location))
        report.sources[f"repo {repo}"] = f"{commits} commits"
    report.record("git.plaintext-secret", findings,
                  "no plaintext Secret manifest in any working tree or commit")


def _sealed_docs(repo: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    from kubecrypt.sealed.objects import SEALED_KIND

    for path in tree_files(repo):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if SEALED_KIND.encode() not in data:
            continue
        for obj in objects(data):
            if obj.get("kind") == SEALED_KIND:
                yield str(path.relative_to(repo)), obj


def run_sealed_foreign(report: Report, repos: list[Path], keys: list[SealingKey],
                       why_no_keys: str) -> None:
    cid = "git.sealed-foreign-key"
    if not keys:
        report.skip([cid], f"no sealing key known to try ({why_no_keys})")
        return
    from kubecrypt.sealed.which import opens

    findings = []
    total = 0
    for repo in repos:
        for rel, doc in _sealed_docs(repo):
            total += 1
            if any(opens(doc, k) for k in keys):
                continue
            meta = doc.get("metadata") or {}
            findings.append(Finding(
                cid, "medium", f"SealedSecret {meta.get('namespace') or ''}/"
                f"{meta.get('name') or ''} in {repo}/{rel}",
                f"none of the {len(keys)} known sealing keys opens it: the controller cannot "
                "unseal it (sealed for another cluster, or with a key that is gone)",
                "re-seal it with this cluster's certificate (kubecrypt seal --re-encrypt, or "
                "kubeseal --fetch-cert), or restore the key from a backup",
                refs(docs="https://github.com/bitnami-labs/sealed-secrets#how-to-use-kubeseal"
                     "-if-the-controller-is-not-running-within-the-kube-system-namespace"),
                {"repo": str(repo), "path": rel}))
    report.record(cid, findings, f"the known keys open all {total} SealedSecrets")


def run_sops_mac(report: Report, repos: list[Path]) -> None:
    from kubecrypt.sops.errors import CouldNotRetrieveKey, ErrorDecryptingTree, MacMismatch
    from kubecrypt.sops.ops import open_file
    from kubecrypt.sops.stores import format_for_path, store_for

    cid = "git.sops-mac"
    findings, checked, locked = [], 0, []
    for repo in repos:
        for path in tree_files(repo):
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if b"sops" not in data or b"mac" not in data:
                continue
            rel = str(path.relative_to(repo))
            store = store_for(format_for_path(rel))
            try:
                store.load_encrypted(data)
            except (KubecryptError, ValueError, KeyError, TypeError):
                continue  # not a sops file
            try:
                open_file(data, store)
                checked += 1
            except (MacMismatch, ErrorDecryptingTree) as exc:
                # The data key opened (the key is there): a MAC that does not match, or a
                # value whose AES-GCM tag fails (its ciphertext was edited), is tampering.
                checked += 1
                what = ("the sops MAC does not verify" if isinstance(exc, MacMismatch) else
                        "a value does not decrypt (its AES-GCM tag fails, the MAC cannot "
                        "be computed)")
                findings.append(Finding(
                    cid, "high", f"{repo}/{rel}",
                    f"{what}: the file was changed outside sops (or "
                    "tampered with), so its values cannot be trusted",
                    "find who changed it (git log -p), restore it, or re-create it with "
                    "sops and review the values", refs(docs="https://github.com/getsops/sops"),
                    {"repo": str(repo), "path": rel}))
            except CouldNotRetrieveKey:
                locked.append(rel)
            except KubecryptError:
                locked.append(rel)
    if not checked and locked:
        report.skip([cid], f"no key to open the {len(locked)} sops files (set "
                    "SOPS_AGE_KEY_FILE or import the PGP key): the MAC needs the data key")
        return
    report.record(cid, findings, f"{checked} sops files verify"
                  + (f" ({len(locked)} not checked: no key)" if locked else ""))
