"""The click-free path for ``kubecrypt sops decrypt FILE`` / ``encrypt [--age R] [selection]
FILE``: same bytes, errors and exit codes as the click commands, never importing click, and
every other form (or a SOPS_* variable that feeds a click option) still goes to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from .conftest import AgeKey
from .sopsdiff import env_for, sops

_PROBE = (
    "import sys, os, contextlib\n"
    "from kubecrypt.cli import main\n"
    "out = sys.stdout\n"
    "sys.stdout = open(os.devnull, 'w')\n"
    "code = 0\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "out.write(f'{code} {\"click\" in sys.modules}')\n"
)


def _probe(args: list[str], env: dict[str, str]) -> tuple[int, bool, bytes]:
    r = subprocess.run([sys.executable, "-c", _PROBE, *args], env=env, capture_output=True,
                       timeout=60, check=False)
    code, clicked = r.stdout.decode().split()
    return int(code), clicked == "True", r.stderr


def _slow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """The same command forced through click (kubecrypt.cli.app)."""
    code = "import sys\nfrom kubecrypt.cli.app import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          timeout=60, check=False)


def _fast(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    code = "import sys\nfrom kubecrypt.cli import main\nmain(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          timeout=60, check=False)


@pytest.fixture
def files(tmp_path: Path, age_keys: dict[str, AgeKey]) -> tuple[Path, Path, dict[str, str]]:
    env = env_for(age_keys["k1"], str(tmp_path))
    plain = tmp_path / "s.yaml"
    plain.write_bytes(b"kind: Secret\nstringData:\n  a: b # c\n  n: 1\n")
    enc = tmp_path / "s.enc.yaml"
    enc.write_bytes(sops("encrypt", "--age", age_keys["k1"].recipient, str(plain),
                         env=env).stdout)
    return plain, enc, env


def test_decrypt_and_encrypt_skip_click(files: tuple[Path, Path, dict[str, str]],
                                        age_keys: dict[str, AgeKey]) -> None:
    plain, enc, env = files
    assert _probe(["sops", "decrypt", str(enc)], env)[:2] == (0, False)
    r = age_keys["k1"].recipient
    assert _probe(["sops", "encrypt", "--age", r, "--encrypted-regex", "^stringData$",
                   str(plain)], env)[:2] == (0, False)
    assert _probe(["sops", "encrypt", f"--age={r}", str(plain)], env)[:2] == (0, False)


def test_options_after_file_are_read_as_sops_reads_them(
        files: tuple[Path, Path, dict[str, str]], age_keys: dict[str, AgeKey]) -> None:
    # sops' CLI library moves a sub-command's flags in front of FILE (the fast path reads
    # them there too), but not in sops' older form, where they are extra positional
    # arguments: click warns and fails as sops does (test_sops_argv).
    plain, _, env = files
    r = age_keys["k1"].recipient
    assert _probe(["sops", "encrypt", str(plain), "--age", r], env)[:2] == (0, False)
    assert _probe(["sops", "encrypt", str(plain), "-a", r, "--encrypted-regex", "^kind$"],
                  env)[:2] == (0, False)
    for args in (["-e", str(plain), "--age", r], ["encrypt", str(plain), "--age", "-x"],
                 ["encrypt", "--age", r, str(plain), "--", "x"]):
        assert _probe(["sops", *args], env)[1] is True, args


@pytest.mark.parametrize("extra", [["--ignore-mac"], ["--output-type", "json"], ["--kms", "x"]])
def test_other_forms_go_to_click(files: tuple[Path, Path, dict[str, str]],
                                 extra: list[str]) -> None:
    _, enc, env = files
    assert _probe(["sops", "decrypt", *extra, str(enc)], env)[1] is True


def test_unknown_sops_variable_goes_to_click(files: tuple[Path, Path, dict[str, str]],
                                            age_keys: dict[str, AgeKey]) -> None:
    plain, _, env = files
    env = {**env, "SOPS_KMS_ARN": "arn:aws:kms:us-east-1:000000000000:key/x"}
    _, clicked, _ = _probe(["sops", "encrypt", "--age", age_keys["k1"].recipient, str(plain)],
                           env)
    assert clicked


@pytest.mark.parametrize("case", ["decrypt-ok", "decrypt-missing", "decrypt-nokey",
                                  "decrypt-plain", "encrypt-ok-stdout-shape", "encrypt-nokey",
                                  "encrypt-twice", "encrypt-bad-regex", "encrypt-two-rules"])
def test_fast_and_click_paths_agree(case: str, files: tuple[Path, Path, dict[str, str]],
                                    age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    plain, enc, env = files
    r = age_keys["k1"].recipient
    args = {
        "decrypt-ok": ["decrypt", str(enc)],
        "decrypt-missing": ["decrypt", str(tmp_path / "nope.yaml")],
        "decrypt-nokey": ["decrypt", str(enc)],
        "decrypt-plain": ["decrypt", str(plain)],
        "encrypt-ok-stdout-shape": ["encrypt", "--age", r, "--unencrypted-suffix", "n",
                                    str(plain)],
        "encrypt-nokey": ["encrypt", str(plain)],
        "encrypt-twice": ["encrypt", "--age", r, str(enc)],
        "encrypt-bad-regex": ["encrypt", "--age", r, "--encrypted-regex", "(", str(plain)],
        "encrypt-two-rules": ["encrypt", "-a", r, "--encrypted-regex", "a",
                              "--unencrypted-regex", "b", str(plain)],
    }[case]
    if case == "decrypt-nokey":
        env = {**env, "SOPS_AGE_KEY_FILE": str(tmp_path / "none.txt")}
    fast, slow = _fast(["sops", *args], env), _slow(["sops", *args], env)
    assert fast.returncode == slow.returncode, (fast.stderr, slow.stderr)
    assert b"Traceback" not in fast.stderr
    if case.startswith("encrypt-ok"):  # fresh data key and IVs: compare the shape
        assert fast.stdout.count(b"ENC[") == slow.stdout.count(b"ENC[") > 0
        assert fast.stderr == slow.stderr
    else:
        assert (fast.stdout, fast.stderr) == (slow.stdout, slow.stderr)


# ---------------------------------------------------------------- sops' older -d / -e spelling

def test_mode_flags_take_the_fast_path(files: tuple[Path, Path, dict[str, str]],
                                       age_keys: dict[str, AgeKey]) -> None:
    plain, enc, env = files
    r = age_keys["k1"].recipient
    for args in (["-d", str(enc)], ["--decrypt", str(enc)]):
        assert _probe(["sops", *args], env)[:2] == (0, False)
        fast, slow = _fast(["sops", *args], env), _slow(["sops", *args], env)
        assert (fast.returncode, fast.stdout, fast.stderr) == (
            slow.returncode, slow.stdout, slow.stderr)
    for args in (["-e", "--age", r, str(plain)], ["--encrypt", f"--age={r}", str(plain)]):
        assert _probe(["sops", *args], env)[:2] == (0, False)
        out = _fast(["sops", *args], env)
        assert out.returncode == 0 and out.stdout.count(b"ENC[") > 0


@pytest.mark.parametrize("args", [["-e", "-d", "F"], ["-d", "--", "F"], ["-e", "--age", "-d", "F"],
                                  ["-d", "--ignore-mac", "F"], ["-d", "decrypt", "F"]])
def test_other_mode_flag_forms_go_to_click(args: list[str],
                                           files: tuple[Path, Path, dict[str, str]]) -> None:
    _, enc, env = files
    args = [str(enc) if a == "F" else a for a in args]
    code, clicked, _ = _probe(["sops", *args], env)
    assert clicked
    slow = _slow(["sops", *args], env)
    assert code == slow.returncode


# ---------------------------------------------------------------- start-up budget
# What the fast path imports, not how long it takes (speed is measured in bench/sops.py only):
# each module below costs start-up time that a plain decrypt/encrypt does not need. The probe
# runs with ``python -S`` so no site hook can import one of them first and hide a regression.

HEAVY = (
    "click", "kubecrypt.cli.app", "kubecrypt.cli.sops", "kubecrypt.fileio",
    "dataclasses", "inspect", "ast", "dis", "tokenize",  # dataclasses -> inspect -> ...
    "pathlib", "urllib.parse", "ipaddress", "fnmatch",  # pathlib -> urllib.parse -> ...
    "json", "importlib.util", "decimal", "tempfile", "subprocess", "shlex", "textwrap",
    "hashlib", "logging", "argparse",
    "kubecrypt.sops.keysources.shamir", "kubecrypt.sops.keysources.pgp",
    "kubecrypt.sops.keysources.kms", "kubecrypt.sops.keysources.hc_vault",
    "kubecrypt.sops.keysources.gcp_kms", "kubecrypt.sops.keysources.azure_kv",
)

_IMPORTS_PROBE = (
    "import os, sys\n"
    "before = set(sys.modules)\n"
    "real_stdout = os.dup(1)\n"
    "os.dup2(os.open(os.devnull, os.O_WRONLY), 1)\n"
    "code = 0\n"
    "try:\n"
    "    from kubecrypt.cli import main\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "os.write(real_stdout, ' '.join([str(code), *sorted(set(sys.modules) - before)]).encode())\n"
)


def _imports(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, set[str]]:
    """(exit code, modules imported) of one command run in-process under ``python -S``."""
    import sysconfig

    import kubecrypt

    src = str(Path(kubecrypt.__file__).resolve().parent.parent)
    paths = sysconfig.get_paths()
    env = {**env, "PYTHONPATH": os.pathsep.join([src, paths["purelib"], paths["platlib"]])}
    r = subprocess.run([sys.executable, "-S", "-c", _IMPORTS_PROBE, *args], env=env, cwd=cwd,
                       capture_output=True, timeout=60, check=False)
    code, *mods = r.stdout.decode().split()
    return int(code), set(mods)


@pytest.mark.parametrize("config", [False, True], ids=["no-config", "sops-yaml"])
def test_fast_path_imports_nothing_heavy(config: bool, files: tuple[Path, Path, dict[str, str]],
                                         age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    plain, enc, env = files
    r = age_keys["k1"].recipient
    if config:  # a .sops.yaml in the working directory (read by both commands)
        (tmp_path / ".sops.yaml").write_text(
            f"creation_rules:\n  - path_regex: \\.yaml$\n    age: {r}\n"
            "    encrypted_regex: ^stringData$\nstores:\n  yaml:\n    indent: 4\n")
    commands = [["sops", "decrypt", str(enc)], ["sops", "-d", str(enc)],
                ["sops", "encrypt", *([] if config else ["--age", r]),
                 "--encrypted-regex", "^stringData$", str(plain)]]
    for args in commands:
        code, mods = _imports(args, env, tmp_path)
        assert code == 0, args
        assert "kubecrypt.cli.sops_fast" in mods  # the probe did run the command
        assert {"yaml", "pyrage", "kubecrypt.sops.stores.yaml"} <= mods
        assert sorted(m for m in HEAVY if m in mods) == [], args


# ---------------------------------------------------------------- how the process ends

def _console(args: list[str], env: dict[str, str], pre: str = "",
             stdout: int | IO[bytes] = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    """As the console script runs it: ``main()`` reads sys.argv and ends the process."""
    code = f"{pre}from kubecrypt.cli import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=60, check=False)


@pytest.mark.parametrize("case", ["ok", "missing", "nokey"])
def test_console_exit_keeps_output_and_code(case: str, files: tuple[Path, Path, dict[str, str]],
                                            tmp_path: Path) -> None:
    """The fast path ends without interpreter finalization: same bytes and exit code as click."""
    _, enc, env = files
    target = str(tmp_path / "nope.yaml") if case == "missing" else str(enc)
    if case == "nokey":
        env = {**env, "SOPS_AGE_KEY_FILE": str(tmp_path / "none.txt")}
    fast, slow = _console(["sops", "decrypt", target], env), _slow(["sops", "decrypt", target], env)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        slow.returncode, slow.stdout, slow.stderr)
    assert (fast.returncode == 0) == (case == "ok")


def test_console_exit_still_runs_atexit_handlers(files: tuple[Path, Path, dict[str, str]]) -> None:
    _, enc, env = files
    pre = "import atexit\natexit.register(lambda: print('handler ran'))\n"
    out = _console(["sops", "decrypt", str(enc)], env, pre)
    assert out.returncode == 0
    assert out.stdout.startswith(b"kind: Secret\n") and out.stdout.endswith(b"handler ran\n")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["decrypt"], ["-d"], ["decrypt", "--ignore-mac"]])
def test_full_stdout_is_one_sentence(args: list[str],
                                     files: tuple[Path, Path, dict[str, str]]) -> None:
    """sops: exit 1 and one line when stdout cannot be written; so do both of our paths."""
    _, enc, env = files
    with open("/dev/full", "wb") as full:
        out = _console(["sops", *args, str(enc)], env, stdout=full)
    assert out.returncode == 1
    assert out.stderr == (b"error: Could not write the output to standard output: "
                          b"No space left on device.\n")


def test_cyclic_gc_is_off_only_for_a_fast_path_process(
        files: tuple[Path, Path, dict[str, str]]) -> None:
    """The fast path turns the collector off for its own short process; a command it hands to
    click gets the collector back, and an in-process caller's collector is never touched."""
    _, enc, env = files
    pre = "import atexit, gc\natexit.register(lambda: print('gc', gc.isenabled()))\n"
    fast = _console(["sops", "decrypt", str(enc)], env, pre)
    assert fast.returncode == 0 and fast.stdout.endswith(b"gc False\n")
    clicked = _console(["sops", "decrypt", "--ignore-mac", str(enc)], env, pre)
    assert clicked.returncode == 0 and clicked.stdout.endswith(b"gc True\n")
    code = ("import gc, sys\nfrom kubecrypt.cli import main\ntry:\n    main(sys.argv[1:])\n"
            "except SystemExit:\n    print('gc', gc.isenabled())\n")
    lib = subprocess.run([sys.executable, "-c", code, "sops", "decrypt", str(enc)], env=env,
                         capture_output=True, timeout=60, check=False)
    assert lib.stdout.endswith(b"gc True\n")
