"""The ``doctor`` fixture: run ``kubecrypt doctor -o json`` as a user does."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from doctor_support import assert_no_secrets


@pytest.fixture
def doctor(kubecrypt: Callable[..., subprocess.CompletedProcess[bytes]]
           ) -> Callable[..., tuple[int, dict[str, Any], str]]:
    """``doctor(*args)`` -> (exit code, the JSON report, stderr); asserts no secret leaked."""

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
        p = kubecrypt("doctor", "-o", "json", *args, env=env, timeout=300)
        assert_no_secrets(p.stdout)
        assert_no_secrets(p.stderr)
        assert b"Traceback" not in p.stderr, p.stderr.decode()
        return p.returncode, json.loads(p.stdout), p.stderr.decode()

    return run
