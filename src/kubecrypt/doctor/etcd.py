"""etcd.*: what etcd actually holds, read value by value (``kubecrypt.etcd.scan``), not what
flags or config text promise.

* ``etcd.plaintext``: values of a resource that must be encrypted (Secrets always; any resource
  whose config entry writes with a real provider) stored in plaintext or by identity.
* ``etcd.unreadable``: values no provider of the config can read (a lost key: data loss).
* ``etcd.stale``: values not written by the first provider's key (a rotation left half-way).
* ``etcd.old-revisions``: older revisions etcd still holds (until compaction) in plaintext, for
  objects whose current value is encrypted or that were deleted; every etcd backup taken now
  carries them too."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from kubecrypt.atrest.classify import classify
from kubecrypt.doctor.report import Finding, Report, refs
from kubecrypt.etcd.client import EtcdClient
from kubecrypt.etcd.inspect import ENCRYPTED, IDENTITY, PLAINTEXT, UNREADABLE, Inspector
from kubecrypt.etcd.inspect import Finding as Value
from kubecrypt.etcd.scan import ScanReport, scan
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.etcd.targets import targets
from kubecrypt.storage.keys import parse_etcd_key

IDS = ("etcd.plaintext", "etcd.unreadable", "etcd.stale", "etcd.old-revisions")
MAX_PER_RESOURCE = 50
SEALED_RESOURCE = "sealedsecrets.bitnami.com"
HISTORY_QUIET = 1.5  # seconds without a watch event: etcd has replayed all it holds

PLAINTEXT_REFS = refs(cis="1.2.28 (CIS 1.9-1.12; 1.2.29-1.2.34 in older benchmarks)",
                      kubescape=["C-0066", "C-0142"], trivy="KCV-0030")


@dataclass
class EtcdEvidence:
    scan: ScanReport
    revision: int = 0
    values: dict[str, Value] = field(default_factory=dict)
    """Per etcd key, the values worth naming: not encrypted, unreadable or stale (capped)."""
    secret_states: dict[tuple[str, str], str] = field(default_factory=dict)
    """(namespace, name) -> state, for every Secret: sealed.etcd-unencrypted reads it."""
    sealed_secrets: list[tuple[str, str]] = field(default_factory=list)
    """(namespace, name) of every SealedSecret stored in etcd."""
    old_plaintext: dict[str, list[int]] = field(default_factory=dict)
    """etcd key -> revisions still held in plaintext (for keys now encrypted or deleted)."""
    history_error: str = ""


async def collect(settings: EtcdSettings, transformers: Any, prefix: str,
                  history: bool = True) -> EtcdEvidence:
    report = ScanReport(prefix, Inspector(transformers), frozenset(), frozenset({"secrets"}))
    evidence = EtcdEvidence(report)
    named: Counter[str | None] = Counter()

    def on_finding(f: Value) -> None:
        if f.resource == "secrets":
            try:
                _, ns, name = parse_etcd_key(f.key, prefix)
            except ValueError:
                ns, name = None, ""
            evidence.secret_states[(ns or "", name)] = f.state
        elif f.resource == SEALED_RESOURCE:
            try:
                _, ns, name = parse_etcd_key(f.key, prefix)
                evidence.sealed_secrets.append((ns or "", name))
            except ValueError:
                pass
        interesting = f.state in (PLAINTEXT, IDENTITY, UNREADABLE) or f.stale
        if interesting and named[f.resource] < MAX_PER_RESOURCE * 4:
            named[f.resource] += 1
            evidence.values[f.key] = f

    async with EtcdClient(settings) as client:
        await scan(client, report, targets(prefix), on_finding=on_finding)
        async with contextlib.aclosing(
                client.pages(prefix + "/", page_size=1, keys_only=True)) as pages:
            async for first in pages:
                evidence.revision = first.revision
                break
        if history:
            # Secrets always, even when etcd holds none now (deleted ones may have left
            # plaintext revisions); never an empty list, which would replay every resource.
            required = sorted({r for r, t in report.resources.items() if r and t.required}
                              | report.required_resources | report.default_required)
            try:
                await _old_revisions(client, evidence, required)
            except Exception as exc:  # an etcd refusing the watch: say so, keep the rest
                evidence.history_error = f"etcd did not replay its history ({exc})"
    return evidence


async def _old_revisions(client: EtcdClient, evidence: EtcdEvidence,
                         resources: list[str]) -> None:
    """Replay every revision etcd still holds for these resources (a watch from revision 1,
    restarted at the compaction point when etcd has compacted) and keep the plaintext ones."""
    from kubecrypt.etcd.watch import WatchCompacted

    seen: dict[str, list[int]] = defaultdict(list)
    prefix = evidence.scan.prefix
    for target in targets(prefix, resources):
        start = 1
        for _ in range(3):
            try:
                await _replay(client, target.key_prefix, start, evidence.revision, seen)
                break
            except WatchCompacted as exc:
                start = exc.compact_revision + (0 if start != exc.compact_revision else 1)
    for key, revisions in seen.items():
        current = evidence.values.get(key)
        if current is not None and current.state in (PLAINTEXT, IDENTITY):
            continue  # still plaintext now: etcd.plaintext says it
        evidence.old_plaintext[key] = sorted(revisions)


async def _replay(client: EtcdClient, key_prefix: str, start: int, until: int,
                  seen: dict[str, list[int]]) -> None:
    from kubecrypt.etcd.watch import watch

    stream = watch(client, key_prefix, start_revision=start, prev_kv=False, reconnect_for=5.0)
    async with contextlib.aclosing(stream):
        while True:
            try:
                batch = await asyncio.wait_for(anext(stream), HISTORY_QUIET)
            except (TimeoutError, StopAsyncIteration):
                return
            last = 0
            for ev in batch.events:
                last = ev.revision
                if ev.type == "PUT" and classify(ev.kv.value).state == "plaintext":
                    seen[ev.kv.key_text].append(ev.revision)
            if last >= until:
                return


# ------------------------------------------------------------------------------ checks


def _subject(key: str, prefix: str) -> str:
    try:
        resource, ns, name = parse_etcd_key(key, prefix)
    except ValueError:
        return key
    return "/".join(p for p in (resource, ns, name) if p)


def run(report: Report, evidence: EtcdEvidence, with_config: bool) -> None:
    prefix = evidence.scan.prefix
    by_state: dict[str, list[Value]] = defaultdict(list)
    for v in evidence.values.values():
        by_state[v.state].append(v)
    scanned = evidence.scan

    findings: list[Finding] = []
    for resource, tally in sorted(scanned.resources.items(), key=lambda kv: str(kv[0])):
        if not resource or not tally.required or not tally.not_encrypted:
            continue
        severity = "critical" if resource == "secrets" else "high"
        values = [v for v in by_state[PLAINTEXT] + by_state[IDENTITY] if v.resource == resource]
        for v in sorted(values, key=lambda v: v.key)[:MAX_PER_RESOURCE]:
            how = ("written by the identity provider" if v.state == IDENTITY
                   else "stored as plaintext (no k8s:enc: prefix)")
            findings.append(Finding(
                "etcd.plaintext", severity, _subject(v.key, prefix),
                f"etcd key {v.key} is {how}; {tally.not_encrypted} of {tally.total} {resource} "
                "values in etcd are not encrypted",
                "make an encrypting provider the first one for this resource, restart the API "
                "server, then rewrite every value (kubecrypt etcd rewrite, or kubectl get "
                f"{resource} -A -o json | kubectl replace -f -)", PLAINTEXT_REFS))
        rest = tally.not_encrypted - min(len(values), MAX_PER_RESOURCE)
        if rest > 0:
            findings.append(Finding(
                "etcd.plaintext", severity, resource,
                f"{rest} more {resource} values are not encrypted (only the first "
                f"{MAX_PER_RESOURCE} are named)", "see above", PLAINTEXT_REFS))
    report.record("etcd.plaintext", findings,
                  _passed(scanned, "every value that must be encrypted is encrypted"))

    if not with_config:
        unreadable = [Finding(
            "etcd.unreadable", "high", _subject(v.key, prefix),
            f"etcd key {v.key} is neither a Kubernetes value nor a known k8s:enc: format",
            "find out what wrote it; an API server cannot read it either",
            refs(docs="docs/doctor.md#etcdunreadable")) for v in by_state[UNREADABLE]]
        report.record("etcd.unreadable", unreadable, "every value has a known format")
        report.skip(["etcd.stale"], "no EncryptionConfiguration given (--encryption-provider-"
                    "config or --lab): staleness is relative to the config's write key")
    else:
        unreadable = [Finding(
            "etcd.unreadable", "high", _subject(v.key, prefix),
            f"no provider of the config reads etcd key {v.key} ({v.provider or 'unknown'}"
            f"{' key ' + v.key_name if v.key_name else ''}): {v.error or 'decryption failed'}",
            "put the key that wrote it back into the config (from a backup) before the value "
            "is lost for good; then rewrite it with the current key",
            refs(docs="https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"))
            for v in sorted(by_state[UNREADABLE], key=lambda v: v.key)]
        report.record("etcd.unreadable", unreadable, "the config reads every value")
        stale: Counter[tuple[str, str, str]] = Counter()
        examples: dict[tuple[str, str, str], str] = {}
        for v in evidence.values.values():
            if v.stale and v.state == ENCRYPTED:
                k = (str(v.resource), v.provider or "?", v.key_name or "")
                stale[k] += 1
                examples.setdefault(k, v.key)
        stale_findings = []
        for (resource, provider, key_name), n in sorted(stale.items()):
            rt = scanned.resources.get(resource)
            total = rt.total if rt else n
            stale_findings.append(Finding(
                "etcd.stale", "medium", resource,
                f"{n} of {total} {resource} values are still written with {provider} key "
                f"{key_name or '(none)'}, not the config's write key (e.g. "
                f"{examples[(resource, provider, key_name)]}): a rotation is not finished",
                "rewrite them with the write key (kubecrypt etcd rewrite --config ..., or "
                "kubecrypt rotate atrest), verify with kubecrypt etcd scan, then retire the old key",
                refs(docs="https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"
                     "#rotating-a-decryption-key")))
        report.record("etcd.stale", stale_findings, "every value is on the write key")

    if evidence.history_error:
        report.skip(["etcd.old-revisions"], evidence.history_error)
        return
    old = []
    for key, revisions in sorted(evidence.old_plaintext.items()):
        now = "encrypted now" if _exists(evidence, key) else "deleted"
        old.append(Finding(
            "etcd.old-revisions", "high", _subject(key, prefix),
            f"etcd still holds {len(revisions)} older revision(s) of {key} in plaintext "
            f"(revisions {', '.join(map(str, revisions[:10]))}); the object is {now}, but "
            "etcd keeps old revisions until compaction and every backup carries them",
            f"compact etcd past revision {max(revisions)} (etcdctl compact "
            f"{evidence.revision}; then etcdctl defrag), take a fresh backup and destroy older "
            "ones; change the values, they were readable", refs(
                docs="https://docs.kubermatic.com/kubermatic/v2.21/tutorials-howtos/"
                     "encryption-at-rest/")))
    report.record("etcd.old-revisions", old,
                  "etcd holds no older plaintext revision of a value that must be encrypted")


def _exists(evidence: EtcdEvidence, key: str) -> bool:
    try:
        resource, ns, name = parse_etcd_key(key, evidence.scan.prefix)
    except ValueError:
        return False
    if resource == "secrets":
        return (ns or "", name) in evidence.secret_states
    return True


def _passed(scanned: ScanReport, text: str) -> str:
    return f"{text} ({scanned.total} values read)"


def coverage(evidence: EtcdEvidence) -> dict[str, Any]:
    """By resource, provider and key: the data of the HTML charts and the JSON summary."""
    summary = evidence.scan.to_json()["summary"]
    by_provider: Counter[str] = Counter()
    for k in summary["keys"]:
        by_provider[f"{k['resource']}: {k['provider']}"] += k["count"]
    return {"revision": evidence.revision, "total": summary["total"],
            "resources": summary["resources"], "keys": summary["keys"],
            "providers": dict(sorted(by_provider.items()))}
