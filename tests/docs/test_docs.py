"""The docs cannot lie: every shell block of README.md and docs/*.md runs here, in order, as a
reader pastes it, or says why it cannot (``<!-- doc-test: skip REASON -->``).

Each doc in :data:`RUN` gets an empty directory (also its ``HOME``) and a clean environment:
``PATH``, ``PYTHONPATH`` pointing at this checkout, and what :class:`Doc` adds. The doc starts
its own lab (``kubecrypt lab up --dir ./lab``, free ports) and stops it; whatever a block left in
the background is killed at the end. A block fails the test when it exits with a code its
``exit`` directive does not allow, or prints something whose shape differs from the output
block the doc shows after it (``<!-- doc-test: output -->``).

README.ko.md is README.md in Korean: its blocks must hold the same commands
(:func:`test_readme_ko_has_the_same_commands`), so running README.md runs them both."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docs.docrun import (
    RUNNABLE,
    Block,
    DocRun,
    allowed_exits,
    blocks,
    looks_like_shell,
    shape_mismatch,
    shell_blocks,
    steps,
)
from moto_kms import Moto, moto  # noqa: F401 - moto: the moto_server fixture, for docs/sops.md

ROOT = Path(__file__).resolve().parents[2]
DIRECTIVES = {"skip", "exit", "output"}


def _docs() -> list[Path]:
    return [ROOT / "README.md", ROOT / "README.ko.md", *sorted((ROOT / "docs").glob("*.md"))]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# What a service the reader already has adds to a doc's run: (environment, substitutions).
Fill = tuple[dict[str, str], dict[str, str]]


@dataclass
class Doc:
    """How a doc is run: what the reader's terminal has besides the doc's own commands (an
    ``EDITOR``), placeholders the doc asks the reader to fill, and checks on what it left.
    ``services`` gives what the doc says the reader must already have (AWS keys and
    credentials: here a local ``moto_server``), from the test's fixtures."""

    env: dict[str, str] = field(default_factory=dict)
    substitutions: dict[str, str] = field(default_factory=dict)
    after: Callable[[Path, dict[str, str]], None] | None = None
    timeout: float = 240
    services: Callable[[pytest.FixtureRequest, Path], Fill] | None = None


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _readme_after(work: Path, env: dict[str, str]) -> None:
    # What the README says is 0600 is 0600 (the issue found a key file that was 0644).
    for name in ("encryption-config.yaml", "keyring.json", "age.txt"):
        assert _mode(work / name) == 0o600, f"{name} is {oct(_mode(work / name))}"
    keys = sorted((work / "keys").glob("*.yaml"))
    assert len(keys) == 2, keys  # generated, then renewed by `rotate sealed`
    assert all(_mode(k) == 0o600 for k in keys) and _mode(work / "keys") == 0o700
    assert not (work / "lab").exists()  # the last block purged it


# An editor that changes one value, so `sops edit` has something to re-encrypt.
_EDITOR = "#!/bin/sh\nsed -i 's/^\\( *token: \\).*/\\1bjN3LXQwa2Vu/' \"$1\"\n"

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rotate_services(request: pytest.FixtureRequest, tmp: Path) -> Fill:
    # The doc starts its own OpenBao dev server on Vault's usual port; the test moves it to a
    # free one, since other tests run `bao server -dev` on this machine at the same time.
    return {}, {"127.0.0.1:8200": f"127.0.0.1:{_free_port()}"}


# The ARN the doc shows, as a reader would fill it in.
_FAST_KMS_STATUS = {"KUBECRYPT_KMS_STATUS_INTERVAL": "5"}  # as docs/rotate.md tells readers
SEED_ARN = "arn:aws:kms:region:account-id:key/key-id"


def _sops_services(request: pytest.FixtureRequest, tmp: Path) -> Fill:
    """AWS for the doc's KMS block: a local moto_server reached through the standard endpoint
    variables (which boto3 and sops' Go SDK both honour), three KMS keys, and the ``team``
    profile the doc names, in the reader's ``~/.aws``-like files."""
    server: Moto = request.getfixturevalue("moto")
    old, new, other = (server.create_key() for _ in range(3))
    aws = tmp / "aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion = us-east-1\n\n"
                                "[profile team]\nregion = us-east-1\n")
    (aws / "credentials").write_text("[default]\naws_access_key_id = test\n"
                                     "aws_secret_access_key = test\n\n[team]\n"
                                     "aws_access_key_id = team\naws_secret_access_key = team\n")
    env = server.env(AWS_CONFIG_FILE=str(aws / "config"),
                     AWS_SHARED_CREDENTIALS_FILE=str(aws / "credentials"),
                     ARN=other, OLD_ARN=old, NEW_ARN=new)
    return env, {SEED_ARN: old}


def _sops_after(work: Path, env: dict[str, str]) -> None:
    # `rotate --add-kms NEW --rm-kms OLD` left the file on the new KMS key alone.
    text = (work / "encrypted-secret.yaml").read_text()
    assert f"arn: {env['NEW_ARN']}" in text and env["OLD_ARN"] not in text, text


