"""sealed.*: Sealed Secrets protect Git, not etcd (seed 2's warning), and their keys need a
renewal and a backup (bitnami-labs/sealed-secrets #1533, #263).

* ``sealed.etcd-unencrypted``: SealedSecrets exist, and the Secrets they produce sit in
  plaintext in etcd (or the config would write them so).
* ``sealed.key-age``: the newest sealing key is older than the renewal period.
* ``sealed.backup-stale``: sealing keys in the cluster that no backup in --sealed-keys-dir holds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from kubecrypt.doctor.report import Finding, Report, refs
from kubecrypt.doctor.sources import Inventory, Unavailable, list_kind
from kubecrypt.errors import KubecryptError
from kubecrypt.sealed.keys import KEY_LABEL, SealingKey, format_time, key_from_secret

IDS = ("sealed.etcd-unencrypted", "sealed.key-age", "sealed.backup-stale")
DEFAULT_RENEWAL = dt.timedelta(days=30)
UPSTREAM = "https://github.com/bitnami-labs/sealed-secrets"


def cluster_keys(inventory: Inventory, namespace: str) -> list[SealingKey]:
    """The controller's key Secrets: from the cluster, and from --objects-file dumps."""
    secrets: list[dict[str, Any]] = [
        o for o in inventory.files
        if o.get("kind") == "Secret" and KEY_LABEL in ((o.get("metadata") or {}).get("labels") or {})]
    if inventory.client is not None:
        secrets += list_kind(inventory.client, "Secret", namespace, labels={KEY_LABEL: None})
    elif not secrets:
        raise Unavailable(inventory.client_error or "no cluster access (give --kubeconfig, "
                          "--lab or an --objects-file with the key Secrets)")
    keys = []
    for s in secrets:
        try:
            keys.append(key_from_secret(s, "the cluster"))
        except KubecryptError:
            continue  # not a usable key Secret: nothing to age or back up
    return keys


def sealed_objects(inventory: Inventory, from_etcd: list[tuple[str, str]] | None
                   ) -> list[tuple[str, str]] | None:
    found: set[tuple[str, str]] = set(from_etcd or [])
    try:
        for o in inventory.get("SealedSecret"):
            meta = o.get("metadata") or {}
            found.add((str(meta.get("namespace") or ""), str(meta.get("name") or "")))
    except Unavailable:
        if from_etcd is None:
            return None
    return sorted(found)


def run_etcd_unencrypted(report: Report, sealed: list[tuple[str, str]] | None,
                         secret_states: dict[tuple[str, str], str] | None,
                         config_plaintext: str | None) -> None:
    cid = "sealed.etcd-unencrypted"
    if sealed is None:
        report.skip([cid], "neither etcd nor the API server was read: no SealedSecrets to see")
        return
    if not sealed:
        report.record(cid, [], "no SealedSecrets found")
        return
    if secret_states is None and config_plaintext is None:
        report.skip([cid], f"{len(sealed)} SealedSecrets found, but neither etcd nor an "
                    "EncryptionConfiguration was read to see how their Secrets are stored")
        return
    fix = ("turn on encryption at rest for secrets (kms v2 or secretbox first), restart the API "
           "server and rewrite every Secret: the SealedSecret protects Git, the controller's "
           "Secret is what sits in etcd")
    ref = refs(cis="1.2.28", kubescape="C-0066", docs=UPSTREAM + "#overview")
    findings = []
    for ns, name in sealed:
        state = (secret_states or {}).get((ns, name))
        if state in ("plaintext", "identity"):
            findings.append(Finding(
                cid, "critical", f"SealedSecret {ns}/{name}",
                f"the Secret {ns}/{name} it produces is stored {state} in etcd "
                f"(/registry/secrets/{ns}/{name}): anyone with etcd or a backup reads it", fix,
                ref))
        elif state is None and secret_states is None and config_plaintext:
            findings.append(Finding(
                cid, "critical", f"SealedSecret {ns}/{name}",
                f"the Secret {ns}/{name} it produces will be written in plaintext: "
                f"{config_plaintext}", fix, ref))
    report.record(cid, findings, f"the Secrets of {len(sealed)} SealedSecrets are encrypted "
                  "in etcd")


def run_keys(report: Report, inventory: Inventory, namespace: str, backup_dir: Path | None,
             renewal: dt.timedelta, now: dt.datetime | None = None) -> None:
    try:
        keys = cluster_keys(inventory, namespace)
    except Unavailable as exc:
        report.skip(list(IDS[1:]), f"cannot read the cluster's sealing keys: {exc}")
        return
    now = now or dt.datetime.now(dt.UTC)
    if not keys:
        report.record("sealed.key-age", [], f"no sealing keys in {namespace}")
    else:
        newest = max(keys, key=lambda k: k.order_time())
        age = now - newest.order_time()
        findings = []
        if age > renewal:
            findings.append(Finding(
                "sealed.key-age", "medium", f"Secret {newest.namespace}/{newest.name}",
                f"the newest sealing key ({newest.fingerprint}, from "
                f"{format_time(newest.order_time())}) is {age.days} days old, older than the "
                f"renewal period of {renewal.days} days: new SealedSecrets are still sealed with it",
                "let the controller renew (--key-renewal-period), or run kubecrypt rotate "
                "sealed; then back the new key up", refs(docs=UPSTREAM + "#secret-rotation")))
        report.record("sealed.key-age", findings,
                      f"the newest sealing key is {age.days} days old")
    if backup_dir is None:
        report.skip(["sealed.backup-stale"], "no --sealed-keys-dir backup to compare with")
        return
    from kubecrypt.sealed.backup import keys_in_dir

    backup = {k.fingerprint for k in keys_in_dir(backup_dir, "--sealed-keys-dir")}
    missing = [k for k in keys if k.fingerprint not in backup]
    report.record("sealed.backup-stale", [Finding(
        "sealed.backup-stale", "high", f"Secret {k.namespace}/{k.name}",
        f"sealing key {k.fingerprint} (created {format_time(k.order_time())}) is in the "
        f"cluster but in no backup in {backup_dir}: what it sealed is lost with the cluster",
        f"kubectl get secret -n {namespace} -l {KEY_LABEL} -o yaml > backup.yaml into the "
        "backup (or kubecrypt sealed keys backup-status)", refs(docs=UPSTREAM + "#how-can-i-do-a-backup-of-my-sealedsecrets"))
        for k in missing], f"all {len(keys)} sealing keys are in {backup_dir}")
