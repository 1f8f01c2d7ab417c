"""The audit against a real lab: real etcd, the lab API server, real kubectl. Each scenario sets
the lab's EncryptionConfiguration, writes through kubectl, and checks doctor's verdict against
what etcd holds."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from doctor_support import (
    KEY2_B64,
    PLANTED,
    assert_no_secrets,
    findings,
    keyed,
    kubescape_c0142,
    status,
    write_config,
)

from kubecrypt.lab import up as lab_up

pytestmark = pytest.mark.slow
Doctor = Callable[..., tuple[int, dict[str, Any], str]]


class Lab:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.dir / "kubeconfig")}

    def kubectl(self, *args: str, input: str | None = None) -> str:
        p = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True,
                           env=self.env(), timeout=60, check=False)
        assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
        return p.stdout

    def configure(self, path: Path | None = None, encryption: str | None = None) -> None:
        lab_up.up(self.dir, encryption=encryption, encryption_provider_config=path)

    def secret(self, name: str, value: str = PLANTED[0]) -> None:
        self.kubectl("create", "secret", "generic", name, f"--from-literal=pw={value}")

    def sealing_keys(self) -> dict[str, Any]:
        """The controller's key Secrets, once it has made one (it does so after it starts)."""
        deadline = time.monotonic() + 60
        while True:
            keys = json.loads(self.kubectl(
                "get", "secret", "-n", "kube-system", "-l",
                "sealedsecrets.bitnami.com/sealed-secrets-key", "-o", "json"))
            if keys["items"] or time.monotonic() > deadline:
                assert keys["items"], "the lab's Sealed Secrets controller made no key"
                return keys
            time.sleep(0.5)

    def rewrite(self, name: str) -> None:
        obj = self.kubectl("get", "secret", name, "-o", "json")
        self.kubectl("replace", "-f", "-", input=obj)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("doctor") / "lab"
    cfg = write_config(directory.parent / "identity-first.yaml", [
        (["secrets"], [{"identity": {}}, keyed("aescbc", "k1")])])
    lab_up.up(directory, encryption_provider_config=cfg, sealed_secrets=True)
    try:
        yield Lab(directory)
    finally:
        lab_up.down(directory, purge=True)


def test_identity_first_then_half_rotation_and_old_revisions(lab: Lab, doctor: Doctor,
                                                              tmp_path: Path) -> None:
    # 1. [identity, aescbc]: kubescape C-0142 passes it; etcd holds the new Secret in plaintext.
    lab.secret("first")
    cfg = Path(lab.dir.parent / "identity-first.yaml")
    import yaml

    assert kubescape_c0142(yaml.safe_load(cfg.read_text()))
    code, report, _ = doctor("--lab", str(lab.dir))
    assert code == 3
    assert [f["severity"] for f in findings(report, "config.identity-first")] == ["critical"]
    plain = {f["subject"] for f in findings(report, "etcd.plaintext")}
    assert "secrets/default/first" in plain
    assert all(f["severity"] == "critical" for f in findings(report, "etcd.plaintext"))
    assert status(report, "etcd.old-revisions") == "pass"

    # 2. aescbc k1 writes: "first" is rewritten (encrypted now, its plaintext revision stays).
    lab.configure(write_config(tmp_path / "k1.yaml", [
        (["secrets"], [keyed("aescbc", "k1"), {"identity": {}}])]))
    lab.rewrite("first")
    lab.secret("second")
    # 3. A rotation that stops half-way: k2 writes, "second" is still on k1.
    lab.configure(write_config(tmp_path / "k2.yaml", [
        (["secrets"], [keyed("aescbc", "k2", KEY2_B64), keyed("aescbc", "k1"),
                       {"identity": {}}])]))
    lab.secret("third")
    code, report, _ = doctor("--lab", str(lab.dir))
    stale = findings(report, "etcd.stale")
    assert len(stale) == 1 and "aescbc key k1" in stale[0]["evidence"]
    assert stale[0]["severity"] == "medium"
    old = {f["subject"]: f for f in findings(report, "etcd.old-revisions")}
    assert "secrets/default/first" in old
    assert "encrypted now" in old["secrets/default/first"]["evidence"]
    assert old["secrets/default/first"]["severity"] == "high"
    plain = {f["subject"] for f in findings(report, "etcd.plaintext")}
    assert "secrets/default/first" not in plain
    assert status(report, "config.identity-first") == "pass"
    assert [f["severity"] for f in findings(report, "config.aescbc")] == ["medium", "low"]
    cov = report["summary"]["coverage"]
    assert {(k["provider"], k["key_name"]) for k in cov["keys"]} >= {("aescbc", "k1"),
                                                                     ("aescbc", "k2")}
    # The same lab without history replay: the check says it was skipped and why.
    _, quick, _ = doctor("--lab", str(lab.dir), "--no-history")
    assert status(quick, "etcd.old-revisions") == "skipped"


