"""An unsealing worker process: JSON lines on stdin (``keys`` then ``unseal`` jobs), results as
JSON lines on stdout. Started by :class:`~kubecrypt.controller.unsealer.Unsealer`; no
threads in the controller, so its event loop never waits for the GIL behind a pool's thread."""

from __future__ import annotations

import json
import sys
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.sealed.errors import TemplateFailed, UnsealError
from kubecrypt.sealed.keys import load_private_key
from kubecrypt.sealed.unseal import unseal


def unseal_with(sealed_secret: dict[str, Any], keys: list[rsa.RSAPrivateKey],
                accept_v1: bool) -> tuple[bool, Any]:
    """(True, the Secret) or (False, {"message", "permanent"}): a permanent failure (a template
    that fails or exceeds its bounds) is reported once, not retried."""
    try:
        return True, unseal(sealed_secret, keys, accept_deprecated_v1_data=accept_v1)
    except UnsealError as exc:
        return False, {"message": str(exc), "permanent": isinstance(exc, TemplateFailed)}
    except Exception as exc:  # a malformed object: its error is the status message
        return False, {"message": f"{type(exc).__name__}: {exc}", "permanent": False}


def main() -> None:
    keys: list[rsa.RSAPrivateKey] = []
    accept_v1 = True
    out = sys.stdout
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["op"] == "keys":
            keys = [load_private_key(p.encode("ascii"), "the controller's keys")
                    for p in msg["pems"]]
            accept_v1 = bool(msg["accept_v1"])
            continue
        ok, result = unseal_with(msg["obj"], keys, accept_v1)
        out.write(json.dumps({"id": msg["id"], "ok": ok, "result": result}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
