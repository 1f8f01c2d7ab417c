"""``kubecrypt rotate atrest|kms|sealed|sops``: key rotation with proof. Parse, call
``kubecrypt.rotate``, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kubecrypt.cli.etcd_ops import _settings, connection_options


@click.group()
def rotate() -> None:
    """Rotate keys safely: resumable, verified workflows."""


@rotate.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="the EncryptionConfiguration the API server uses (edited in place, kept 0600)")
@click.option("--provider", type=click.Choice(["aesgcm", "aescbc", "secretbox"]), default=None,
              help="provider of the new key (default: the one that writes now)")
@click.option("--new-key-name", default=None, help="name of the new key (default key-<UTC time>)")
@click.option("--state", "state", type=click.Path(dir_okay=False), default=None,
              help="state file (default CONFIG.rotate-state.json)")
@click.option("--resume", is_flag=True, help="only resume: fail if there is no state file")
@click.option("--dry-run", is_flag=True, help="print the plan and change nothing")
@click.option("--stop-after", type=click.IntRange(1, 5), default=5,
              help="stop after this step (resume later with the same command)")
@click.option("--kubeconfig", default=None, help="kubeconfig (default $KUBECONFIG, ~/.kube/config)")
@click.option("--context", default=None, help="kubeconfig context")
@click.option("--probe-namespace", default="default", show_default=True,
              help="namespace of the short-lived probe object")
@click.option("--probe-count", default=1, show_default=True,
              help="probe this many times per check (several API servers behind one address)")
@click.option("--wait-timeout", default=120.0, show_default=True,
              help="seconds to wait for the API server to load each edit")
@click.option("--etcd-prefix", "prefix", default="/registry", show_default=True)
@connection_options
def atrest(config: str, provider: str | None, new_key_name: str | None, state: str | None,
           resume: bool, dry_run: bool, stop_after: int, kubeconfig: str | None,
           context: str | None, probe_namespace: str, probe_count: int, wait_timeout: float,
           prefix: str, **etcd_opts: Any) -> None:
    """Rotate an aesgcm/aescbc/secretbox key: add, promote, rewrite, prove, retire."""
    from kubecrypt.etcd.blocking import BlockingEtcdClient
    from kubecrypt.kube.dynamic import Api
    from kubecrypt.rotate.atrest import AtRestRotation, Options
    from kubecrypt.rotate.state import default_path

    cfg = Path(config)
    opts = Options(cfg, Path(state) if state else default_path(cfg), provider, new_key_name,
                   resume, stop_after, probe_namespace, probe_count, prefix, wait_timeout)
    rotation = AtRestRotation(opts, out=click.echo)
    if dry_run:
        for line in rotation.plan():
            click.echo(line)
        return
    settings = _settings(etcd_opts)
    api = Api.from_kubeconfig(kubeconfig, context)
    with BlockingEtcdClient(settings) as etcd:
        rotation.run(api, etcd)


@rotate.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
              help="the EncryptionConfiguration the API server uses (read only)")
@click.option("--backend", type=click.Choice(["local", "vault", "none"]), default="none",
              show_default=True, help="rotate the KEK in this backend; none: it was rotated elsewhere")
@click.option("--backend-config", type=click.Path(dir_okay=False), default=None,
              help="the plugin's --backend-config (local: keyring; vault: address, key_name, token)")
@click.option("--provider-name", default=None, help="the KMS provider to rotate (when several write)")
@click.option("--state", "state", type=click.Path(dir_okay=False), default=None,
              help="state file (default CONFIG.rotate-kms-state.json)")
@click.option("--resume", is_flag=True, help="only resume: fail if there is no state file")
@click.option("--dry-run", is_flag=True, help="print the plan and change nothing")
@click.option("--stop-after", type=click.IntRange(1, 4), default=4)
@click.option("--kubeconfig", default=None)
@click.option("--context", default=None)
@click.option("--probe-namespace", default="default", show_default=True)
@click.option("--probe-count", default=1, show_default=True)
@click.option("--wait-timeout", default=120.0, show_default=True,
              help="seconds to wait for the API server to write with the new key_id")
@click.option("--etcd-prefix", "prefix", default="/registry", show_default=True)
@connection_options
def kms(config: str, backend: str, backend_config: str | None, provider_name: str | None,
        state: str | None, resume: bool, dry_run: bool, stop_after: int, kubeconfig: str | None,
        context: str | None, probe_namespace: str, probe_count: int, wait_timeout: float,
        prefix: str, **etcd_opts: Any) -> None:
    """Rotate a KMS v2 KEK: new key_id, rewrite everything, prove it from etcd."""
    from kubecrypt.etcd.blocking import BlockingEtcdClient
    from kubecrypt.kms.backends import load_config
    from kubecrypt.kube.dynamic import Api
    from kubecrypt.rotate.kms import KmsOptions, KmsRotation

    cfg = Path(config)
    if backend != "none" and not backend_config:
        raise click.UsageError(f"--backend {backend} needs --backend-config")
    opts = KmsOptions(cfg, Path(state) if state else cfg.with_name(cfg.name + ".rotate-kms-state.json"),
                      backend, load_config(backend_config) if backend_config else {},
                      provider_name, resume, stop_after, probe_namespace, probe_count, prefix,
                      wait_timeout)
    rotation = KmsRotation(opts, out=click.echo)
    if dry_run:
        for line in rotation.plan():
            click.echo(line)
        return
    api = Api.from_kubeconfig(kubeconfig, context)
    with BlockingEtcdClient(_settings(etcd_opts)) as etcd:
        rotation.run(api, etcd)


@rotate.command(name="sops")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False),
              help="the Git working tree (or any directory) holding SOPS files")
@click.option("--config", "config", default=None, envvar="SOPS_CONFIG",
              help="the .sops.yaml (default: found from DIR upwards)")
@click.option("--no-updatekeys", is_flag=True, help="keep each file's recipients")
@click.option("--no-rotate", is_flag=True, help="keep each file's data key (updatekeys only)")
@click.option("--dry-run", is_flag=True, help="report what would change, write nothing")
def sops_(directory: str, config: str | None, no_updatekeys: bool, no_rotate: bool,
          dry_run: bool) -> None:
    """New data key and the .sops.yaml recipients for every SOPS file under --dir."""
    from kubecrypt.rotate.sops_dir import FAILED, SopsDirError, rotate_dir

    report = rotate_dir(Path(directory), config, updatekeys=not no_updatekeys,
                        rotate=not no_rotate, dry_run=dry_run)
    for r in report.results:
        line = f"{r.outcome:8} {r.path}" + (f": {r.detail}" if r.detail else "")
        click.echo(line)
        for change in r.changes:
            click.echo(f"           {change}")
    click.echo(("would have: " if dry_run else "") + report.summary())
    if report.count(FAILED):
        raise SopsDirError(f"{report.count(FAILED)} files could not be rotated (listed above); "
                           "the others were")


@rotate.command()
@click.option("--keys-dir", envvar="KUBECRYPT_SEALED_KEYS_DIR",
              default="~/.config/kubecrypt/sealed-keys", show_default=True,
              help="offline: the controller's keys (kubecrypt sealed keys); the new key is added here")
@click.option("--controller", "use_controller", is_flag=True,
              help="renew the key in the cluster (a new key Secret the controller picks up) and "
                   "re-encrypt through its /v1/rotate; no private keys needed here")
@click.option("--dir", "directory", default=None, type=click.Path(file_okay=False),
              help="a Git working tree whose SealedSecret files are re-encrypted for the new key")
@click.option("--compromised", is_flag=True,
              help="a key leaked: also list every Secret whose values must change at the source")
@click.option("--compromised-key", multiple=True,
              help="offline: fingerprint of the leaked key (default: every key but the new one)")
@click.option("--key-size", type=int, default=4096, show_default=True)
@click.option("--my-cn", default="", help="certificate CN of the new key")
@click.option("--no-renew", is_flag=True, help="re-encrypt for the newest existing key instead")
@click.option("--dry-run", is_flag=True, help="report what would change, write nothing")
@click.option("--kubeconfig", default=None, help="--controller: kubeconfig (default $KUBECONFIG)")
@click.option("--context", default=None, help="--controller: kubeconfig context")
@click.option("--controller-name", default="sealed-secrets-controller", show_default=True,
              help="--controller: the controller's Service")
@click.option("--controller-namespace", default="kube-system", show_default=True,
              help="--controller: the controller's namespace (its key Secrets live there)")
@click.option("--wait-timeout", type=float, default=60.0, show_default=True,
              help="--controller: seconds to wait for the controller to serve the new certificate")
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def sealed(ctx: click.Context, keys_dir: str, use_controller: bool, directory: str | None,
           compromised: bool, compromised_key: tuple[str, ...], key_size: int, my_cn: str,
           no_renew: bool, dry_run: bool, kubeconfig: str | None, context: str | None,
           controller_name: str, controller_namespace: str, wait_timeout: float,
           fmt: str) -> None:
    """Renew the Sealed Secrets key and re-encrypt a directory of SealedSecrets for it."""
    import json

    from kubecrypt.rotate.sealed import FAILED, rotate_sealed

    if key_size < 2048:
        raise click.BadParameter("must be at least 2048", param_hint="--key-size")
    if use_controller:
        from click.core import ParameterSource

        if ctx.get_parameter_source("keys_dir") is ParameterSource.COMMANDLINE:
            raise click.UsageError("--keys-dir is for the offline path; drop it or --controller")
        if compromised_key:
            raise click.UsageError("--compromised-key is for the offline path: with --controller "
                                   "every key before the renewal counts as compromised")
        report = _sealed_controller(directory, compromised, key_size, my_cn, no_renew, dry_run,
                                    kubeconfig, context, controller_name, controller_namespace,
                                    wait_timeout)
    else:
        report = rotate_sealed(Path(keys_dir).expanduser(), Path(directory) if directory else None,
                               compromised=compromised, compromised_keys=list(compromised_key),
                               key_size=key_size, cn=my_cn, renew_key=not no_renew,
                               dry_run=dry_run)
    key = report.new_key
    fingerprint = key.fingerprint if key else report.new_key_fingerprint
    if fmt == "json":
        click.echo(json.dumps({
            "new_key": fingerprint, "new_key_file": str(report.new_key_file or ""),
            "new_key_secret": report.new_key_secret,
            "files": [{"path": str(f.path), "outcome": f.outcome, "detail": f.detail,
                       "sealed_secrets": f.count} for f in report.files],
            "exposed": [e.to_json() for e in report.exposed],
            "history_exposed": None if report.history is None else
            [e.to_json() for e in report.history]}, indent=2))
    else:
        if report.new_key_file:
            click.echo(f"new key {fingerprint} in {report.new_key_file}: apply it "
                       f"(kubectl apply -n kube-system -f {report.new_key_file}) and restart the "
                       "controller, which seals with its newest key")
        elif report.new_key_secret:
            click.echo(f"new key {fingerprint} in Secret {report.new_key_secret}: the controller "
                       "serves its certificate and seals with it now")
        elif use_controller:
            click.echo(f"re-encrypting for the controller's current key {fingerprint}"
                       + (" (dry run: no key created)" if dry_run and not no_renew else ""))
        for f in report.files:
            click.echo(f"{f.outcome:13} {f.path}" + (f": {f.detail}" if f.detail else ""))
        if report.files:
            click.echo(("would have: " if dry_run else "") + report.summary())
        if compromised:
            click.echo(f"{len(report.exposed)} Secrets were readable with the compromised key; "
                       "old ciphertexts stay in Git history, so change these values at their "
                       "source, then seal the new values:")
            for e in report.exposed:
                click.echo(f"  {e.namespace or '(no namespace)'}/{e.name}: {', '.join(e.items)}"
                           f"  ({e.file})")
            if report.history is not None:
                click.echo(f"{len(report.history)} values were readable with the compromised key "
                           "anywhere in the Git history (every ref); change each at its source:")
                for h in report.history:
                    click.echo(f"  {h.namespace or '(no namespace)'}/{h.name}: {h.item}  (commits "
                               f"{h.first_commit[:12]}..{h.last_commit[:12]}, "
                               f"{', '.join(sorted(h.paths))})")
            elif use_controller:
                click.echo("the Git history was not audited (no private keys with --controller): "
                           "run `kubecrypt sealed history-audit --key` with a backup of the old "
                           "keys")
            where = "the cluster" if use_controller else "the cluster and from --keys-dir"
            click.echo(f"then remove the compromised key from {where} once no SealedSecret in "
                       "the cluster still needs it")
    if report.count(FAILED):
        from kubecrypt.rotate.errors import RotateError

        raise RotateError(f"{report.count(FAILED)} files could not be re-encrypted (listed "
                          "above); the others were")


def _sealed_controller(directory: str | None, compromised: bool, key_size: int, cn: str,
                       no_renew: bool, dry_run: bool, kubeconfig: str | None,
                       context: str | None, name: str, namespace: str, wait_timeout: float
                       ) -> Any:
    from kubecrypt.kube import ControllerProxy, KubeClient, Overrides
    from kubecrypt.rotate.sealed_controller import ControllerOptions, rotate_with_controller

    opts = ControllerOptions(key_size=key_size, cn=cn, renew=not no_renew,
                             compromised=compromised, dry_run=dry_run, wait_timeout=wait_timeout)
    client = KubeClient.connect(Overrides(kubeconfig=kubeconfig, context=context))
    proxy = ControllerProxy(client, name, namespace)
    return rotate_with_controller(proxy, Path(directory) if directory else None, opts)
