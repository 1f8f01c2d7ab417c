"""``kubecrypt doctor``: the posture audit. Parses the sources, runs ``kubecrypt.doctor`` and
prints one of its renderings; exits 3 when a finding at or above --fail-on exists."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from kubecrypt.errors import InputError, KubecryptError


class FindingsAtOrAbove(KubecryptError):
    exit_code = 3


@click.command()
@click.option("--kubeconfig", default=None, metavar="FILE", help="kubeconfig of the cluster.")
@click.option("--context", default=None, help="kubeconfig context.")
@click.option("--etcd-endpoints", default=None, metavar="LIST",
              help="etcd gRPC endpoints, comma-separated (as etcdctl's --endpoints).")
@click.option("--etcd-cacert", default=None, metavar="PATH", help="etcd CA bundle (--cacert).")
@click.option("--etcd-cert", default=None, metavar="PATH", help="etcd client cert (--cert).")
@click.option("--etcd-key", default=None, metavar="PATH", help="etcd client key (--key).")
@click.option("--etcd-user", default=None, metavar="TEXT", help="etcd user[:password].")
@click.option("--etcd-password", default=None, metavar="TEXT", help="etcd password.")
@click.option("--etcd-prefix", "prefix", default="/registry", show_default=True,
              help="kube-apiserver's --etcd-prefix.")
@click.option("--encryption-provider-config", "configs", multiple=True, metavar="FILE",
              help="EncryptionConfiguration file(s); the first one reads etcd. Repeatable.")
@click.option("--sealed-keys-dir", default=None, metavar="DIR",
              help="Backup of the Sealed Secrets keys (key Secrets, Lists or PEM keys).")
@click.option("--controller-namespace", default="kube-system", show_default=True,
              help="Where the Sealed Secrets controller keeps its keys.")
@click.option("--key-renewal", default="720h", show_default=True, metavar="DURATION",
              help="Sealed Secrets key renewal period (sealed.key-age).")
@click.option("--repo", "repos", multiple=True, metavar="DIR",
              help="A Git repository to audit, working tree and history. Repeatable.")
@click.option("--objects-file", "objects_files", multiple=True, metavar="FILE",
              help="Kubernetes objects as manifests (e.g. kubectl get -A -o yaml): RBAC and "
                   "workloads offline. Repeatable.")
@click.option("--lab", "lab_dir", default=None, metavar="DIR",
              help="A running `kubecrypt lab`: its kubeconfig, etcd and encryption config.")
@click.option("--no-history", is_flag=True, help="Do not replay etcd's older revisions.")
@click.option("-o", "fmt", type=click.Choice(["table", "json", "sarif", "html"]),
              default="table", show_default=True)
@click.option("--output", "output", default=None, metavar="FILE",
              help="Write the report here instead of stdout.")
@click.option("--fail-on", type=click.Choice(["critical", "high", "medium", "low"]),
              default="high", show_default=True,
              help="Exit 3 when a finding at or above this severity exists.")
def doctor(kubeconfig: str | None, context: str | None, etcd_endpoints: str | None,
           etcd_cacert: str | None, etcd_cert: str | None, etcd_key: str | None,
           etcd_user: str | None, etcd_password: str | None, prefix: str,
           configs: tuple[str, ...], sealed_keys_dir: str | None, controller_namespace: str,
           key_renewal: str, repos: tuple[str, ...], objects_files: tuple[str, ...],
           lab_dir: str | None, no_history: bool, fmt: str, output: str | None,
           fail_on: str) -> None:
    """Audit how Secrets are protected, from evidence: etcd's values, the encryption config,
    Sealed Secrets keys, RBAC, workloads and Git history. Every source is optional."""
    from kubecrypt.doctor.render import render
    from kubecrypt.doctor.run import Options, audit
    from kubecrypt.doctor.sources import read_lab
    from kubecrypt.etcd.settings import EtcdSettings
    from kubecrypt.fileio import atomic_write
    from kubecrypt.goduration import parse_duration

    config_paths = [Path(c) for c in configs]
    if lab_dir:
        info = read_lab(Path(lab_dir))
        kubeconfig = kubeconfig or str(info.kubeconfig)
        etcd_endpoints = etcd_endpoints or ",".join(info.etcd_endpoints) or None
        if not config_paths and info.encryption_config is not None:
            config_paths = [info.encryption_config]
    etcd = None
    if etcd_endpoints or etcd_cacert or etcd_cert:
        etcd = EtcdSettings().with_flags(
            endpoints=etcd_endpoints, cacert=etcd_cacert, cert=etcd_cert, key=etcd_key,
            user=etcd_user, password=etcd_password)
        etcd.load_tls()
    try:
        renewal = dt.timedelta(seconds=parse_duration(key_renewal))
    except ValueError:
        raise InputError(f"--key-renewal {key_renewal!r} is not a duration like 720h") from None
    for r in repos:
        if not Path(r).is_dir():
            raise InputError(f"--repo {r} is not a directory; give a Git working tree")
    if sealed_keys_dir and not Path(sealed_keys_dir).is_dir():
        raise InputError(f"--sealed-keys-dir {sealed_keys_dir} is not a directory; give the "
                         "directory holding the key backups")
    opts = Options(kubeconfig=kubeconfig, context=context, etcd=etcd, configs=config_paths,
                   sealed_keys_dir=Path(sealed_keys_dir) if sealed_keys_dir else None,
                   repos=[Path(r) for r in repos], objects_files=[Path(f) for f in objects_files],
                   prefix=prefix, controller_namespace=controller_namespace,
                   key_renewal=renewal, history=not no_history)
    report = audit(opts)
    text = render(report, fmt, fail_on)
    if output:
        atomic_write(output, text.encode())
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    code = report.exit_code(fail_on)
    if code:
        n = sum(1 for f in report.findings
                if ("critical", "high", "medium", "low").index(f.severity if f.severity != "info" else "low")
                <= ("critical", "high", "medium", "low").index(fail_on))
        raise FindingsAtOrAbove(f"{n} finding(s) at or above {fail_on}; see the report"
                                + (f" in {output}" if output else " above"))
