"""``kubecrypt sealed history-audit``: what a leaked Sealed Secrets key (or a revoked SOPS
recipient) can open anywhere in a repository's history, with where and when it was there.

Re-encrypting the working tree does not help against a leaked key: every clone and fork keeps
the old ciphertexts (bitnami-labs/sealed-secrets #123). The remedy is to change the values at
their source; this report is the list of values to change, and (``live``) which of them the
cluster still uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.history import gitwalk
from kubecrypt.history.sealed import Opener
from kubecrypt.history.sops import normalise_pgp, revoked

SEALED, SOPS = "SealedSecret", "sops"


@dataclass
class Exposure:
    kind: str
    namespace: str
    name: str
    item: str
    scope: str | None
    value_hmac: str | None
    key: str  # the leaked key's fingerprint, or the revoked recipient
    first: tuple[int, int] = (0, 0)  # (commit time, order)
    last: tuple[int, int] = (0, 0)
    first_commit: str = ""
    last_commit: str = ""
    paths: set[str] = field(default_factory=set)
    live: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name,
                "item": self.item, "scope": self.scope, "first_commit": self.first_commit,
                "last_commit": self.last_commit, "paths": sorted(self.paths),
                "value_hmac": self.value_hmac, "live": self.live, "key": self.key}


@dataclass
class Progress:
    """Hooks for a progress bar: ``start(phase, total)`` then ``advance()`` per unit."""

    start: Callable[[str, int], None] = lambda phase, total: None
    advance: Callable[[], None] = lambda: None


@dataclass
class AuditResult:
    exposed: list[Exposure]
    commits: int = 0
    blobs: int = 0
    skipped_large: int = 0


@dataclass
class Finding:
    """What one blob exposes, before it is placed in history."""

    identity: tuple[str, ...]
    make: Callable[[], Exposure]
    by_path: bool = False  # no name of its own: one entry per path that held it


def audit(repo: Path, keys: list[tuple[str, rsa.RSAPrivateKey]], hmac_key: bytes,
          revoked_age: set[str] | None = None, revoked_pgp: set[str] | None = None,
          progress: Progress | None = None) -> AuditResult:
    """``keys``: (fingerprint, private key) of every leaked key."""
    progress = progress or Progress()
    age = {a.strip() for a in revoked_age or set()}
    pgp = {normalise_pgp(p) for p in revoked_pgp or set()}
    gitwalk.check_repo(repo)
    commits = gitwalk.read_log(repo)
    oids = sorted({new for c in commits for _, _, new in c.changes if new != gitwalk.NULL_OID})
    sizes = gitwalk.blob_sizes(repo, oids)
    readable = [o for o in oids if sizes.get(o, 0) <= gitwalk.MAX_BLOB]
    opener = Opener([k for _, k in keys], hmac_key)
    fingerprints = [fp for fp, _ in keys]
    findings: dict[str, list[Finding]] = {}
    progress.start("reading blobs", len(readable))
    for oid, data in gitwalk.read_blobs(repo, readable):
        found = _sealed_findings(opener, data, fingerprints) if keys else []
        if age or pgp:
            found += _sops_findings(data, age, pgp)
        if found:
            findings[oid] = found
        progress.advance()
    progress.start("replaying history", len(commits))
    where = gitwalk.replay(commits, set(findings), progress.advance)
    exposed: dict[tuple[str, ...], Exposure] = {}
    for oid, found in findings.items():
        place = where.get(oid)
        if place is None or not place.added:
            continue
        first = min((commits[o].time, o) for o, _, _ in place.added)
        held = place.held or [o for o, _, _ in place.added]
        last = max((commits[o].time, o) for o in held)
        for finding in found:
            identity = finding.identity
            if finding.by_path:
                identity = (*identity, min(p for _, _, p in place.added))
            entry = exposed.get(identity)
            if entry is None:
                entry = exposed[identity] = finding.make()
                entry.first = entry.last = first
                entry.first_commit = commits[first[1]].sha
                entry.last_commit = commits[last[1]].sha
            if first < entry.first:
                entry.first, entry.first_commit = first, commits[first[1]].sha
            if last >= entry.last:
                entry.last, entry.last_commit = last, commits[last[1]].sha
            entry.paths.update(p for _, _, p in place.added)
    result = sorted(exposed.values(), key=lambda e: (e.kind, e.namespace, e.name, e.item,
                                                      e.first))
    return AuditResult(result, len(commits), len(readable), len(oids) - len(readable))


def _sealed_findings(opener: Opener, data: bytes, fingerprints: list[str]) -> list[Finding]:
    out = []
    for hit in opener.hits(data):
        def make(hit: Any = hit) -> Exposure:
            return Exposure(SEALED, hit.namespace, hit.name, hit.item, hit.scope,
                            hit.value_hmac, fingerprints[hit.key])
        out.append(Finding((SEALED, hit.namespace, hit.name, hit.item, hit.scope,
                            hit.value_hmac), make))
    return out


def _sops_findings(data: bytes, age: set[str], pgp: set[str]) -> list[Finding]:
    out = []
    for hit in revoked(data, age, pgp):
        def make(hit: Any = hit) -> Exposure:
            return Exposure(SOPS, hit.namespace, hit.name, hit.recipient, None, None,
                            hit.recipient)
        out.append(Finding((SOPS, hit.namespace, hit.name, hit.recipient), make,
                           by_path=not hit.name))
    return out


__all__ = ["AuditResult", "Exposure", "Progress", "audit"]
