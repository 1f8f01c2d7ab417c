"""Fixtures shared by every area's tests.

Vectors are read from ``../shared/vectors`` beside the repository (never copied in), real
components are started on 127.0.0.1 with free ports, and the CLI is run through the installed
``kubecrypt`` entry point, as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings
from shared_paths import VECTORS

from kubecrypt.lab import processes

# The suite draws the same property-test examples on every run, so a red run means a change broke
# something, not that a new random draw found an old gap. KUBECRYPT_HYPOTHESIS=explore draws new
# examples each run (the differential runs against the real sops use it to hunt for new shapes).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(
    "explore" if os.environ.get("KUBECRYPT_HYPOTHESIS") == "explore" else "repeatable"
)


def pytest_configure(config: pytest.Config) -> None:
    if not VECTORS.is_dir():
        raise pytest.UsageError(f"test vectors not found at {VECTORS}; clone beside ../shared")


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return VECTORS


@pytest.fixture
def free_port() -> Callable[[], int]:
    """Call it for each port you need: ``port = free_port()``."""
    return processes.free_port


def _kubecrypt_argv() -> list[str]:
    exe = shutil.which("kubecrypt")
    return [exe] if exe else [sys.executable, "-m", "kubecrypt"]


@pytest.fixture
def kubecrypt() -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Runs the real ``kubecrypt`` command: ``kubecrypt("atrest", "validate", f, input=b"...")``.

    Returns the CompletedProcess with bytes stdout/stderr; never raises on a non-zero exit."""

    def run(
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        return subprocess.run(
            [*_kubecrypt_argv(), *args],
            input=input,
            capture_output=True,
            env=full_env,
            cwd=cwd,
            timeout=timeout,
            check=False,
        )

    return run