def test_sealed_secrets_without_encryption_at_rest(lab: Lab, doctor: Doctor, tmp_path: Path,
                                                   kubecrypt: Callable[..., Any]) -> None:
    # Encryption at rest off (identity writes); the old keys stay only to read older values.
    lab.configure(write_config(tmp_path / "off.yaml", [
        (["secrets"], [{"identity": {}}, keyed("aescbc", "k2", KEY2_B64), keyed("aescbc", "k1")])]))
    plain = json.dumps({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "sealed-db", "namespace": "default"},
                        "data": {"pw": base64.b64encode(PLANTED[2].encode()).decode()}})
    # Sealed offline with the controller's certificate, as a GitOps user does.
    keys = lab.sealing_keys()
    cert = lab.dir.parent / "sealing.pem"
    cert.write_bytes(base64.b64decode(keys["items"][-1]["data"]["tls.crt"]))
    sealed = kubecrypt("seal", "--cert", str(cert), "-o", "yaml", input=plain.encode(),
                       env=lab.env())
    assert sealed.returncode == 0, sealed.stderr
    lab.kubectl("apply", "-f", "-", input=sealed.stdout.decode())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        p = subprocess.run(["kubectl", "get", "secret", "sealed-db"], env=lab.env(),
                           capture_output=True, timeout=30, check=False)
        if p.returncode == 0:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the controller did not unseal sealed-db")
    code, report, _ = doctor("--lab", str(lab.dir))
    got = findings(report, "sealed.etcd-unencrypted")
    assert [f["subject"] for f in got] == ["SealedSecret default/sealed-db"]
    assert got[0]["severity"] == "critical"
    assert "/registry/secrets/default/sealed-db" in got[0]["evidence"]
    assert code == 3


@pytest.fixture(scope="module")
def clean_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("doctor-clean") / "lab"
    lab_up.up(directory, encryption="secretbox", sealed_secrets=True)
    try:
        handle = Lab(directory)
        handle.secret("app")
        yield handle
    finally:
        lab_up.down(directory, purge=True)


def backup_keys(lab: Lab, directory: Path) -> Path:
    directory.mkdir()
    (directory / "backup.json").write_text(json.dumps(lab.sealing_keys()))
    return directory


def test_clean_lab_has_nothing_above_low(clean_lab: Lab, doctor: Doctor,
                                         tmp_path: Path) -> None:
    backup = backup_keys(clean_lab, tmp_path / "backup")
    code, report, _ = doctor("--lab", str(clean_lab.dir), "--sealed-keys-dir", str(backup))
    above = [f for f in report["findings"] if f["severity"] not in ("low", "info")]
    assert above == []
    assert code == 0
    for check in ("etcd.plaintext", "etcd.stale", "etcd.unreadable", "etcd.old-revisions",
                  "config.identity-first", "config.not-covered", "config.file-mode",
                  "sealed.key-age", "sealed.backup-stale"):
        assert status(report, check) == "pass", check
    code, _, _ = doctor("--lab", str(clean_lab.dir), "--sealed-keys-dir", str(backup),
                        "--fail-on", "medium")
    assert code == 0


