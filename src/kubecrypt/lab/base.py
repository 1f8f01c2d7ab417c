"""What every part of the lab shares: its error type and the environment its child processes run
kubecrypt with. Its own module so that ``up`` and the parts it starts import it, not each other."""

from __future__ import annotations

import os
from pathlib import Path

import kubecrypt
from kubecrypt.errors import KubecryptError


class LabError(KubecryptError):
    pass


def kubecrypt_env() -> dict[str, str]:
    # Run the same kubecrypt as this process, also from a source checkout (PYTHONPATH=src).
    env = dict(os.environ)
    src = str(Path(kubecrypt.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env
