"""Which key ranges a scan or rewrite walks: the whole prefix, or one range per resource."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubecrypt.storage.keys import DEFAULT_PREFIX, etcd_key, normalize_prefix


@dataclass(frozen=True)
class Target:
    key_prefix: str
    resource: str | None
    """The resource every key in this range belongs to; None: work it out per key."""


def targets(prefix: str = DEFAULT_PREFIX, resources: Sequence[str] = ()) -> list[Target]:
    root = normalize_prefix(prefix)
    if not resources:
        return [Target(root + "/", None)]
    # The trailing "/" keeps /registry/secrets/ from also matching /registry/secretsfoo/.
    return [Target(etcd_key(r, None, "", root), r) for r in dict.fromkeys(resources)]


def parse_resources(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(r.strip() for r in text.split(",") if r.strip())
