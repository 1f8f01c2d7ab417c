"""config.*: the EncryptionConfiguration read as kube-apiserver reads it (first provider writes,
exact resource before ``*.group`` before ``*.*``), not as kube-bench's grep or kubescape's "any
provider" rule reads it (see docs/doctor.md for the cases where those pass a config that writes
Secrets in plaintext)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections import defaultdict
from pathlib import Path

from kubecrypt.atrest.config import (
    EncryptionConfiguration,
    IdentityConfig,
    KeyedProviderConfig,
    KMSConfig,
    ProviderConfig,
)
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.doctor.report import Finding, Report, refs

IDS = ("config.identity-first", "config.not-covered", "config.aescbc", "config.kms-v1",
       "config.aesgcm-rotation", "config.file-mode", "config.key-reuse")
AESGCM_WRITES = 200_000  # the Kubernetes docs' rotation bound for aesgcm (2^32 is the hard one)
DOCS = "https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"
CONFIG_REFS = refs(cis="1.2.28 (CIS 1.9-1.12)", kubescape=["C-0141", "C-0142"],
                   trivy="KCV-0030", docs=DOCS)


def _describe(p: ProviderConfig) -> str:
    if isinstance(p, KeyedProviderConfig):
        return f"{p.type} (keys {', '.join(k.name for k in p.keys)})"
    if isinstance(p, KMSConfig):
        return f"kms {p.api_version} {p.name}"
    return "identity"


def _secrets_providers(config: EncryptionConfiguration) -> list[ProviderConfig]:
    # TransformerSet.provider_configs resolves exact, *.group and *.* as the API server does.
    return TransformerSet(config).provider_configs("secrets")


def run(report: Report, configs: list[tuple[Path, EncryptionConfiguration]],
        values_per_key: dict[tuple[str, str], int] | None = None) -> None:
    """``values_per_key``: (provider, key name) -> values etcd holds with it, when etcd was read
    (a lower bound of the writes the key has made)."""
    identity: list[Finding] = []
    uncovered: list[Finding] = []
    aescbc: list[Finding] = []
    kms_v1: list[Finding] = []
    aesgcm: list[Finding] = []
    modes: list[Finding] = []
    for path, config in configs:
        secrets = _secrets_providers(config)
        if not secrets:
            listed = sorted({r for rc in config.resources for r in rc.resources})
            uncovered.append(Finding(
                "config.not-covered", "critical", f"{path}: secrets",
                f"no entry of {path} covers secrets (entries: {', '.join(listed) or 'none'}; "
                "neither 'secrets', '*.' nor '*.*'), so the API server writes Secrets in "
                "plaintext; kube-bench 1.2.28 only reads the last providers: block and "
                "kubescape C-0142 does not look for secrets",
                "add an entry with resources: [secrets] whose first provider is kms (v2), "
                "secretbox or aesgcm, restart the API server and rewrite every Secret",
                CONFIG_REFS))
        elif isinstance(secrets[0], IdentityConfig):
            rest = [_describe(p) for p in secrets[1:] if not isinstance(p, IdentityConfig)]
            after = f" ({', '.join(rest)} only read)" if rest else ""
            identity.append(Finding(
                "config.identity-first", "critical", f"{path}: secrets",
                f"the providers in force for secrets in {path} start with identity{after}: "
                "new and updated Secrets are written in plaintext"
                + ("; kubescape C-0142 passes this because a later provider encrypts" if rest
                   else ""),
                "move the encrypting provider first (keep identity last while values are "
                "rewritten), restart the API server, rewrite every Secret", CONFIG_REFS))
        for rc in config.resources:
            where = f"{path}: {','.join(rc.resources)}"
            covers_secrets = any(p is secrets[0] for p in rc.providers) if secrets else False
            if (rc.providers and isinstance(rc.providers[0], IdentityConfig)
                    and not covers_secrets and len(rc.providers) > 1):
                identity.append(Finding(
                    "config.identity-first", "medium", where,
                    f"the entry for {', '.join(rc.resources)} starts with identity: those "
                    "resources are written in plaintext although a later provider could "
                    "encrypt them", "move the encrypting provider first", CONFIG_REFS))
            for i, p in enumerate(rc.providers):
                writes = i == 0
                if isinstance(p, KeyedProviderConfig) and p.type == "aescbc":
                    aescbc.append(Finding(
                        "config.aescbc", "medium" if writes else "low", where,
                        f"aescbc ({', '.join(k.name for k in p.keys)}) "
                        f"{'writes' if writes else 'is kept to read older values'}: "
                        "CBC without authentication is open to padding-oracle attacks and the "
                        "Kubernetes docs recommend against it (CIS still accepts it)",
                        "write with kms v2 or secretbox instead; keep aescbc only until every "
                        "value is rewritten (kubecrypt rotate atrest)",
                        refs(cis="1.2.28", kubescape="C-0142", docs=DOCS)))
                if isinstance(p, KMSConfig) and p.api_version != "v2":
                    kms_v1.append(Finding(
                        "config.kms-v1", "medium" if writes else "low", where,
                        f"KMS v1 provider {p.name} {'writes' if writes else 'reads'}: KMS v1 is "
                        "deprecated since Kubernetes 1.28 and disabled by default from 1.29 "
                        "(one KMS call per write, no key_id for staleness)",
                        "migrate to apiVersion: v2 (a new kms entry first, rewrite, then drop v1)",
                        refs(docs=DOCS + "#kms-v1")))
                if isinstance(p, KeyedProviderConfig) and p.type == "aesgcm" and writes:
                    key = p.keys[0]
                    count = (values_per_key or {}).get(("aesgcm", key.name))
                    known = (f"; etcd holds {count} values written with it now (a lower bound of "
                             "its writes)" if count is not None else "")
                    aesgcm.append(Finding(
                        "config.aesgcm-rotation", "medium", where,
                        f"aesgcm key {key.name} writes with random 96-bit nonces: it must be "
                        f"rotated well before 2^32 writes (the Kubernetes docs say every "
                        f"{AESGCM_WRITES:,} writes){known}; count writes with the API server "
                        "metric apiserver_storage_transformation_operations_total"
                        "{transformation_type=\"to_storage\",transformer_prefix="
                        "\"k8s:enc:aesgcm:v1:\"} or kubecrypt etcd scan per key",
                        "put a rotation in place (kubecrypt rotate atrest on a schedule) or "
                        "move to kms v2, which derives a fresh key per DEK seed",
                        refs(docs=DOCS + "#providers")))
        modes.extend(_file_mode(path))
    report.record("config.identity-first", identity,
                  "the first provider for every covered resource encrypts")
    report.record("config.not-covered", uncovered, "secrets are covered by every config")
    report.record("config.aescbc", aescbc, "no aescbc provider")
    report.record("config.kms-v1", kms_v1, "no KMS v1 provider")
    report.record("config.aesgcm-rotation", aesgcm, "no aesgcm provider writes")
    report.record("config.file-mode", modes, "only the owner can read the config files")
    report.record("config.key-reuse", _key_reuse(configs),
                  "no key material appears twice")


def _file_mode(path: Path) -> list[Finding]:
    try:
        st = path.stat()
    except OSError:
        return []
    mode = stat.S_IMODE(st.st_mode)
    findings = []
    if mode & 0o077:
        findings.append(Finding(
            "config.file-mode", "high", str(path),
            f"{path} has mode {mode:04o}: others than its owner can read the keys in it",
            f"chmod 600 {path} (and chown root:root)",
            refs(cis="1.1.x (the benchmark checks other control-plane files, not this one)",
                 docs=DOCS)))
    if st.st_uid not in (0, os.getuid()):
        findings.append(Finding(
            "config.file-mode", "medium", str(path),
            f"{path} is owned by uid {st.st_uid}, neither root nor the user running the audit",
            f"chown root:root {path}", refs(docs=DOCS)))
    return findings


def _fingerprint(secret: bytes) -> str:
    # A domain-separated hash, truncated: enough to say "the same key", nothing to attack.
    return hashlib.sha256(b"kubecrypt-doctor key fingerprint\0" + secret).hexdigest()[:12]


def _key_reuse(configs: list[tuple[Path, EncryptionConfiguration]]) -> list[Finding]:
    places: dict[bytes, list[str]] = defaultdict(list)
    for path, config in configs:
        seen_here: set[tuple[int, str]] = set()
        for rc in config.resources:
            for p in rc.providers:
                if not isinstance(p, KeyedProviderConfig):
                    continue
                if (id(p), "") in seen_here:
                    continue
                seen_here.add((id(p), ""))
                for k in p.keys:
                    places[k.secret].append(f"{path}: {p.type} key {k.name}")
    out = []
    for secret, where in places.items():
        distinct = sorted(set(where))
        if len(distinct) > 1:
            out.append(Finding(
                "config.key-reuse", "high", " and ".join(distinct),
                f"the same key material (fingerprint {_fingerprint(secret)}) appears "
                f"{len(distinct)} times: {'; '.join(distinct)}; one leak opens all of them, "
                "and a rotation that retires one name keeps it alive under the other",
                "generate a fresh key for each name and cluster (kubecrypt atrest keygen), "
                "rotate to it and retire the shared one", refs(docs=DOCS)))
    return out
