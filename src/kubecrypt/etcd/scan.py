"""``etcd scan``: classify every value under a prefix and sum it up per resource and per key.

A resource *must be encrypted* when ``--resources`` names it, or when the config's first
provider for it is not identity; with neither a config nor ``--resources``, Secrets must be.
Any plaintext or identity value of such a resource makes the scan fail (exit 3), so it can gate
CI. Unreadable values are counted on their own and do not stop the scan."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubecrypt.errors import KubecryptError
from kubecrypt.etcd.client import DEFAULT_PAGE_SIZE, EtcdClient
from kubecrypt.etcd.inspect import (
    ENCRYPTED,
    IDENTITY,
    NOT_ENCRYPTED,
    PLAINTEXT,
    STATES,
    UNREADABLE,
    Finding,
    Inspector,
    resource_of,
)
from kubecrypt.etcd.targets import Target

EXIT_NOT_ENCRYPTED = 3
EXIT_UNREADABLE = 4  # "cannot prove encrypted" fails the gate too, distinguishably
OTHER = "(other)"
MAX_EXAMPLES = 20


class NotEncrypted(KubecryptError):
    """Raised by the CLI after printing the report: some value that must be encrypted is not."""

    exit_code = EXIT_NOT_ENCRYPTED


class Unproven(KubecryptError):
    """Raised by the CLI after printing the report: values that must be encrypted could not be
    read, so they cannot be shown to be encrypted (and nothing is known to be plaintext)."""

    exit_code = EXIT_UNREADABLE


@dataclass
class ResourceTally:
    required: bool
    total: int = 0
    states: Counter[str] = field(default_factory=Counter)
    stale: int = 0

    @property
    def not_encrypted(self) -> int:
        return sum(self.states[s] for s in NOT_ENCRYPTED)


@dataclass
class ScanReport:
    prefix: str
    inspector: Inspector
    required_resources: frozenset[str] = frozenset()
    default_required: frozenset[str] = frozenset()
    resources: dict[str | None, ResourceTally] = field(default_factory=dict)
    keys: Counter[tuple[str | None, str | None, str | None, str | None]] = field(default_factory=Counter)
    unreadable_reasons: Counter[str] = field(default_factory=Counter)
    unreadable_examples: list[tuple[str, str]] = field(default_factory=list)
    total: int = 0

    @property
    def with_config(self) -> bool:
        return self.inspector.transformers is not None

    def required(self, resource: str | None) -> bool:
        if resource is None:
            return False
        if resource in self.required_resources or resource in self.default_required:
            return True
        return self.inspector.writes_encrypted(resource)

    def add(self, f: Finding) -> None:
        tally = self.resources.get(f.resource)
        if tally is None:
            tally = self.resources[f.resource] = ResourceTally(self.required(f.resource))
        tally.total += 1
        tally.states[f.state] += 1
        if f.stale:
            tally.stale += 1
        self.total += 1
        if f.state == ENCRYPTED or (f.state == UNREADABLE and f.provider):
            self.keys[(f.resource, f.provider, f.key_name, f.key_id)] += 1
        if f.state == UNREADABLE:
            reason = (f.error or "unreadable")[:200]
            self.unreadable_reasons[reason] += 1
            if len(self.unreadable_examples) < MAX_EXAMPLES:
                self.unreadable_examples.append((f.key, reason))

    # ------------------------------------------------------------------ verdict

    def failing(self) -> list[str]:
        return [r for r, t in self.resources.items() if r is not None and t.required and t.not_encrypted]

    def unproven(self) -> list[str]:
        """Resources that must be encrypted and hold values no provider could read."""
        return [r for r, t in self.resources.items()
                if r is not None and t.required and t.states[UNREADABLE]]

    @property
    def exit_code(self) -> int:
        if self.failing():
            return EXIT_NOT_ENCRYPTED
        return EXIT_UNREADABLE if self.unproven() else 0

    def verdicts(self) -> list[str]:
        lines: list[str] = []
        if not self.total:
            return [f"no values under {self.prefix}"]
        for r in sorted(self.resources, key=_order):
            t = self.resources[r]
            name = r or "other values"
            if t.not_encrypted:
                must = " (must be encrypted)" if t.required else ""
                lines.append(f"{t.not_encrypted} of {t.total} {name} are NOT encrypted{must}")
            elif t.states[ENCRYPTED] == t.total:
                lines.append(f"all {t.total} {name} are encrypted")
            if t.states[UNREADABLE]:
                must = " (must be encrypted: not proven)" if t.required else ""
                lines.append(f"{t.states[UNREADABLE]} of {t.total} {name} are unreadable{must}")
            if t.stale:
                lines.append(
                    f"{t.stale} of {t.total} {name} are stale for this config; "
                    "run 'kubecrypt etcd rewrite' to re-encrypt them"
                )
        for r in sorted(self.required_resources - {str(k) for k in self.resources}):
            lines.append(f"no {r} found under {self.prefix}")
        return lines

    def to_json(self) -> dict[str, Any]:
        resources = {}
        for r in sorted(self.resources, key=_order):
            t = self.resources[r]
            entry: dict[str, Any] = {"total": t.total, "required": t.required}
            entry.update({s: t.states[s] for s in STATES})
            entry["not_encrypted"] = t.not_encrypted
            entry["stale"] = t.stale if self.with_config else None
            entry["encrypted_percent"] = _percent(t.states[ENCRYPTED], t.total)
            resources[r or OTHER] = entry
        keys = [
            {"resource": r, "provider": p, "key_name": k, "key_id": i, "count": n,
             "percent": _percent(n, self.resources[r].total)}
            for (r, p, k, i), n in sorted(self.keys.items(), key=lambda kv: tuple(str(x) for x in kv[0]))
        ]
        return {
            "summary": {
                "prefix": self.prefix,
                "total": self.total,
                "resources": resources,
                "keys": keys,
                "unreadable": [{"key": k, "error": e} for k, e in self.unreadable_examples],
                "failing": sorted(self.failing()),
                "unproven": sorted(self.unproven()),
                "verdict": self.verdicts(),
                "exit_code": self.exit_code,
            }
        }


def _order(r: str | None) -> tuple[int, str]:
    return (1, "") if r is None else (0, r)


def _percent(n: int, total: int) -> float:
    return round(100.0 * n / total, 2) if total else 0.0


def pct(n: int, total: int) -> str:
    return f"{100.0 * n / total:.1f}%" if total else "-"


async def scan(
    client: EtcdClient,
    report: ScanReport,
    targets: Sequence[Target],
    *,
    on_finding: Callable[[Finding], None] | None = None,
    on_page: Callable[[int], None] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> ScanReport:
    inspect = report.inspector.inspect
    add = report.add
    for target in targets:
        pages = client.pages(target.key_prefix, page_size=page_size)
        async with contextlib.aclosing(pages):
            async for page in pages:
                for kv in page.items:
                    resource = target.resource or resource_of(kv.key_text, report.prefix)
                    f = inspect(kv.key, kv.value, resource)
                    add(f)
                    if on_finding is not None:
                        on_finding(f)
                if on_page is not None:
                    on_page(len(page.items))
    return report


__all__ = ["ENCRYPTED", "IDENTITY", "PLAINTEXT", "UNREADABLE", "ScanReport", "pct", "scan"]
