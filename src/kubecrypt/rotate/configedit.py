"""The three edits of an at-rest key rotation, on the EncryptionConfiguration document itself
(so KMS entries, other resources and key order are kept as written):

1. ``add``: the new key goes *second* (same provider type: second key of the first provider;
   another type: a new provider second), so every API server can read it before any writes it;
2. ``promote``: the new key goes first and writes;
3. ``retire``: the old key is removed (and its provider, if it held no other key).

Each edit is idempotent and :func:`phase` tells from the document alone how far an entry is, so
a resumed rotation never applies an edit twice."""

from __future__ import annotations

import base64
import copy
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from kubecrypt.atrest.config import EncryptionConfiguration, from_dict
from kubecrypt.errors import ConfigError
from kubecrypt.rotate.errors import RotateError

KEYED = ("aesgcm", "aescbc", "secretbox")
KEY_SIZE = 32
UNTOUCHED, ADDED, PROMOTED, RETIRED = 0, 1, 2, 5


@dataclass(frozen=True)
class EntryPlan:
    """One ``resources[index]`` entry being rotated from ``old_key`` to ``new_key``."""

    index: int
    resources: tuple[str, ...]
    old_provider: str
    old_key: str
    new_provider: str
    new_key: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["resources"] = list(self.resources)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EntryPlan:
        return cls(int(d["index"]), tuple(d["resources"]), str(d["old_provider"]),
                   str(d["old_key"]), str(d["new_provider"]), str(d["new_key"]))


def validate(doc: dict[str, Any], source: str) -> EncryptionConfiguration:
    """What kube-apiserver would load; raises ConfigError (with every problem) otherwise."""
    return from_dict(doc, source)


def _providers(doc: dict[str, Any], index: int) -> list[dict[str, Any]]:
    try:
        providers = doc["resources"][index]["providers"]
    except (KeyError, IndexError, TypeError):
        raise RotateError(f"the configuration has no resources[{index}] any more; it was edited "
                          "during the rotation: restore it or start over") from None
    assert isinstance(providers, list)
    return providers


def _kind(provider: dict[str, Any]) -> str:
    return next(iter(provider))


def _names(provider: dict[str, Any]) -> list[str]:
    keys = (provider.get(_kind(provider)) or {}).get("keys") or []
    return [str(k.get("name")) for k in keys]


def plan(doc: dict[str, Any], provider: str | None, new_key: str) -> list[EntryPlan]:
    """Every resources entry whose first provider is a keyed one; refuses what it cannot rotate."""
    entries: list[EntryPlan] = []
    for i, rc in enumerate(doc.get("resources") or []):
        providers = rc.get("providers") or []
        first = _kind(providers[0]) if providers else None
        resources = tuple(str(r) for r in rc.get("resources") or [])
        if first not in KEYED:
            continue
        if any(r.startswith("*.") for r in resources):
            raise RotateError(
                f"resources[{i}] names {', '.join(resources)}: rotating wildcard resources is not "
                "supported, since each resource is rewritten through the API; list the resources"
            )
        names = _names(providers[0])
        if new_key in names or len(new_key) == 0:
            raise RotateError(f"resources[{i}] already has a key named {new_key}; pick another "
                              "--new-key-name")
        entries.append(EntryPlan(i, resources, first, names[0], provider or first, new_key))
    if not entries:
        raise RotateError(
            "no resources entry writes with aesgcm, aescbc or secretbox: nothing to rotate "
            "(for kms use `kubecrypt rotate kms`; to turn encryption on use `kubecrypt atrest keygen`)"
        )
    return entries


def phase(doc: dict[str, Any], e: EntryPlan) -> int:
    """How far this entry is: UNTOUCHED, ADDED, PROMOTED or RETIRED; RotateError if the document
    matches none of them (someone else edited the keys)."""
    providers = _providers(doc, e.index)
    first = providers[0] if providers else {}
    if not first:
        raise _mismatch(e)
    k0, n0 = _kind(first), _names(first)
    if e.old_provider == e.new_provider:
        if k0 == e.old_provider and n0 and n0[0] == e.old_key:
            if e.new_key not in n0:
                return UNTOUCHED
            if n0[1:2] == [e.new_key]:
                return ADDED
        if k0 == e.new_provider and n0 and n0[0] == e.new_key:
            return PROMOTED if e.old_key in n0 else RETIRED
        raise _mismatch(e)
    second = providers[1] if len(providers) > 1 else {}
    if k0 == e.old_provider and n0 and n0[0] == e.old_key:
        if second and _kind(second) == e.new_provider and _names(second)[:1] == [e.new_key]:
            return ADDED
        if not any(_kind(p) == e.new_provider and e.new_key in _names(p) for p in providers):
            return UNTOUCHED
    if k0 == e.new_provider and n0[:1] == [e.new_key]:
        old_left = any(_kind(p) == e.old_provider and e.old_key in _names(p) for p in providers[1:])
        return PROMOTED if old_left else RETIRED
    raise _mismatch(e)


def _mismatch(e: EntryPlan) -> RotateError:
    return RotateError(
        f"resources[{e.index}] ({', '.join(e.resources)}) no longer matches the rotation from "
        f"{e.old_provider} key {e.old_key} to {e.new_provider} key {e.new_key}: the keys were "
        "edited by hand; restore the configuration or remove the state file and start over"
    )


def new_secret() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode()


def add(doc: dict[str, Any], e: EntryPlan) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if phase(out, e) != UNTOUCHED:
        return out
    providers = _providers(out, e.index)
    key = {"name": e.new_key, "secret": new_secret()}
    if e.old_provider == e.new_provider:
        providers[0][e.old_provider]["keys"].insert(1, key)
    else:
        providers.insert(1, {e.new_provider: {"keys": [key]}})
    return out


def promote(doc: dict[str, Any], e: EntryPlan) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if phase(out, e) != ADDED:
        return out
    providers = _providers(out, e.index)
    if e.old_provider == e.new_provider:
        keys = providers[0][e.old_provider]["keys"]
        keys.insert(0, keys.pop(1))
    else:
        providers.insert(0, providers.pop(1))
    return out


def retire(doc: dict[str, Any], e: EntryPlan) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if phase(out, e) != PROMOTED:
        return out
    providers = _providers(out, e.index)
    for i, p in enumerate(providers):
        kind = _kind(p)
        if kind != e.old_provider or e.old_key not in _names(p):
            continue
        if (i == 0 and e.old_provider == e.new_provider) or i > 0:
            keys = p[kind]["keys"]
            keys[:] = [k for k in keys if k.get("name") != e.old_key]
            if not keys:
                providers.pop(i)
            break
    return out


def key_secret(doc: dict[str, Any], e: EntryPlan, name: str, provider: str) -> bytes:
    """The raw bytes of key ``name`` of a ``provider`` in this entry (for the probes)."""
    for p in _providers(doc, e.index):
        if _kind(p) == provider:
            for k in p[provider].get("keys") or []:
                if k.get("name") == name:
                    return base64.b64decode(k["secret"])
    raise RotateError(f"resources[{e.index}] has no {provider} key named {name}")


def check(doc: dict[str, Any], source: str) -> EncryptionConfiguration:
    try:
        return validate(doc, source)
    except ConfigError as exc:
        raise RotateError(f"the edited configuration would be rejected by kube-apiserver, so it "
                          f"was not written: {exc}") from None