RUN: dict[str, Doc] = {
    "README.md": Doc(env={"EDITOR": "{tmp}/editor"}, after=_readme_after),
    "docs/controller.md": Doc(timeout=120),
    "docs/csi.md": Doc(timeout=120, substitutions={
        "deploy/csi-provider/": f"{ROOT}/deploy/csi-provider/"}),  # the reader is in a checkout
    "docs/doctor.md": Doc(timeout=120),
    "docs/kms.md": Doc(timeout=90),
    "docs/lab.md": Doc(timeout=120),
    # The lab's API server asks the KMS plugin for its key_id every 5 s rather than every 60 s.
    "docs/rotate.md": Doc(env=_FAST_KMS_STATUS, timeout=180, services=_rotate_services),
    "docs/sealed.md": Doc(timeout=120),
    "docs/seeds.md": Doc(env=_FAST_KMS_STATUS, timeout=120, substitutions={
        "deploy/csi-provider/": f"{ROOT}/deploy/csi-provider/"}),
    "docs/sops.md": Doc(env={"EDITOR": "{tmp}/editor"}, timeout=120, services=_sops_services,
                        after=_sops_after),
}

# Docs whose commands another doc's run covers.
COVERED_BY = {"README.ko.md": "README.md"}


def test_every_shell_block_runs_or_says_why_not() -> None:
    problems = []
    for doc in _docs():
        if not doc.exists():
            continue
        name = _rel(doc)
        for b in blocks(doc):
            if b.directive and b.directive not in DIRECTIVES:
                problems.append(f"{b.where}: unknown directive {b.directive!r}")
            if looks_like_shell(b):
                problems.append(f"{b.where}: commands fenced ```{b.lang}: fence them ```sh "
                                "so that they run (or mark the block skip, with the reason)")
            if b.lang not in RUNNABLE:
                continue
            if b.directive == "skip":
                if len(b.argument.split()) < 2:
                    problems.append(f"{b.where}: skip needs a reason")
            elif b.directive == "exit":
                try:
                    allowed_exits(b)
                except ValueError:
                    problems.append(f"{b.where}: exit takes codes, e.g. 0,3")
            elif b.directive == "output":
                problems.append(f"{b.where}: output marks the block a shell block prints")
            elif name not in RUN and name not in COVERED_BY:
                problems.append(f"{b.where}: {name} is not run by tests/docs/test_docs.py")
        try:
            steps(doc)
        except ValueError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_the_coverage_test_notices_a_new_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    """A block added to a doc nobody runs, a skip without a reason and ``console`` commands
    each fail it."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("```sh\necho run\n```\n")
    (tmp_path / "docs" / "new.md").write_text(
        "```sh\necho new\n```\n\n<!-- doc-test: skip -->\n```sh\nx\n```\n\n"
        "```console\n$ kubecrypt lab up\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError) as err:
        test_every_shell_block_runs_or_says_why_not()
    text = str(err.value)
    assert "new.md:1: docs/new.md is not run" in text
    assert "new.md:6: skip needs a reason" in text
    assert "new.md:10: commands fenced ```console" in text
    assert "README.md" not in text


def _commands(block: Block) -> list[str]:
    """The block's commands without comments, blank lines or alignment."""
    out = []
    for line in block.text.splitlines():
        code = _strip_comment(line).strip()
        if code:
            out.append(" ".join(code.split()))
    return out


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def test_readme_ko_has_the_same_commands() -> None:
    en = [(b, _commands(b)) for b in shell_blocks(ROOT / "README.md")]
    ko = [(b, _commands(b)) for b in shell_blocks(ROOT / "README.ko.md")]
    en_all = {c for _, cs in en for c in cs}
    ko_all = {c for _, cs in ko for c in cs}
    problems = [f"README.md:{b.line}: {c!r} is missing from README.ko.md"
                for b, cs in en for c in cs if c not in ko_all]
    problems += [f"README.ko.md:{b.line}: {c!r} is not in README.md"
                 for b, cs in ko for c in cs if c not in en_all]
    if not problems:  # same commands: then the same blocks, in the same order, same directives
        problems += [f"README.ko.md:{k.line}: block {i + 1} differs from README.md:{e.line}"
                     for i, ((e, ec), (k, kc)) in enumerate(zip(en, ko, strict=True))
                     if ec != kc or (e.directive, e.directive and e.directive != "skip"
                                     and e.argument) != (k.directive, k.directive and
                                                         k.directive != "skip" and k.argument)]
    assert not problems, "\n".join(problems)


