"""Every blob in a Git repository's history (all refs), read once, and where each one lived.

One ``git log --all --raw`` gives, for every commit, the blobs its diff against its first
parent brings in and takes out (merges included, through ``--diff-merges=first-parent``; with
``--no-renames`` a rename is a removal plus an addition, so both paths are seen). The blobs are
then read once each through one ``git cat-file --batch`` process. Nothing is checked out.

Where a blob lived is replayed from the diffs, parents before children: the blob is *first*
seen where a commit adds it, and *last* held by the newest commit whose tree still has it (the
parent of the commit that removes it, or a branch tip). The replay keeps only the paths the
caller cares about, so it costs little more than reading the log."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubecrypt.errors import InputError

NULL_OID = "0" * 40
BLOB_MODES = {"100644", "100755"}
MAX_BLOB = 4 * 1024 * 1024  # larger blobs are not manifests; skipped (and counted)


class GitError(InputError):
    """The repository cannot be read; one sentence."""


@dataclass
class Commit:
    sha: str
    time: int
    parents: list[str]
    # (path, blob removed or NULL_OID, blob added or NULL_OID); added blobs are regular files
    changes: list[tuple[str, str, str]] = field(default_factory=list)


def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], input=input,
                              capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed; install git to audit a repository") from None
    if proc.returncode != 0:
        first = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {first[0] if first else 'no output'}")
    return proc.stdout


def check_repo(repo: Path) -> None:
    if not repo.is_dir():
        raise GitError(f"{repo} is not a directory; pass a Git repository with --repo")
    try:
        _git(repo, "rev-parse", "--git-dir")
    except GitError:
        raise GitError(f"{repo} is not a Git repository; pass one with --repo") from None


def read_log(repo: Path) -> list[Commit]:
    """Every commit reachable from any ref, parents before children."""
    out = _git(repo, "log", "--all", "--topo-order", "--reverse", "--no-renames", "--raw",
               "--no-abbrev", "--diff-merges=first-parent", "--root", "-z",
               "--format=%x01%H %ct %P")
    commits: list[Commit] = []
    for record in out.split(b"\x01")[1:]:
        header, _, rest = record.partition(b"\0")
        sha, time, *parents = header.decode().split()
        commit = Commit(sha, int(time), parents)
        tokens = rest.lstrip(b"\n").split(b"\0")
        for i in range(0, len(tokens) - 1, 2):
            meta, path = tokens[i], tokens[i + 1]
            if not meta.startswith(b":"):
                continue
            old_mode, new_mode, old, new, _status = meta[1:].decode().split()
            if new_mode not in BLOB_MODES:
                new = NULL_OID  # symlinks, submodules: never a manifest
            if old_mode not in BLOB_MODES:
                old = NULL_OID
            commit.changes.append((path.decode("utf-8", "surrogateescape"), old, new))
        commits.append(commit)
    return commits


def blob_sizes(repo: Path, oids: list[str]) -> dict[str, int]:
    out = _git(repo, "cat-file", "--batch-check=%(objectname) %(objectsize)",
               input="".join(f"{o}\n" for o in oids).encode())
    sizes = {}
    for line in out.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def read_blobs(repo: Path, oids: list[str]) -> Iterator[tuple[str, bytes]]:
    """Each blob's content, through one ``git cat-file --batch`` (ids written by a thread so
    neither pipe fills up)."""
    proc = subprocess.Popen(["git", "-C", str(repo), "cat-file", "--batch"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def feed() -> None:
        try:
            for oid in oids:
                stdin.write(f"{oid}\n".encode())
        except BrokenPipeError:
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for _ in oids:
            header = stdout.readline().split()
            if len(header) < 3:
                if len(header) == 2 and header[1] == b"missing":
                    continue
                raise GitError(f"git cat-file stopped in {repo}; is the repository complete?")
            size = int(header[2])
            data = stdout.read(size)
            stdout.read(1)
            yield header[0].decode(), data
    finally:
        stdout.close()
        proc.wait()
        writer.join()


@dataclass
class Where:
    """Where one blob lived: the commits that added it (and at which paths), and the newest
    commits that held it."""

    added: list[tuple[int, str, str]] = field(default_factory=list)  # (order, sha, path)
    held: list[int] = field(default_factory=list)  # orders of commits whose tree had it


def replay(commits: list[Commit], wanted: set[str],
           tick: Callable[[], None] | None = None) -> dict[str, Where]:
    """For every blob in ``wanted``: where it was added and the last commits that held it.

    ``order`` is the commit's index in ``commits`` (parents first), so ties in commit time
    still sort as history runs."""
    index = {c.sha: i for i, c in enumerate(commits)}
    heirs: dict[str, int] = {}  # children continuing a commit's tree as their first parent
    for c in commits:
        if c.parents and c.parents[0] in index:
            heirs[c.parents[0]] = heirs.get(c.parents[0], 0) + 1
    where: dict[str, Where] = {}
    trees: dict[str, dict[str, str]] = {}  # path -> wanted blob, per commit still needed
    left: dict[str, int] = {}

    def held(tree: Iterable[str], order: int) -> None:
        for blob in tree:
            where[blob].held.append(order)

    for order, c in enumerate(commits):
        parent = c.parents[0] if c.parents and c.parents[0] in trees else None
        tree: dict[str, str]
        if parent is None:
            tree = {}
        else:
            left[parent] -= 1
            if left[parent] == 0:
                tree = trees.pop(parent)  # the only heir takes the tree over: no copy
                del left[parent]
            else:
                tree = dict(trees[parent])
        parent_order = index[parent] if parent is not None else order
        for path, _old, new in c.changes:
            gone = tree.pop(path, None)
            if gone is not None:
                where[gone].held.append(parent_order)
            if new in wanted:
                tree[path] = new
                where.setdefault(new, Where()).added.append((order, c.sha, path))
        if heirs.get(c.sha):
            trees[c.sha], left[c.sha] = tree, heirs[c.sha]
        else:
            held(tree.values(), order)  # a tip, or continued only as a second parent
        if tick:
            tick()
    return where


__all__ = [
    "MAX_BLOB",
    "NULL_OID",
    "Commit",
    "GitError",
    "Where",
    "blob_sizes",
    "check_repo",
    "read_blobs",
    "read_log",
    "replay",
]
