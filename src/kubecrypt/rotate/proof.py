"""Step 4 and the guard of step 5: read every stored value of the rotated resources from etcd
through a configuration, exactly as kube-apiserver would (``kubecrypt.etcd.inspect``), and count
what is stale, unreadable, or still under the old key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kubecrypt.atrest.config import EncryptionConfiguration
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.etcd.inspect import ENCRYPTED, UNREADABLE, Inspector
from kubecrypt.etcd.targets import targets

MAX_EXAMPLES = 5


@dataclass
class Proof:
    total: int = 0
    stale: int = 0
    unreadable: int = 0
    on_old_key: int = 0
    not_encrypted: int = 0
    examples: list[str] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.stale or self.unreadable or self.on_old_key or self.not_encrypted)

    def summary(self) -> str:
        keys = ", ".join(f"{k}: {n}" for k, n in sorted(self.keys.items())) or "none"
        return (f"{self.total} values scanned: {self.stale} stale, {self.unreadable} unreadable, "
                f"{self.on_old_key} under the old key, {self.not_encrypted} not encrypted "
                f"(keys in use: {keys})")

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "stale": self.stale, "unreadable": self.unreadable,
                "on_old_key": self.on_old_key, "not_encrypted": self.not_encrypted,
                "keys": self.keys}


def prove(etcd: BlockingEtcdClient, config: EncryptionConfiguration, resources: Sequence[str],
          old_keys: set[tuple[str, str]], prefix: str) -> Proof:
    """Scan ``resources`` through ``config``; ``old_keys`` are (provider, key name) pairs."""
    ts = TransformerSet(config)
    try:
        inspector = Inspector(ts)
        proof = Proof()
        for target in targets(prefix, resources):
            for page in etcd.pages(target.key_prefix):
                for kv in page.items:
                    f = inspector.inspect(kv.key, kv.value, target.resource)
                    proof.total += 1
                    bad = ""
                    if f.state == UNREADABLE:
                        proof.unreadable += 1
                        bad = "unreadable"
                    elif f.state != ENCRYPTED:
                        proof.not_encrypted += 1
                        bad = "not encrypted"
                    else:
                        label = f"{f.provider}:{f.key_name}" + (f"@{f.key_id}" if f.key_id else "")
                        proof.keys[label] = proof.keys.get(label, 0) + 1
                        if (str(f.provider), str(f.key_name)) in old_keys:
                            proof.on_old_key += 1
                            bad = f"under the old key {f.key_name}"
                    if f.stale:
                        proof.stale += 1
                        bad = bad or "stale"
                    if bad and len(proof.examples) < MAX_EXAMPLES:
                        proof.examples.append(f"{f.key} ({bad})")
        return proof
    finally:
        ts.close()
