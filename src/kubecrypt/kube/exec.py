"""``users[].user.exec`` credential plugins (aws eks get-token, gke-gcloud-auth-plugin,
kubelogin, ...), as client-go's ``plugin/pkg/client/auth/exec`` runs them.

Written here because lightkube's ``ExecAuth`` (1.0.1) lacks what real plugins need: the
``client.authentication.k8s.io/v1`` API version, ``interactiveMode``, ``KUBERNETES_EXEC_INFO``
(with ``provideClusterInfo``), ``expirationTimestamp``, client certificates returned by the
plugin, commands relative to the kubeconfig, and the ``installHint`` when the command is missing.
The parsing of the common fields still goes through lightkube's ``UserExec`` model."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from lightkube.config.models import UserExec

from kubecrypt import safeparse
from kubecrypt.kube.errors import CredentialError, KubeConfigError

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
                "client.authentication.k8s.io/v1alpha1")
MODES = ("Never", "IfAvailable", "Always")
EXEC_TIMEOUT = 300.0  # an interactive login may take a while; a hung plugin must not hang us


@dataclass(frozen=True)
class ExecCredential:
    token: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    expires: float | None = None  # epoch seconds; None: valid until a 401


@dataclass
class ExecConfig:
    api_version: str
    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    install_hint: str = ""
    interactive_mode: str = "IfAvailable"
    provide_cluster_info: bool = False
    where: str = ""

    @classmethod
    def parse(cls, raw: Any, base: Path, where: str) -> ExecConfig:
        if not isinstance(raw, dict):
            raise KubeConfigError(f"{where}: exec is not a mapping")
        try:
            typed = msgspec.convert(raw, UserExec)
        except msgspec.ValidationError as exc:
            raise KubeConfigError(f"{where}: exec is invalid ({exc}); it needs apiVersion and "
                                  "command") from None
        if typed.apiVersion not in API_VERSIONS:
            raise KubeConfigError(f"{where}: exec apiVersion {typed.apiVersion!r} is not one of "
                                  f"{', '.join(API_VERSIONS)}")
        mode = raw.get("interactiveMode")
        if mode is None:
            if typed.apiVersion.endswith("/v1"):
                # client-go: required from v1 on.
                raise KubeConfigError(f"{where}: exec interactiveMode must be set with "
                                      f"{typed.apiVersion} (Never, IfAvailable or Always)")
            mode = "IfAvailable"
        if mode not in MODES:
            raise KubeConfigError(f"{where}: exec interactiveMode {mode!r} is not one of "
                                  f"{', '.join(MODES)}")
        command = typed.command
        if os.sep in command and not Path(command).is_absolute():
            # client-go resolves a relative command with a separator against the kubeconfig's dir.
            command = str(base / command)
        return cls(api_version=typed.apiVersion, command=command, args=list(typed.args or []),
                   env={e.name: e.value for e in typed.env or []},
                   install_hint=typed.installHint or "", interactive_mode=mode,
                   provide_cluster_info=bool(raw.get("provideClusterInfo")), where=where)

    def run(self, cluster_info: dict[str, Any] | None = None) -> ExecCredential:
        """Runs the plugin once. Its stderr goes to ours (prompts, errors), as with kubectl."""
        interactive = self.interactive_mode != "Never" and _stdin_is_terminal()
        if self.interactive_mode == "Always" and not interactive:
            raise CredentialError(f"the exec plugin {self.command} ({self.where}) needs an "
                                  "interactive terminal (interactiveMode: Always); run the "
                                  "command in a terminal")
        spec: dict[str, Any] = {"interactive": interactive}
        if self.provide_cluster_info and cluster_info is not None:
            spec["cluster"] = cluster_info
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            proc = subprocess.run([self.command, *self.args], env=env, stdout=subprocess.PIPE,
                                  stdin=None if interactive else subprocess.DEVNULL,
                                  timeout=EXEC_TIMEOUT, check=False)
        except FileNotFoundError:
            hint = f"; {self.install_hint.strip()}" if self.install_hint else ""
            raise CredentialError(f"the exec plugin {self.command} ({self.where}) is not "
                                  f"installed or not on PATH{hint}") from None
        except PermissionError:
            raise CredentialError(f"the exec plugin {self.command} ({self.where}) is not "
                                  "executable; fix its permissions") from None
        except subprocess.TimeoutExpired:
            raise CredentialError(f"the exec plugin {self.command} ({self.where}) did not "
                                  f"answer within {EXEC_TIMEOUT:.0f}s") from None
        if proc.returncode != 0:
            raise CredentialError(f"the exec plugin {self.command} ({self.where}) failed with "
                                  f"exit code {proc.returncode}; see its message above")
        return self._parse(proc.stdout)

    def _parse(self, out: bytes) -> ExecCredential:
        bad = f"the exec plugin {self.command} ({self.where}) printed no valid ExecCredential"
        try:
            doc = safeparse.load_json(out, "its output", error=CredentialError)
        except CredentialError as exc:
            raise CredentialError(f"{bad} ({exc})") from None
        if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
            raise CredentialError(f"{bad} (kind is not ExecCredential)")
        if doc.get("apiVersion") != self.api_version:
            raise CredentialError(f"{bad} (apiVersion {doc.get('apiVersion')!r}, the kubeconfig "
                                  f"asks for {self.api_version})")
        status = doc.get("status")
        if not isinstance(status, dict):
            raise CredentialError(f"{bad} (no status)")
        token = status.get("token") or None
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if bool(cert) != bool(key):
            raise CredentialError(f"{bad} (clientCertificateData and clientKeyData go together)")
        if not token and not cert:
            raise CredentialError(f"{bad} (neither a token nor a client certificate)")
        expires = None
        if status.get("expirationTimestamp"):
            try:
                stamp = str(status["expirationTimestamp"]).replace("Z", "+00:00")
                expires = dt.datetime.fromisoformat(stamp).timestamp()
            except ValueError:
                raise CredentialError(f"{bad} (expirationTimestamp is not RFC 3339)") from None
        return ExecCredential(token=token, client_cert_pem=cert.encode() if cert else None,
                              client_key_pem=key.encode() if key else None, expires=expires)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False
