"""One lab with the Sealed Secrets controller (as ``lab up`` runs it) for the Kubernetes client
tests, and kubeconfigs for it with every kind of user: exec plugin, client certificate (data and
files), tokenFile, token, none, and the in-cluster service account files."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubecrypt.lab import sealed as lab_sealed
from kubecrypt.lab import up as lab_up
from kubecrypt.lab.apiserver.certs import issue_client_cert
from kubecrypt.lab.up import Lab

# An exec credential plugin: logs each run (with KUBERNETES_EXEC_INFO and whether stdin is
# open) and prints the token from $PLUGIN_TOKENS, one per run (the last one repeats), with
# $PLUGIN_EXPIRY seconds of validity when set.
PLUGIN = """#!{python}
import datetime, json, os, sys
log = os.environ["PLUGIN_LOG"]
runs = sum(1 for _ in open(log)) if os.path.exists(log) else 0
tokens = os.environ["PLUGIN_TOKENS"].split(",")
with open(log, "a") as f:
    f.write(json.dumps({{"info": json.loads(os.environ.get("KUBERNETES_EXEC_INFO", "null")),
                        "stdin": not sys.stdin.closed and sys.stdin.readable()}}) + "\\n")
status = {{"token": tokens[min(runs, len(tokens) - 1)]}}
if os.environ.get("PLUGIN_EXPIRY"):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        seconds=float(os.environ["PLUGIN_EXPIRY"]))
    status["expirationTimestamp"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({{"apiVersion": os.environ.get("PLUGIN_API", "{api}"),
                  "kind": "ExecCredential", "status": status}}))
"""
EXEC_API = "client.authentication.k8s.io/v1"


@dataclass
class KubeLab:
    lab: Lab
    dir: Path

    @property
    def token(self) -> str:
        return self.lab.token

    @property
    def ca_pem(self) -> bytes:
        return (self.lab.dir / "pki" / "ca.crt").read_bytes()

    def controller_cert(self) -> bytes:
        out = subprocess.run(
            [sys.executable, "-m", "kubecrypt", "seal", "--fetch-cert", "--kubeconfig",
             str(self.lab.kubeconfig)], capture_output=True, env=kubecrypt_env(), timeout=60,
            check=True)
        return out.stdout

    def kubeconfig(self, path: Path, users: dict[str, dict[str, Any]],
                   current: str | None = None, namespace: str = "default") -> Path:
        """One cluster (the lab), one context per user, named like the user."""
        doc = {
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "lab", "cluster": {
                "server": self.lab.server,
                "certificate-authority-data": base64.b64encode(self.ca_pem).decode()}}],
            "users": [{"name": name, "user": user} for name, user in users.items()],
            "contexts": [{"name": name, "context": {"cluster": "lab", "user": name,
                                                    "namespace": namespace}}
                         for name in users],
        }
        if current or users:
            doc["current-context"] = current or next(iter(users))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def plugin(self, directory: Path, tokens: list[str], expiry: float | None = None,
               api: str = EXEC_API, interactive_mode: str | None = "Never"
               ) -> tuple[dict[str, Any], Path]:
        """An exec user entry running the plugin script, and the plugin's run log."""
        directory.mkdir(parents=True, exist_ok=True)
        script = directory / "plugin.py"
        script.write_text(PLUGIN.format(python=sys.executable, api=api))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        log = directory / "plugin.log"
        env = [{"name": "PLUGIN_LOG", "value": str(log)},
               {"name": "PLUGIN_TOKENS", "value": ",".join(tokens)}]
        if expiry is not None:
            env.append({"name": "PLUGIN_EXPIRY", "value": str(expiry)})
        entry: dict[str, Any] = {"apiVersion": api, "command": str(script), "env": env,
                                 "provideClusterInfo": True}
        if interactive_mode:
            entry["interactiveMode"] = interactive_mode
        return {"exec": entry}, log

    def client_cert_user(self, name: str = "alice") -> dict[str, Any]:
        cert, key = issue_client_cert(self.lab.dir / "pki", name, ("system:masters",))
        return {"client-certificate-data": base64.b64encode(cert).decode(),
                "client-key-data": base64.b64encode(key).decode()}

    def service_account(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "token").write_text(self.token + "\n")
        (directory / "ca.crt").write_bytes(self.ca_pem)
        (directory / "namespace").write_text("from-service-account")
        return directory

    def in_cluster_env(self, sa_dir: Path, home: Path) -> dict[str, str]:
        """The environment of a pod: no kubeconfig anywhere, the service's host and port."""
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in kubecrypt_env().items() if k != "KUBECONFIG"}
        env.update({"HOME": str(home), "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                    "KUBERNETES_SERVICE_PORT": str(self.lab.port),
                    "KUBECRYPT_SERVICEACCOUNT_DIR": str(sa_dir)})
        return env


def kubecrypt_env(**extra: str) -> dict[str, str]:
    env = lab_up.kubecrypt_env()
    env.pop("KUBECONFIG", None)
    env.update(extra)
    return env


def run_json(args: list[str], env: dict[str, str]) -> Any:
    return json.loads(subprocess.run(args, capture_output=True, env=env, timeout=60,
                                     check=True).stdout)


@pytest.fixture(scope="session")
def klab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeLab]:
    directory = tmp_path_factory.mktemp("kube") / "lab"
    lab = lab_up.up(directory, encryption="aesgcm")
    try:
        lab_sealed.start_controller(lab, key_size=2048)
        lab.save()
        yield KubeLab(lab, directory.parent)
    finally:
        lab_up.down(directory, purge=True)