def test_the_sync_test_notices_a_missing_command(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("```sh\nkubecrypt lab up --dir ./lab  # start\n"
                                        "kubecrypt lab down\n```\n")
    (tmp_path / "README.ko.md").write_text("```sh\nkubecrypt lab up   --dir ./lab  # 시작\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError, match=r"README.md:1: 'kubecrypt lab down' is missing"):
        test_readme_ko_has_the_same_commands()
    (tmp_path / "README.ko.md").write_text("```sh\nkubecrypt lab down\n"
                                           "kubecrypt lab up --dir ./lab\n```\n")
    with pytest.raises(AssertionError, match="block 1 differs"):
        test_readme_ko_has_the_same_commands()


# docs/seeds.md walks the two seed articles: part 1 steps 0-10, part 2 steps 1-10 (issue 20).
SEED_STEPS = {"Part 1": list(range(0, 11)), "Part 2": list(range(1, 11))}
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _seed_step_problems(path: Path) -> list[str]:
    """Each part holds its steps in order, each titled ``### N. English · 한국어``."""
    problems: list[str] = []
    steps_seen: dict[str, list[int]] = {}
    part = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("## "):
            part = next((p for p in SEED_STEPS if line[3:].startswith(p)), "")
            if part:
                steps_seen[part] = []
        elif line.startswith("### ") and part:
            m = re.fullmatch(r"### (\d+)\. (.+?) · (.+)", line)
            if not m:
                problems.append(f"{path.name}:{number}: a step title is '### N. English · 한국어'")
                continue
            steps_seen[part].append(int(m.group(1)))
            if _HANGUL.search(m.group(2)) or not _HANGUL.search(m.group(3)):
                problems.append(f"{path.name}:{number}: English first, then Korean after ' · '")
    for name, expected in SEED_STEPS.items():
        if steps_seen.get(name) != expected:
            problems.append(f"{path.name}: {name} has steps {steps_seen.get(name)}, "
                            f"expected {expected}")
    return problems


def test_seeds_walks_every_step_in_both_languages() -> None:
    assert _seed_step_problems(ROOT / "docs" / "seeds.md") == []


def test_the_seeds_check_notices_a_missing_step_or_language(tmp_path: Path) -> None:
    doc = tmp_path / "seeds.md"
    titles = ["## Part 1 · 1부"] + [f"### {i}. Step · 단계" for i in range(11)]
    titles += ["## Part 2 · 2부"] + [f"### {i}. Step · 단계" for i in range(1, 11)]
    doc.write_text("\n".join(titles) + "\n")
    assert _seed_step_problems(doc) == []
    doc.write_text("\n".join(t for t in titles if t != "### 4. Step · 단계")
                   .replace("### 7. Step · 단계", "### 7. Step · Step") + "\n")
    problems = _seed_step_problems(doc)
    assert any("English first, then Korean" in p for p in problems), problems
    assert any("Part 1 has steps [0, 1, 2, 3, 5" in p for p in problems), problems


def _environment(tmp: Path, doc: Doc) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT / "src"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }
    for key in ("PYENV_ROOT", "PYENV_VERSION"):  # the shims that find sops
        if key in os.environ:
            env[key] = os.environ[key]
    env.update({k: v.replace("{tmp}", str(tmp)) for k, v in doc.env.items()})
    return env


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUN))
def test_doc_runs(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    doc = RUN[name]
    env, substitutions = _environment(tmp_path, doc), dict(doc.substitutions)
    if doc.services is not None:
        more_env, more_subs = doc.services(request, tmp_path)
        env.update(more_env)
        substitutions.update(more_subs)
    editor = tmp_path / "editor"
    editor.write_text(_EDITOR)
    editor.chmod(0o755)
    work = tmp_path / "w"
    run = DocRun(work, {**env, "HOME": str(work)}, substitutions, timeout=doc.timeout)
    timings = []
    try:
        for block, shown in steps(ROOT / name):
            if block.directive == "skip":
                continue
            started = time.monotonic()
            result = run.run(block)
            timings.append(f"{block.where} {time.monotonic() - started:.1f}s")
            assert result.returncode in allowed_exits(block), (
                f"{block.where} exited {result.returncode}:\n{block.text}\n--- output\n"
                + result.output[-4000:])
            if shown is not None:
                mismatch = shape_mismatch(shown.text, result.output)
                assert mismatch is None, f"{shown.where}: {mismatch}\n--- output\n{result.output}"
        if doc.after is not None:
            doc.after(work, env)
    finally:
        run.close()
        left_up = _stop_labs(work, run.env)
        print("\n".join(timings))
    assert not left_up, f"{name} leaves its lab running in {left_up}: end it with `lab down`"


def _stop_labs(work: Path, env: dict[str, str]) -> list[str]:
    """Stops every lab the doc left up (``lab up`` detaches it) and names them."""
    up = []
    for state in work.rglob("lab.json"):
        argv = [sys.executable, "-m", "kubecrypt", "lab"]
        where = ["--dir", str(state.parent)]
        if subprocess.run([*argv, "status", *where], env=env, capture_output=True,
                          timeout=60).returncode == 0:
            up.append(str(state.parent.relative_to(work)))
        subprocess.run([*argv, "down", *where], env=env, capture_output=True, timeout=60)
    return up
