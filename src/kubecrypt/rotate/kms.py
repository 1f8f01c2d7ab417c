"""``kubecrypt rotate kms``: rotate the KEK behind a KMS v2 provider and move every stored value
to the new key_id. Steps:

1. rotate the KEK in the backend (local keyring: a new primary key; Vault/OpenBao transit: a
   new key version), and read the new key_id from the plugin's Status;
2. wait until the API server writes with the new key_id (kube-apiserver polls Status about once a
   minute; a restart picks it up at once);
3. rewrite every object of the provider's resources through the API;
4. prove from etcd that every value reads and is under the new key_id.

Old KEKs stay in the backend: values in backups and etcd snapshots still need them. The state
file (key ids only) makes the workflow resumable and keeps a second run from rotating twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt import safeparse
from kubecrypt.atrest.config import EncryptionConfiguration, KMSConfig, load_file
from kubecrypt.errors import ConfigError
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.fileio import atomic_write
from kubecrypt.kube.dynamic import Api
from kubecrypt.rotate.apirewrite import rewrite
from kubecrypt.rotate.errors import NotLoaded, RotateError, StaleValues, StateError
from kubecrypt.rotate.probe import Prober, probe_resource, wait_until
from kubecrypt.rotate.proof import prove

KIND = "kubecrypt.rotate.kms"
STEPS = {
    1: "rotate the KEK in the backend",
    2: "wait until the API server writes with the new key_id",
    3: "rewrite every object of the provider's resources through the API",
    4: "prove from etcd that every value is under the new key_id",
}


@dataclass
class KmsOptions:
    config: Path
    state: Path
    backend: str = "none"
    backend_config: dict[str, Any] = field(default_factory=dict)
    provider_name: str | None = None
    resume: bool = False
    stop_after: int = 4
    probe_namespace: str = "default"
    probe_count: int = 1
    prefix: str = "/registry"
    wait_timeout: float = 120.0


def kms_target(config: EncryptionConfiguration, name: str | None) -> tuple[KMSConfig, list[str]]:
    """The KMS v2 provider that writes, and every resource it writes."""
    chosen: KMSConfig | None = None
    resources: list[str] = []
    for rc in config.resources:
        first = rc.providers[0] if rc.providers else None
        if not isinstance(first, KMSConfig) or (name and first.name != name):
            continue
        if first.api_version != "v2":
            raise RotateError(f"KMS provider {first.name} uses apiVersion v1, which has no key_id "
                              "to rotate to; move to apiVersion v2 first")
        if chosen is not None and first.name != chosen.name:
            raise RotateError(f"two KMS providers write ({chosen.name}, {first.name}); pick one "
                              "with --provider-name")
        chosen = first
        resources += [r for r in rc.resources if r not in resources]
    if chosen is None:
        which = f"named {name} " if name else ""
        raise RotateError(f"no KMS v2 provider {which}writes in this configuration (it must be the "
                          "first provider of a resources entry)")
    wild = [r for r in resources if r.startswith("*.")]
    if wild:
        raise RotateError(f"the KMS provider writes {', '.join(wild)}: rotating wildcard resources "
                          "is not supported, since each resource is rewritten through the API")
    return chosen, resources


ROTATABLE = ("local", "vault")


def _cannot_rotate(name: str) -> RotateError:
    return RotateError(
        f"kubecrypt cannot rotate a {name} backend's KEK itself; rotate it there (pkcs11: a new "
        "key_label with generate: true, then restart the plugin) and run with --backend none"
    )


def backend_key_id(name: str, config: dict[str, Any]) -> str:
    """The key_id a backend built from ``config`` reports: what the plugin must report too if
    ``config`` is the configuration it runs with."""
    from kubecrypt.kms import backends
    from kubecrypt.kms.backends.base import BackendError

    try:
        backend = backends.create(name, config)
    except ConfigError as exc:
        raise RotateError(f"--backend-config: {exc} (nothing was changed)") from None
    try:
        return backend.status()
    except BackendError as exc:
        raise RotateError(f"the {name} backend of --backend-config is not usable ({exc}); "
                          "nothing was changed") from None
    finally:
        backend.close()


def rotate_backend(name: str, config: dict[str, Any]) -> None:
    """Makes the backend encrypt with a new KEK (old ones stay for decryption)."""
    if name == "local":
        from kubecrypt.kms import keyring

        if not config.get("keyring"):
            raise ConfigError("the local backend config needs `keyring: PATH`")
        keyring.rotate(config["keyring"])
    elif name == "vault":
        from kubecrypt.kms.backends.vault import VaultBackend

        backend = VaultBackend(**config)
        # The backend's own call wrapper maps Vault's failures to one-sentence errors.
        backend._call(lambda c: c.secrets.transit.rotate_key(name=backend.key_name,
                                                              mount_point=backend.mount))
    else:
        raise _cannot_rotate(name)


class KmsRotation:
    def __init__(self, opts: KmsOptions, out: Callable[[str], None] = print) -> None:
        self.opts = opts
        self.out = out
        self.config = load_file(opts.config)
        self.kms, self.resources = kms_target(self.config, opts.provider_name)
        self.state = self._load_state()

    def _load_state(self) -> dict[str, Any]:
        path = self.opts.state
        if not path.exists():
            if self.opts.resume:
                raise StateError(f"state file {path} not found, so there is nothing to resume; "
                                 "run without --resume to start a rotation")
            return {"kind": KIND, "config": str(self.opts.config.resolve()),
                    "provider": self.kms.name, "completed": 0, "old_key_id": None,
                    "new_key_id": None}
        try:
            state = safeparse.load_json(path.read_bytes(), f"state file {path}", error=StateError)
        except OSError as exc:
            raise StateError(f"state file {path} is unreadable ({exc}); restore or remove it") from None
        if not isinstance(state, dict) or state.get("kind") != KIND:
            raise StateError(f"{path} is not a kubecrypt KMS rotation state file; pass the right --state")
        if state.get("config") != str(self.opts.config.resolve()) or state.get("provider") != self.kms.name:
            raise StateError(f"state file {path} belongs to a rotation of provider "
                             f"{state.get('provider')} in {state.get('config')}; pass that --config "
                             "or another --state")
        return state

    def _save(self, **facts: Any) -> None:
        self.state.update(facts)
        atomic_write(self.opts.state, (json.dumps(self.state, indent=2) + "\n").encode(), 0o600)

    def plan(self) -> list[str]:
        lines = [f"KMS rotation of provider {self.kms.name} ({self.kms.endpoint}) for "
                 f"{', '.join(self.resources)}; backend: {self.opts.backend}"]
        for step, text in STEPS.items():
            mark = "done" if step <= self.state["completed"] else \
                "skip" if step > self.opts.stop_after else "todo"
            lines.append(f"  step {step} [{mark}]: {text}")
        return lines

    def _plugin_key_id(self) -> str:
        from kubecrypt.kms.client import GrpcKMSv2

        plugin = GrpcKMSv2(self.kms.endpoint, self.kms.timeout)
        try:
            status = plugin.status()
        finally:
            plugin.close()
        if status.healthz != "ok" or not status.key_id:
            raise RotateError(f"the KMS plugin at {self.kms.endpoint} is not healthy "
                              f"({status.healthz}); fix it before rotating")
        return status.key_id

    def run(self, api: Api, etcd: BlockingEtcdClient) -> None:
        prober = Prober(api, etcd, probe_resource(tuple(self.resources)), self.opts.probe_namespace,
                        self.opts.prefix, self.opts.probe_count)
        for step in range(int(self.state["completed"]) + 1, min(self.opts.stop_after, 4) + 1):
            self.out(f"step {step}/4: {STEPS[step]}")
            getattr(self, f"_step{step}")(api, etcd, prober)
        if self.state["completed"] == 4:
            self.opts.state.unlink(missing_ok=True)
            self.out(f"rotation complete: {', '.join(self.resources)} are under key_id "
                     f"{self.state['new_key_id']}; keep the old KEK ({self.state['old_key_id']}) "
                     "while backups written under it may be restored")
        else:
            self.out(f"stopped after step {self.state['completed']}; run again to resume")

    def _step1(self, api: Api, etcd: BlockingEtcdClient, prober: Prober) -> None:
        current = self._plugin_key_id()
        old = self.state.get("old_key_id")
        if old is None:
            old = current
            self._save(old_key_id=old)  # before rotating: a resumed run must not rotate twice
        if self.opts.backend != "none" and current == old:
            if self.opts.backend not in ROTATABLE:
                raise _cannot_rotate(self.opts.backend)
            # Rotating a keyring or Vault key the plugin does not use would change the wrong
            # KEK and then time out: check it is the plugin's before changing anything.
            theirs = backend_key_id(self.opts.backend, self.opts.backend_config)
            if theirs != current:
                raise RotateError(
                    f"--backend-config describes a {self.opts.backend} backend whose key_id is "
                    f"{theirs}, but the plugin at {self.kms.endpoint} reports {current}: it is not "
                    "the backend the plugin uses; pass the plugin's own backend configuration "
                    "(nothing was changed)"
                )
            rotate_backend(self.opts.backend, self.opts.backend_config)
            deadline = time.monotonic() + 30
            while (current := self._plugin_key_id()) == old:
                if time.monotonic() > deadline:
                    raise RotateError(f"the KEK was rotated but the plugin at {self.kms.endpoint} "
                                      f"still reports key_id {old}; check that it uses the same "
                                      "backend configuration")
                time.sleep(0.2)
        self.out(f"  key_id {old} -> {current}")
        self._save(new_key_id=current, completed=1)

    def _step2(self, api: Api, etcd: BlockingEtcdClient, prober: Prober) -> None:
        new = self.state["new_key_id"]

        def told() -> None:
            self.out(f"  the API server at {api.server} still writes with the old key_id: "
                     "kube-apiserver asks the plugin about once a minute; restart it to switch now. "
                     f"Waiting up to {self.opts.wait_timeout:g}s")
        try:
            wait_until(lambda: prober.writes_where(lambda c: c.provider == "kms" and c.key_id == new),
                       f"write with key_id {new}", self.opts.wait_timeout, told)
        except NotLoaded:
            # Nothing here edits the configuration: the API server only has to ask the plugin.
            raise NotLoaded(
                f"not yet: after {self.opts.wait_timeout:g}s the API server at {api.server} still "
                f"does not write with key_id {new}; kube-apiserver asks the plugin for its key_id "
                "about once a minute (the EncryptionConfiguration is unchanged), so wait or "
                "restart every kube-apiserver, then run the same command again to resume"
            ) from None
        self.out(f"  the API server writes with key_id {new}")
        self._save(completed=2)

    def _step3(self, api: Api, etcd: BlockingEtcdClient, prober: Prober) -> None:
        counts = rewrite(api, self.resources,
                         progress=lambda r, n: self.out(f"  {r}: {n} read and written back"))
        for name, c in counts.items():
            self.out("  " + c.summary(name))
        self._save(completed=3)

    def _step4(self, api: Api, etcd: BlockingEtcdClient, prober: Prober) -> None:
        new = self.state["new_key_id"]
        proof = prove(etcd, self.config, self.resources, set(), self.opts.prefix)
        want = f"kms:{self.kms.name}@{new}"
        others = {k: n for k, n in proof.keys.items() if k != want}
        self.out("  " + proof.summary())
        if not proof.clean or others:
            self._save(completed=2)
            raise StaleValues(f"the proof failed: {proof.summary()}; run again to rewrite and "
                              "re-check")
        self._save(completed=4, proof=proof.to_json())
