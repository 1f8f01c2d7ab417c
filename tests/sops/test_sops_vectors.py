"""Every decrypt check of the sops 3.11.0 fixtures, run through ``kubecrypt sops decrypt``:
same exit code, and for successes the exact bytes sops printed. Plus the analyses in
expected.json (data key, AAD, plaintext bytes, MAC) checked in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import Run, key_env

# Collection needs the list of cases before fixtures exist: the same place as the vectors_dir
# fixture (../shared beside the repository, or $KUBECRYPT_SHARED).
_REPO = Path(__file__).resolve().parents[2]
VECTORS = Path(os.environ.get("KUBECRYPT_SHARED", _REPO.parent / "shared")) / "vectors" / "sops"


def _cases() -> list[Path]:
    return sorted(p for p in VECTORS.iterdir() if (p / "case.json").is_file())


def _checks() -> list[tuple[str, int, dict[str, object]]]:
    out = []
    for case in _cases():
        cj = json.loads((case / "case.json").read_text())
        for i, chk in enumerate(cj["decrypt_checks"]):
            out.append((case.name, i, chk))
    return out


@pytest.mark.parametrize(("case", "n", "check"), _checks(),
                         ids=[f"{c}#{i}" for c, i, _ in _checks()])
def test_decrypt_check(case: str, n: int, check: dict[str, object], vectors_dir: Path,
                       kc: Run, sops_env: dict[str, str], tmp_path: Path) -> None:
    d = vectors_dir / "sops" / case
    ids = [d / str(i) for i in check["identities"]]  # type: ignore[attr-defined]
    env = key_env(sops_env, *ids, tmp=tmp_path)
    args = [str(a) for a in check["args"]]  # type: ignore[attr-defined]
    r = kc("decrypt", *args, str(check["input"]), env=env, cwd=d)
    assert r.returncode == check["exit_code"], r.stderr.decode()
    if check["exit_code"] == 0:
        want = ((d / str(check["stdout_file"])).read_bytes() if "stdout_file" in check
                else str(check["stdout"]).encode())
        assert r.stdout == want
    else:
        err = r.stderr.decode()
        assert err.startswith("error: ") and "Traceback" not in err
        assert r.stdout == b""


def _analyses() -> list[tuple[str, dict[str, object]]]:
    out = []
    for case in _cases():
        e = case / "expected.json"
        if e.is_file():
            for a in json.loads(e.read_text())["analyses"]:
                out.append((case.name, a))
    return out


@pytest.mark.parametrize(("case", "analysis"), _analyses(),
                         ids=[f"{c}:{a['file']}" for c, a in _analyses()])
def test_expected_analysis(case: str, analysis: dict[str, object], vectors_dir: Path,
                           in_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data key we recover, and the MAC we recompute, equal the independent analysis."""
    from kubecrypt.sops import ops
    from kubecrypt.sops.stores import format_for_path, store_for

    d = vectors_dir / "sops" / case
    keys = "".join(p.read_text() for p in sorted((d / "identities").glob("*.txt")))
    monkeypatch.setenv("SOPS_AGE_KEY", keys)
    f = d / str(analysis["file"])
    opened = ops.open_file(f.read_bytes(), store_for(format_for_path(f.name)))
    assert opened.data_key.hex() == analysis["data_key_hex"]
    assert opened.metadata.lastmodified == analysis["lastmodified"]
    assert opened.metadata.mac_only_encrypted == analysis["mac_only_encrypted"]
    from kubecrypt.sops.tree import compute_mac

    mac = compute_mac(opened.branches, opened.metadata.selection,
                      opened.metadata.mac_only_encrypted)
    assert mac == analysis["mac_recomputed"] == analysis["mac_plaintext"]


@pytest.mark.parametrize("case", [c.name for c in _cases()])
def test_case_has_known_shape(case: str, vectors_dir: Path) -> None:
    """Guards the table above: a case without checks would silently test nothing."""
    cj = json.loads((vectors_dir / "sops" / case / "case.json").read_text())
    assert cj["sops_version"] == "3.11.0" and cj["decrypt_checks"]
