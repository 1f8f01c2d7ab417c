"""``kubecrypt rotate atrest``: the key rotation runbook for aesgcm/aescbc/secretbox as one
resumable workflow. Steps (upstream's "Rotating a decryption key" task, made safe):

1. add the new key *second*, wait until the API server reads it;
2. promote it to first, wait until the API server writes with it;
3. rewrite every object of the rotated resources through the API;
4. prove from etcd that no value is stale or still under the old key;
5. remove the old key, refused while any stored value still needs it; the configuration with
   the old key is kept (0600) beside the state file, since backups made before the rotation
   need it.

After each step the state file records it, so a run that stops (Ctrl-C, a crash, an API server
that has not loaded the change yet) resumes where it stopped. The configuration is edited
atomically and stays 0600; every edit is validated as kube-apiserver would before it is written."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubecrypt import safeparse
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.fileio import atomic_write
from kubecrypt.kube.dynamic import Api
from kubecrypt.rotate import configedit as ce
from kubecrypt.rotate.apirewrite import rewrite
from kubecrypt.rotate.errors import RotateError, StaleValues, StateError
from kubecrypt.rotate.probe import Prober, probe_resource, wait_until
from kubecrypt.rotate.proof import prove
from kubecrypt.rotate.state import RotationState

STEPS = {
    1: "add the new key second (every API server can read it before any writes with it)",
    2: "promote the new key to first (it writes from now on)",
    3: "rewrite every object of the rotated resources through the API",
    4: "prove from etcd that no value is stale or still under the old key",
    5: "remove the old key",
}
# After step N completed, the configuration's entries are at least / at most in these phases.
_PHASES = {0: (ce.UNTOUCHED, ce.ADDED), 1: (ce.ADDED, ce.PROMOTED), 2: (ce.PROMOTED, ce.RETIRED),
           3: (ce.PROMOTED, ce.RETIRED), 4: (ce.PROMOTED, ce.RETIRED), 5: (ce.RETIRED, ce.RETIRED)}
_ORDER = [ce.UNTOUCHED, ce.ADDED, ce.PROMOTED, ce.RETIRED]


@dataclass
class Options:
    config: Path
    state: Path
    provider: str | None = None
    new_key_name: str | None = None
    resume: bool = False
    stop_after: int = 5
    probe_namespace: str = "default"
    probe_count: int = 1
    prefix: str = "/registry"
    wait_timeout: float = 120.0


class AtRestRotation:
    def __init__(self, opts: Options, out: Callable[[str], None] = print) -> None:
        self.opts = opts
        self.out = out
        self.doc, self.json_format = self._read()
        ce.validate(self.doc, str(opts.config))  # ConfigError names every problem
        self.state = self._state()

    # ------------------------------------------------------------------ config and state

    def _read(self) -> tuple[dict[str, Any], bool]:
        path = self.opts.config
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RotateError(f"{path}: no such file; pass the EncryptionConfiguration the API "
                              "server uses (--config)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RotateError(f"{path}: cannot read the EncryptionConfiguration: {exc}") from None
        doc = safeparse.load_yaml(text, str(path), error=RotateError)
        if not isinstance(doc, dict):
            raise RotateError(f"{path} is not an EncryptionConfiguration")
        return doc, text.lstrip().startswith("{")

    def _write(self, doc: dict[str, Any]) -> str:
        ce.check(doc, str(self.opts.config))
        text = json.dumps(doc, indent=2) + "\n" if self.json_format else \
            yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
        atomic_write(self.opts.config, text.encode(), 0o600)
        self.doc = doc
        return hashlib.sha256(text.encode()).hexdigest()

    def _state(self) -> RotationState:
        path, config = self.opts.state, self.opts.config.resolve()
        if path.exists():
            state = RotationState.load(path, config)
            self._check_phases(state)
            return state
        if self.opts.resume:
            raise StateError(f"state file {path} not found, so there is nothing to resume; run "
                             "without --resume to start a rotation")
        name = self.opts.new_key_name or "key-" + time.strftime("%Y%m%d%H%M%S", time.gmtime())
        entries = ce.plan(self.doc, self.opts.provider, name)
        return RotationState(path, config, entries)

    def _check_phases(self, state: RotationState) -> None:
        low, high = _PHASES.get(state.completed, (None, None))
        if low is None or high is None:
            raise StateError(f"state file {state.path} says step {state.completed} completed, "
                             "which is not a step; restore it")
        for e in state.entries:
            p = ce.phase(self.doc, e)
            if not _ORDER.index(low) <= _ORDER.index(p) <= _ORDER.index(high):
                raise StateError(
                    f"{self.opts.config} does not match the state file {state.path} (step "
                    f"{state.completed} done, but resources[{e.index}] is in another phase); "
                    "the configuration was edited by hand: restore it"
                )

    # ------------------------------------------------------------------ plan

    def plan(self) -> list[str]:
        lines = [f"rotation of {self.opts.config} (state: {self.opts.state})"]
        for e in self.state.entries:
            lines.append(f"  resources[{e.index}] ({', '.join(e.resources)}): {e.old_provider} key "
                         f"{e.old_key} -> {e.new_provider} key {e.new_key}")
        for step, text in STEPS.items():
            mark = "done" if step <= self.state.completed else \
                "skip" if step > self.opts.stop_after else "todo"
            lines.append(f"  step {step} [{mark}]: {text}")
        return lines

    # ------------------------------------------------------------------ run

    def run(self, api: Api, etcd: BlockingEtcdClient) -> None:
        o = self.opts
        entries = self.state.entries
        resources = list(dict.fromkeys(r for e in entries for r in e.resources))
        prober = Prober(api, etcd, probe_resource(self._probe_entry().resources), o.probe_namespace,
                        o.prefix, o.probe_count)
        if self.state.completed == 0:
            self._preflight(api, etcd, prober, resources)
        if self.state.completed == 0 and not o.state.exists():
            self.state.save()
        for step in range(self.state.completed + 1, min(o.stop_after, 5) + 1):
            self.out(f"step {step}/5: {STEPS[step]}")
            getattr(self, f"_step{step}")(api, etcd, prober, resources)
        if self.state.completed == 5:
            self.state.remove()
            self.out(f"rotation complete: {', '.join(resources)} are under the new key only; "
                     f"{o.state} removed")
        else:
            self.out(f"stopped after step {self.state.completed}; run again to resume")

    def _preflight(self, api: Api, etcd: BlockingEtcdClient, prober: Prober,
                   resources: list[str]) -> None:
        """Before the first edit: is this the configuration the API server uses, and can it read
        everything stored now? Otherwise stop with nothing changed."""
        for r in resources:
            api.resource(r)  # reachable, and serves every rotated resource
        e = self._probe_entry()
        if ce.phase(self.doc, e) != ce.UNTOUCHED:
            return  # resumed after the first edit was written but not recorded
        old = {(x.old_provider, x.old_key) for x in self.state.entries}
        proof = prove(etcd, ce.check(self.doc, str(self.opts.config)), resources, old,
                      self.opts.prefix)
        if proof.unreadable:
            raise RotateError(
                f"{proof.unreadable} stored values cannot be read with {self.opts.config} (e.g. "
                f"{', '.join(proof.examples[:3])}): its keys do not match what is in etcd; pass the "
                "configuration the API server uses (nothing was changed)"
            )
        if not prober.writes(e.old_provider, e.old_key):
            raise RotateError(
                f"the API server at {api.server} does not write with {e.old_provider} key "
                f"{e.old_key}, the first key of {self.opts.config}: it runs another configuration "
                "(or has not loaded this one); pass the one it uses (nothing was changed)"
            )

    def _wait(self, what: str, check: Callable[[], bool], server: str) -> None:
        def told() -> None:
            self.out(f"  the API server at {server} has not loaded {self.opts.config} yet: it "
                     "reloads by itself with --encryption-provider-config-automatic-reload, "
                     "otherwise restart every kube-apiserver now; waiting up to "
                     f"{self.opts.wait_timeout:g}s")
        wait_until(check, what, self.opts.wait_timeout, told)
        self.out(f"  the API server {what}")

    def _edit(self, edit: Callable[[dict[str, Any], ce.EntryPlan], dict[str, Any]]) -> None:
        doc = self.doc
        for e in self.state.entries:
            doc = edit(doc, e)
        if doc != self.doc:
            self._write(doc)
            self.out(f"  wrote {self.opts.config}")

    def _step1(self, api: Api, etcd: BlockingEtcdClient, prober: Prober, _: list[str]) -> None:
        self._edit(ce.add)
        e = self._probe_entry()
        secret = ce.key_secret(self.doc, e, e.new_key, e.new_provider)
        self._wait(f"reads {e.new_provider} key {e.new_key}",
                   lambda: prober.reads(e.new_provider, e.new_key, secret), api.server)
        self.state.record(1)

    def _step2(self, api: Api, etcd: BlockingEtcdClient, prober: Prober, _: list[str]) -> None:
        self._edit(ce.promote)
        e = self._probe_entry()
        self._wait(f"writes with {e.new_provider} key {e.new_key}",
                   lambda: prober.writes(e.new_provider, e.new_key), api.server)
        self.state.record(2)

    def _step3(self, api: Api, etcd: BlockingEtcdClient, prober: Prober, resources: list[str]) -> None:
        def progress(resource: str, n: int) -> None:
            self.out(f"  {resource}: {n} read and written back")
        counts = rewrite(api, resources, progress=progress)
        for name, c in counts.items():
            self.out("  " + c.summary(name))
        self.state.record(3, rewritten={k: c.updated for k, c in counts.items()})

    def _step4(self, api: Api, etcd: BlockingEtcdClient, prober: Prober, resources: list[str]) -> None:
        old = {(e.old_provider, e.old_key) for e in self.state.entries}
        proof = prove(etcd, ce.check(self.doc, str(self.opts.config)), resources, old, self.opts.prefix)
        self.out("  " + proof.summary())
        if not proof.clean:
            self.state.completed = 2  # the next run rewrites again, then proves again
            self.state.save()
            raise StaleValues(
                f"the proof failed: {proof.summary()}, e.g. {', '.join(proof.examples)}; run again "
                "to rewrite and re-check (an API server still on the old configuration writes "
                "stale values)"
            )
        self.state.record(4, proof=proof.to_json())

    def _step5(self, api: Api, etcd: BlockingEtcdClient, prober: Prober, resources: list[str]) -> None:
        final = self.doc
        for e in self.state.entries:
            final = ce.retire(final, e)
        old = {(e.old_provider, e.old_key) for e in self.state.entries}
        # Read everything through the configuration that still has the old key, so a value under
        # it is counted as "under the old key" rather than "unreadable". Clean means every value is
        # under the first (new) key and not stale, so the configuration without the old key reads
        # them all.
        proof = prove(etcd, ce.check(self.doc, str(self.opts.config)), resources, old,
                      self.opts.prefix)
        if not proof.clean:
            self.state.completed = 2  # the next run rewrites them, proves again, then retires
            self.state.save()
            raise StaleValues(
                f"refusing to remove the old key: {proof.summary()}, e.g. "
                f"{', '.join(proof.examples)}; the old key stays: run the same command again to "
                "rewrite them and re-check"
            )
        if final != self.doc:
            kept = self._keep_retired()
            self.out(f"  kept the retired key in {kept} (0600): etcd snapshots and backups taken "
                     "before this rotation can only be decrypted with it, so store it as safely "
                     "as the live key until the last of them has expired")
            digest = self._write(final)
            self.out(f"  wrote {self.opts.config}")
        else:
            digest = hashlib.sha256(self.opts.config.read_bytes()).hexdigest()
        e = self._probe_entry()
        self._wait(f"runs without the old key {e.old_key}",
                   lambda: _loaded_hash(api, digest) and prober.writes(e.new_provider, e.new_key),
                   api.server)
        self.state.record(5)

    def _keep_retired(self) -> Path:
        """Writes the configuration as it is before step 5 (new key first, old key still in it),
        0600, beside the state file: it reads every value written before the rotation."""
        names = re.sub(r"[^A-Za-z0-9._-]", "_",
                       "-".join(dict.fromkeys(e.old_key for e in self.state.entries)))[:100]
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = self.opts.state.parent / f"{self.opts.config.name}.retired-{names}-{stamp}"
        text = json.dumps(self.doc, indent=2) + "\n" if self.json_format else \
            yaml.safe_dump(self.doc, sort_keys=False, default_flow_style=False)
        atomic_write(path, text.encode(), 0o600)
        self.state.history.append({"step": 5, "retired_key_file": str(path)})
        self.state.save()
        return path

    def _probe_entry(self) -> ce.EntryPlan:
        for e in self.state.entries:
            if any(r in e.resources for r in ("secrets", "configmaps")):
                return e
        return self.state.entries[0]


def _loaded_hash(api: Api, digest: str) -> bool:
    """The lab (and servers that export it) publish the hash of the configuration in force; when
    there is none to compare, the probes decide alone."""
    for line in api.metrics().splitlines():
        if line.startswith("kubecrypt_lab_encryption_config_info{"):
            return f'hash="{digest}"' in line
    return True
