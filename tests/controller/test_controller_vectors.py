"""SealedSecrets made by upstream code (shared/vectors/sealed) open in the lab once their keys
are restored from the backup fixtures, with no controller restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from controller.controller_lab import ControllerProc, Env, secret_data, wait_for

from kubecrypt.sealed.crypto import b64decode_std


def _vectors(vectors_dir: Path, *ids: str) -> list[dict[str, Any]]:
    return [json.loads((vectors_dir / "sealed" / "vectors" / f"{i}.json").read_text())
            for i in ids]


def _ensure_ns(env: Env, ns: str) -> None:
    if env.get("namespace", "", ns) is None:
        env.kubectl("create", "namespace", ns)


@pytest.mark.slow
def test_upstream_vectors_unseal_after_key_restore(env: Env, lab_controller: ControllerProc,
                                                   vectors_dir: Path) -> None:
    fixtures = vectors_dir / "sealed" / "fixtures"
    # An item sealed by upstream for rsa4096-b, applied before that key is in the cluster.
    (big,) = _vectors(vectors_dir, "hyb-large")
    enc = big["encrypt"]
    early = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
             "metadata": {"name": enc["name"], "namespace": enc["namespace"]},
             "spec": {"encryptedData": {"blob": big["ciphertext_b64"]},
                      "template": {"metadata": {"name": enc["name"]}}}}
    env.apply(early)

    def early_status() -> Any:
        s = env.get("sealedsecret", enc["namespace"], enc["name"]) or {}
        return ((s.get("status") or {}).get("conditions") or [None])[0]

    c = wait_for(early_status, 30, "the early SealedSecret's status")
    assert (c["status"], c["message"]) == ("False", "no key could decrypt secret (blob)")
    env.kubectl("apply", "-f", str(fixtures / "backup-list.yaml"))  # rsa2048-a, rsa4096-a
    env.kubectl("apply", "-f", str(fixtures / "backup-single.json"))  # rsa4096-b
    # The restored key is picked up without a restart and what failed is tried again.
    got = wait_for(lambda: env.get("secret", enc["namespace"], enc["name"]), 30,
                   "the Secret once its key is restored")
    assert secret_data(got) == {"blob": b64decode_std(big["expect"]["plaintext_b64"])}
    ok = _vectors(vectors_dir, "unseal-backup-list", "unseal-template-data")
    for v in ok:
        ss = yaml.safe_load(v["input"])
        meta = ss["metadata"]
        _ensure_ns(env, meta["namespace"])
        env.apply(ss)
        expected = yaml.safe_load(v["output"])
        got = wait_for(lambda m=meta: env.get("secret", m["namespace"], m["name"]), 30,
                       f"the Secret of vector {v['id']}")
        assert secret_data(got) == {k: b64decode_std(x) for k, x in expected["data"].items()}
        assert got["metadata"].get("labels") == expected["metadata"].get("labels")
        assert got["metadata"]["ownerReferences"][0]["kind"] == "SealedSecret"
    # legacy spec.data (accepted by default, as upstream's --accept-deprecated-v1-data)
    (legacy,) = _vectors(vectors_dir, "legacy-v1-data")
    ss = yaml.safe_load(legacy["input"]) if isinstance(legacy["input"], str) else legacy["input"]
    _ensure_ns(env, ss["metadata"]["namespace"])
    env.apply(ss)
    got = wait_for(lambda: env.get("secret", ss["metadata"]["namespace"],
                                   ss["metadata"]["name"]), 30, "the legacy Secret")
    assert secret_data(got) == {k: b64decode_std(x)
                                for k, x in legacy["expect"]["secret_data"].items()}
    # errors exactly as upstream words them, in the status
    for v in _vectors(vectors_dir, "unseal-renamed", "unseal-bad-base64"):
        ss = yaml.safe_load(v["input"])
        meta = ss["metadata"]
        _ensure_ns(env, meta["namespace"])
        env.apply(ss)

        def cond(m: dict[str, Any] = meta) -> Any:
            s = env.get("sealedsecret", m["namespace"], m["name"]) or {}
            c = ((s.get("status") or {}).get("conditions") or [None])[0]
            # unseal-bad-base64 replaces unseal-template-data's apps/db: wait for its failure
            return c if c and c["status"] == "False" else None

        c = wait_for(cond, 30, f"the status of vector {v['id']}")
        expect = v["expect"]
        assert c["message"] == f"{expect['error_base']} ({', '.join(sorted(expect['error_items']))})"
