"""Issue 13 items 12 and 13 through the real CLI: realistic typos in a Secret or SealedSecret are
one sentence naming the field (never a traceback, never a silent drop), and
``--recovery-private-key`` takes several files (repeated flag, comma list, shell glob)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kubecrypt.sealed.keys import sealing_public_key
from kubecrypt.sealed.seal import SealOptions, seal_secret

SECRET: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": "s", "namespace": "n"},
                          "data": {"k": base64.b64encode(b"v").decode()}}


def _fails(result: Any, *needles: str) -> str:
    err = result.stderr.decode()
    assert result.returncode != 0, err
    assert result.stdout == b""
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


SECRET_TYPOS = {
    "data-string": ("data: oops", "data of document 1 of input"),
    "labels-string": ("metadata: {name: s, labels: x}\ndata: {k: dg==}",
                      "metadata.labels of document 1 of input"),
    "annotations-list": ("metadata: {name: s, annotations: [a]}\ndata: {k: dg==}",
                         "metadata.annotations of document 1 of input"),
    "data-number": ("data: {k: 5}", "data['k'] of document 1 of input"),
    "stringdata-number": ("stringData: {k: 5}", "stringData['k'] of document 1 of input"),
    "metadata-list": ("metadata: [a]\ndata: {k: dg==}", "metadata of document 1 of input"),
    "name-list": ("metadata: {name: [a]}\ndata: {k: dg==}", "metadata.name of document 1"),
    "type-list": ("metadata: {name: s}\ntype: [1]\ndata: {k: dg==}", "type of document 1"),
}


@pytest.mark.parametrize("body,needle", list(SECRET_TYPOS.values()), ids=list(SECRET_TYPOS))
def test_seal_typo_names_the_field(run_kubecrypt, sealed_dir: Path, body: str,
                                   needle: str) -> None:
    cert = str(sealed_dir / "keys" / "rsa2048-a.crt.pem")
    doc = f"apiVersion: v1\nkind: Secret\n{body}\n".encode()
    _fails(run_kubecrypt("seal", "--cert", cert, input=doc), needle)


def _sealed(sealed_dir: Path) -> dict[str, Any]:
    cert = (sealed_dir / "keys" / "rsa2048-a.crt.pem").read_bytes()
    return seal_secret(json.loads(json.dumps(SECRET)), sealing_public_key(cert), SealOptions())


def _template_7(ss: dict[str, Any]) -> None:
    ss["spec"]["template"] = 7


def _encrypted_number(ss: dict[str, Any]) -> None:
    ss["spec"]["encryptedData"]["other"] = 5


def _labels_x(ss: dict[str, Any]) -> None:
    ss["spec"]["template"]["metadata"]["labels"] = "x"


def _template_data_list(ss: dict[str, Any]) -> None:
    ss["spec"]["template"]["data"] = ["a"]


def _spec_string(ss: dict[str, Any]) -> None:
    ss["spec"] = "oops"


SEALED_TYPOS = {
    "template-7": (_template_7, "spec.template of document 1 of input"),
    "encryptedData-number": (_encrypted_number, "spec.encryptedData['other'] of document 1"),
    "template-labels-x": (_labels_x, "spec.template.metadata.labels of document 1"),
    "template-data-list": (_template_data_list, "spec.template.data of document 1"),
    "spec-string": (_spec_string, "spec of document 1 of input"),
}


@pytest.mark.parametrize("mutate,needle", list(SEALED_TYPOS.values()), ids=list(SEALED_TYPOS))
def test_recovery_unseal_typo_names_the_field(run_kubecrypt, sealed_dir: Path, mutate: Any,
                                              needle: str) -> None:
    ss = _sealed(sealed_dir)
    mutate(ss)
    key = str(sealed_dir / "keys" / "rsa2048-a.key.pem")
    _fails(run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key", key,
                         input=json.dumps(ss).encode()), needle)


def test_recovery_unseal_untouched_object_still_opens(run_kubecrypt, sealed_dir: Path) -> None:
    key = str(sealed_dir / "keys" / "rsa2048-a.key.pem")
    r = run_kubecrypt("seal", "--recovery-unseal", "--recovery-private-key", key,
                      input=json.dumps(_sealed(sealed_dir)).encode())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"] == SECRET["data"]


@pytest.mark.parametrize("style", ["glob", "repeated", "comma"])
def test_recovery_private_key_takes_several_files(run_kubecrypt, sealed_dir: Path,
                                                  style: str) -> None:
    # The right key is the second of two: every file must be read.
    keys = [str(sealed_dir / "keys" / f"rsa2048-{k}.key.pem") for k in ("b", "a")]
    args = {"glob": ["--recovery-private-key", *keys],
            "repeated": ["--recovery-private-key", keys[0], "--recovery-private-key", keys[1]],
            "comma": ["--recovery-private-key", ",".join(keys)]}[style]
    r = run_kubecrypt("seal", "--recovery-unseal", *args,
                      input=json.dumps(_sealed(sealed_dir)).encode())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"] == SECRET["data"]


def test_extra_arguments_without_recovery_keys_are_refused(run_kubecrypt,
                                                           sealed_dir: Path) -> None:
    cert = str(sealed_dir / "keys" / "rsa2048-a.crt.pem")
    r = run_kubecrypt("seal", "--cert", cert, "stray.yaml", input=b"")
    assert r.returncode == 2 and b"unexpected extra arguments (stray.yaml)" in r.stderr
