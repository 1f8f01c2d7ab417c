"""SOPS files whose recipients include a revoked age or PGP key. Nothing is decrypted: the
``sops`` metadata lists every recipient the data key was wrapped for, and whoever holds one
of those keys can open that version of the file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubecrypt.history.manifests import objects

# dotenv and INI stores flatten the metadata: sops_age__list_0__map_recipient=age1...
_FLAT_AGE = re.compile(rb"age__list_\d+__map_recipient\s*=\s*(\S+)")
_FLAT_PGP = re.compile(rb"pgp__list_\d+__map_fp\s*=\s*(\S+)")


@dataclass
class SopsHit:
    namespace: str
    name: str
    recipient: str  # public: an age recipient or a PGP fingerprint


def normalise_pgp(fp: str) -> str:
    return fp.replace(" ", "").upper()


def _groups(meta: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield meta
    for group in meta.get("key_groups") or []:
        if isinstance(group, dict):
            yield group


def _recipients(meta: dict[str, Any]) -> tuple[set[str], set[str]]:
    ages, pgps = set(), set()
    for group in _groups(meta):
        for entry in group.get("age") or []:
            if isinstance(entry, dict) and entry.get("recipient"):
                ages.add(str(entry["recipient"]).strip())
        for entry in group.get("pgp") or []:
            if isinstance(entry, dict) and entry.get("fp"):
                pgps.add(normalise_pgp(str(entry["fp"])))
    return ages, pgps


def revoked(data: bytes, age: set[str], pgp: set[str]) -> list[SopsHit]:
    """The revoked recipients ``data`` (one blob) is encrypted for, with the object's
    namespace/name when it is a Kubernetes object."""
    if b"sops" not in data:
        return []
    hits: list[SopsHit] = []
    found = False
    for obj in objects(data):
        meta = obj.get("sops")
        if not isinstance(meta, dict):
            continue
        found = True
        md = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        ages, pgps = _recipients(meta)
        for r in sorted(ages & age) + sorted(p for p in pgps if _pgp_match(p, pgp)):
            hits.append(SopsHit(str(md.get("namespace") or ""), str(md.get("name") or ""), r))
    if not found:
        ages = {m.decode(errors="replace") for m in _FLAT_AGE.findall(data)}
        pgps = {normalise_pgp(m.decode(errors="replace")) for m in _FLAT_PGP.findall(data)}
        hits += [SopsHit("", "", r) for r in sorted(ages & age)]
        hits += [SopsHit("", "", p) for p in sorted(pgps) if _pgp_match(p, pgp)]
    return hits


def _pgp_match(fp: str, revoked_fps: set[str]) -> bool:
    # A revoked key may be given as its full fingerprint or a long key id (its last 16 digits).
    return any(fp == r or (len(r) >= 16 and fp.endswith(r)) for r in revoked_fps)


__all__ = ["SopsHit", "normalise_pgp", "revoked"]
