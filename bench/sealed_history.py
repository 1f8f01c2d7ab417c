"""``kubecrypt sealed history-audit`` over a generated repository: N commits (default 10,000)
on two branches, M SealedSecrets (default 1,000, two items each) added along the way, every
commit also changing a noise file; a tenth of the SealedSecrets re-sealed later, a tenth
deleted. Built with ``git fast-import`` (seconds), then audited with the key that sealed them.

    python3 bench/sealed_history.py [--commits 10000] [--sealed 1000] [--bits 2048]

Compared with two baselines over the same repository: ``git log -p --all`` (reading every
diff once, what any history scan costs at least) and decrypting the M SealedSecrets' items
directly (the RSA work no audit can avoid)."""

from __future__ import annotations

import argparse
import base64
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from kubecrypt.history.audit import audit
from kubecrypt.sealed.keys import SealingKey, generate_key
from kubecrypt.sealed.seal import SealOptions, seal_secret
from kubecrypt.sealed.unseal import decrypt_items


def _sealed_yaml(key: SealingKey, i: int, version: int) -> bytes:
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": f"app-{i}", "namespace": f"team-{i % 20}"},
              "data": {"password": base64.b64encode(secrets.token_bytes(16)).decode(),
                       "user": base64.b64encode(f"user-{i}-{version}".encode()).decode()}}
    doc = seal_secret(secret, key.private_key.public_key(), SealOptions())
    return yaml.safe_dump(doc).encode()


def build(repo: Path, key: SealingKey, commits: int, sealed: int) -> list[bytes]:
    """The repository, and every SealedSecret blob ever committed (for the direct baseline)."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    every = max(1, commits // sealed)
    stream: list[bytes] = []
    blobs: list[bytes] = []
    added = 0
    side = False
    main_mark = 0
    for n in range(commits):
        branch = "refs/heads/side" if n % 7 == 3 and n > 7 else "refs/heads/main"
        ops: list[bytes] = []
        noise = f"commit {n}\n".encode()
        ops.append(b"M 100644 inline notes/n%d.txt\ndata %d\n%s\n" % (n % 50, len(noise), noise))
        if n % every == 0 and added < sealed:
            body = _sealed_yaml(key, added, 0)
            blobs.append(body)
            ops.append(b"M 100644 inline apps/app-%d.yaml\ndata %d\n%s\n" % (added, len(body),
                                                                              body))
            added += 1
        if n % 97 == 50 and added > 10:  # re-seal an older one: a new ciphertext
            i = (n * 31) % added
            body = _sealed_yaml(key, i, 1)
            blobs.append(body)
            ops.append(b"M 100644 inline apps/app-%d.yaml\ndata %d\n%s\n" % (i, len(body), body))
        if n % 101 == 60 and added > 10:
            ops.append(b"D apps/app-%d.yaml\n" % ((n * 17) % added))
        mark = n + 1
        msg = f"c{n}".encode()
        head = b"commit %s\nmark :%d\ncommitter b <b@b> %d +0000\ndata %d\n%s\n" % (
            branch.encode(), mark, 1700000000 + n, len(msg), msg)
        if branch == "refs/heads/side" and not side:
            head += b"from :%d\n" % main_mark  # the side branch forks off main
            side = True
        if branch == "refs/heads/main":
            main_mark = mark
        stream.append(head + b"".join(ops) + b"\n")
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream),
                   check=True)
    return blobs


def timed(label: str, fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    took = time.perf_counter() - start
    print(f"{label:52} {took:8.2f} s")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=10_000)
    parser.add_argument("--sealed", type=int, default=1_000)
    parser.add_argument("--bits", type=int, default=2048)
    args = parser.parse_args()
    key = SealingKey(*generate_key(args.bits))
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        blobs: list[bytes] = []
        timed(f"build ({args.commits} commits, git fast-import)",
              lambda: blobs.extend(build(repo, key, args.commits, args.sealed)))
        count = subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"],
                               capture_output=True, text=True, check=True).stdout.strip()
        print(f"{'commits in repository':52} {count:>8}")
        print(f"{'SealedSecret blobs (objects x versions)':52} {len(blobs):>8}")
        timed("baseline: git log -p --all > /dev/null", lambda: subprocess.run(
            ["git", "-C", str(repo), "log", "-p", "--all"], stdout=subprocess.DEVNULL,
            check=True))
        docs = [yaml.safe_load(b) for b in blobs]
        timed(f"baseline: decrypt every item directly ({2 * len(docs)} RSA-{args.bits})",
              lambda: [decrypt_items(d, [key.private_key]) for d in docs])
        result = []
        took = timed("history-audit (walk, read each blob once, decrypt)",
                     lambda: result.append(audit(repo, [(key.fingerprint, key.private_key)],
                                                 secrets.token_bytes(32))))
        r = result[0]
        print(f"{'exposed items found':52} {len(r.exposed):>8}")
        print(f"{'blobs read':52} {r.blobs:>8}")
        print(f"{'commits per second':52} {int(r.commits / took):>8}")


if __name__ == "__main__":
    main()
