"""Helpers for the doctor tests (tests/doctor): run ``kubecrypt doctor`` as a user does and read its JSON,
write manifests and EncryptionConfigurations, build Git repositories with real git."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

# Values planted in every scenario: no output of the audit may ever contain them.
PLANTED = ("hunter2-planted-value", "c3VwZXItc2VjcmV0LXBsYW50ZWQ=", "super-secret-planted")
KEY_B64 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
KEY2_B64 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="


def write_config(path: Path, entries: list[tuple[list[str], list[dict[str, Any]]]],
                 mode: int = 0o600) -> Path:
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": r, "providers": p} for r, p in entries]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(mode)
    return path


def keyed(kind: str, name: str, secret: str = KEY_B64) -> dict[str, Any]:
    return {kind: {"keys": [{"name": name, "secret": secret}]}}


def assert_no_secrets(text: str | bytes, extra: tuple[str, ...] = ()) -> None:
    body = text.decode() if isinstance(text, bytes) else text
    for value in (*PLANTED, KEY_B64, KEY2_B64, *extra):
        assert value not in body, f"the report contains a planted secret or key ({value[:6]}...)"





def findings(report: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == check]


def status(report: dict[str, Any], check: str) -> str:
    return next(c["status"] for c in report["checks"] if c["id"] == check)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def init_repo(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    return repo


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def kube_bench_1_2_28(text: str) -> bool:
    """kube-bench cis-1.9..1.12 1.2.28's audit, reproduced: ``grep -A1 'providers:' $CONFIG |
    tail -n1 | grep -o "[A-Za-z]*"`` must contain aescbc, kms or secretbox."""
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if "providers:" in line:
            out.append(line)
            if i + 1 < len(lines):
                out.append(lines[i + 1])
    last = out[-1] if out else ""
    words = re.findall(r"[A-Za-z]+", last)
    return any(w in ("aescbc", "kms", "secretbox") for w in words)


def kubescape_c0142(doc: dict[str, Any]) -> bool:
    """kubescape C-0142 (regolibrary ensure-that-the-api-server-encryption-providers-are-
    appropriately-configured): an entry passes if ANY of its providers is aescbc, secretbox or
    kms; entries that do not cover secrets are not looked for."""
    return all(any(k in p for p in rc["providers"] for k in ("aescbc", "secretbox", "kms"))
               for rc in doc["resources"])
