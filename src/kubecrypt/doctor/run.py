"""Runs every check family on the sources given and returns one Report. Each family runs when
its source is there and is recorded as skipped, with the reason, when not."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt.atrest.config import EncryptionConfiguration, IdentityConfig, load_file
from kubecrypt.doctor import config as config_checks
from kubecrypt.doctor import etcd as etcd_checks
from kubecrypt.doctor import git as git_checks
from kubecrypt.doctor import rbac as rbac_checks
from kubecrypt.doctor import sealed as sealed_checks
from kubecrypt.doctor import workload as workload_checks
from kubecrypt.doctor.report import Report
from kubecrypt.doctor.sources import (
    RBAC_KINDS,
    WORKLOAD_KINDS,
    Inventory,
    Unavailable,
    connect,
    load_objects_files,
)
from kubecrypt.errors import KubecryptError
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.storage.keys import DEFAULT_PREFIX, normalize_prefix


@dataclass
class Options:
    kubeconfig: str | None = None
    context: str | None = None
    etcd: EtcdSettings | None = None
    configs: list[Path] = field(default_factory=list)
    sealed_keys_dir: Path | None = None
    repos: list[Path] = field(default_factory=list)
    objects_files: list[Path] = field(default_factory=list)
    prefix: str = DEFAULT_PREFIX
    controller_namespace: str = "kube-system"
    key_renewal: dt.timedelta = sealed_checks.DEFAULT_RENEWAL
    history: bool = True


def _inventory(opts: Options, report: Report) -> Inventory:
    inv = Inventory(files=load_objects_files(opts.objects_files))
    if opts.objects_files:
        report.sources["objects"] = ", ".join(map(str, opts.objects_files))
    if opts.kubeconfig or opts.context:
        try:
            inv.client = connect(opts.kubeconfig, opts.context)
            report.sources["kubeconfig"] = opts.kubeconfig or "$KUBECONFIG"
        except Unavailable as exc:
            inv.client_error = str(exc)
    else:
        inv.client_error = "no kubeconfig given (--kubeconfig, --context or --lab)"
    return inv


def _transformers(configs: list[tuple[Path, EncryptionConfiguration]]) -> tuple[Any, str]:
    if not configs:
        return None, ""
    from kubecrypt.atrest.transformers import TransformerSet

    ts = TransformerSet(configs[0][1])
    try:
        for rc in ts.config.resources:
            for resource in rc.resources:
                ts.for_resource(resource)
    except KubecryptError as exc:
        ts.close()
        return None, f"the config's providers cannot be built ({exc}); values are classified " \
                     "from their bytes only"
    return ts, ""


def _config_plaintext(configs: list[tuple[Path, EncryptionConfiguration]]) -> str | None:
    from kubecrypt.atrest.transformers import TransformerSet

    for path, cfg in configs[:1]:
        providers = TransformerSet(cfg).provider_configs("secrets")
        if not providers:
            return f"{path} does not cover secrets"
        if isinstance(providers[0], IdentityConfig):
            return f"{path} writes secrets with identity"
    return None


def audit(opts: Options) -> Report:
    report = Report()
    prefix = normalize_prefix(opts.prefix)
    configs = [(p, load_file(p)) for p in opts.configs]
    inventory = _inventory(opts, report)

    # ---- etcd
    evidence = None
    if opts.etcd is None:
        report.skip(etcd_checks.IDS, "no etcd access (give --etcd-endpoints or --lab)")
    else:
        transformers, why = _transformers(configs)
        try:
            evidence = asyncio.run(etcd_checks.collect(opts.etcd, transformers, prefix,
                                                       history=opts.history))
        except KubecryptError as exc:
            report.skip(etcd_checks.IDS, f"etcd could not be read: {exc}")
        finally:
            if transformers is not None:
                transformers.close()
        if evidence is not None:
            report.sources["etcd"] = opts.etcd.describe()
            if why:
                report.sources["etcd note"] = why
            if not opts.history:
                evidence.history_error = "history not replayed (--no-history)"
            etcd_checks.run(report, evidence, transformers is not None)
            report.coverage = etcd_checks.coverage(evidence)

    # ---- config
    if configs:
        report.sources["encryption config"] = ", ".join(str(p) for p, _ in configs)
        per_key: dict[tuple[str, str], int] | None = None
        if evidence is not None:
            per_key = {}
            for (_r, provider, key_name, _i), n in evidence.scan.keys.items():
                if provider and key_name:
                    per_key[(provider, key_name)] = per_key.get((provider, key_name), 0) + n
        config_checks.run(report, configs, per_key)
    else:
        report.skip(config_checks.IDS, "no EncryptionConfiguration given "
                    "(--encryption-provider-config or --lab)")

    # ---- sealed
    sealed = sealed_checks.sealed_objects(
        inventory, evidence.sealed_secrets if evidence is not None else None)
    sealed_checks.run_etcd_unencrypted(
        report, sealed, evidence.secret_states if evidence is not None else None,
        _config_plaintext(configs))
    sealed_checks.run_keys(report, inventory, opts.controller_namespace, opts.sealed_keys_dir,
                           opts.key_renewal)

    # ---- rbac
    rbac, missing = inventory.available(RBAC_KINDS)
    if missing and not rbac:
        report.skip(rbac_checks.IDS, f"no RBAC objects ({missing})")
    else:
        rbac_checks.run(report, rbac)

    # ---- workloads
    workloads, missing = inventory.available(WORKLOAD_KINDS)
    if not workloads:
        report.skip(workload_checks.IDS, f"no workloads to read ({missing})")
    else:
        no_pods = "" if "Pod" in workloads or "ServiceAccount" in workloads else \
            f"no Pods or ServiceAccounts to read ({missing})"
        workload_checks.run(report, workloads, no_pods)

    # ---- git
    if not opts.repos:
        report.skip(git_checks.IDS, "no repository given (--repo)")
    else:
        git_checks.run_plaintext(report, opts.repos)
        keys, why = _known_keys(inventory, opts)
        git_checks.run_sealed_foreign(report, opts.repos, keys, why)
        git_checks.run_sops_mac(report, opts.repos)
    return report


def _known_keys(inventory: Inventory, opts: Options) -> tuple[list[Any], str]:
    keys: list[Any] = []
    reasons = []
    try:
        keys += sealed_checks.cluster_keys(inventory, opts.controller_namespace)
    except Unavailable as exc:
        reasons.append(f"cluster keys: {exc}")
    if opts.sealed_keys_dir is not None:
        from kubecrypt.sealed.backup import keys_in_dir

        keys += keys_in_dir(opts.sealed_keys_dir, "--sealed-keys-dir")
    else:
        reasons.append("no --sealed-keys-dir")
    return keys, "; ".join(reasons)
