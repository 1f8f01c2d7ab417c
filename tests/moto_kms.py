"""A real ``moto_server`` (AWS KMS and STS API) on 127.0.0.1 for the AWS tests.

Every client in the tests (boto3, the real sops, ``kubecrypt``) reaches it through the
standard variables ``AWS_ENDPOINT_URL_KMS`` / ``AWS_ENDPOINT_URL_STS`` with dummy credentials,
exactly as they would reach AWS."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.lab.processes import free_port

AWS_VARS = ("AWS_", "BOTO_")


@dataclass
class Moto:
    url: str
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        """AWS variables that point every AWS client at this server (and nowhere else)."""
        return {
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_KMS": self.url,
            "AWS_ENDPOINT_URL_STS": self.url, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "credentials"), **extra,
        }

    def client(self, service: str = "kms") -> Any:
        import boto3

        return boto3.client(service, region_name="us-east-1", endpoint_url=self.url,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def create_key(self) -> str:
        return str(self.client().create_key()["KeyMetadata"]["Arn"])


def clean_env(base: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in base.items() if not k.startswith(AWS_VARS)}


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    exe = shutil.which("moto_server")
    assert exe, "moto_server (pip install 'moto[server]') must be on PATH"
    home = tmp_path_factory.mktemp("aws")
    port = free_port()
    log = (home / "moto.log").open("wb")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                break
        except OSError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start: "
                                   + (home / "moto.log").read_text(errors="replace")[-500:]) from exc
            time.sleep(0.1)
    try:
        yield Moto(url, home)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