def test_sealed_keys_not_backed_up_and_old(clean_lab: Lab, doctor: Doctor,
                                           tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _, report, _ = doctor("--lab", str(clean_lab.dir), "--sealed-keys-dir",
                          str(tmp_path / "empty"), "--key-renewal", "1ms")
    missing = findings(report, "sealed.backup-stale")
    assert len(missing) >= 1 and missing[0]["severity"] == "high"
    assert missing[0]["subject"].startswith("Secret kube-system/sealed-secrets-key")
    age = findings(report, "sealed.key-age")
    assert len(age) == 1 and age[0]["severity"] == "medium"


def test_every_format_keeps_values_out(clean_lab: Lab, kubecrypt: Callable[..., Any],
                                       tmp_path: Path) -> None:
    for fmt in ("table", "json", "sarif", "html"):
        out = tmp_path / f"report.{fmt}"
        p = kubecrypt("doctor", "--lab", str(clean_lab.dir), "-o", fmt, "--output", str(out))
        assert p.returncode == 0, p.stderr
        text = out.read_text()
        assert text.strip()
        assert_no_secrets(text)
        assert_no_secrets(p.stdout + p.stderr)
        # The lab's own key material never appears either.
        cfg = yaml_load(clean_lab.dir / "encryption-config.yaml")
        for rc in cfg["resources"]:
            for provider in rc["providers"]:
                for k in (next(iter(provider.values())) or {}).get("keys") or []:
                    assert k["secret"] not in text


def yaml_load(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text())


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    exe = next((e for e in ("chromium", "chromium-browser") if shutil.which(e)), None)
    assert exe, "Debian's chromium must be installed (.ci/run installs it)"
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                           *args], capture_output=True, text=True, timeout=120, check=False)


def test_html_report_renders_in_chromium(clean_lab: Lab, kubecrypt: Callable[..., Any],
                                         tmp_path: Path) -> None:
    clean_lab.secret("plain-one")
    page = tmp_path / "report.html"
    p = kubecrypt("doctor", "--lab", str(clean_lab.dir), "-o", "html", "--output", str(page),
                  "--objects-file", str(Path(__file__).parent / "data" / "readers.yaml"))
    assert p.returncode == 3, p.stderr  # the objects file holds a cluster-wide reader
    html = page.read_text()
    assert_no_secrets(html)
    # Self-contained: nothing to fetch (no script, stylesheet, image or font), and a CSP
    # that would block any fetch anyway.
    for fetch in ("<script", "<link", "<img", "src=", "href=", "url(", "@import"):
        assert fetch not in html, fetch
    assert "default-src 'none'" in html
    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr
    from html.parser import HTMLParser

    bars: list[dict[str, str]] = []
    rows: list[dict[str, str]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag == "rect" and "bar" in a.get("class", ""):
                bars.append(a)
            if tag == "tr" and "finding" in a.get("class", ""):
                rows.append(a)

    Collect().feed(dom.stdout)
    coverage = [b for b in bars if b["data-label"] == "secrets"]
    assert {b["data-series"] for b in coverage} == {"encrypted"}
    assert int(coverage[0]["data-value"]) >= 2  # app, plain-one and the controller's key
    keys = [b for b in bars if b["data-label"].startswith("secrets: secretbox key-")]
    assert keys and int(keys[0]["data-value"]) == int(coverage[0]["data-value"])
    severity = {b["data-label"]: int(b["data-value"]) for b in bars
                if b["data-series"] == "findings"}
    assert severity["high"] >= 1 and "critical" not in severity  # zero bars are not drawn
    assert {r["data-id"] for r in rows} >= {"rbac.secret-readers", "rbac.cluster-binding"}
    shot = tmp_path / "shot.png"
    p2 = chromium(f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri(),
                  profile=tmp_path / "profile2")
    assert p2.returncode == 0 and shot.stat().st_size > 10_000
