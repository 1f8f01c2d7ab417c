"""``kubecrypt rotate sops --dir DIR``: every SOPS file under a directory that a ``.sops.yaml``
creation rule matches gets a new data key (``sops rotate``) and the recipients its rule names
now (``sops updatekeys``), in that order, so the identity that opened the file before is enough.
Files are rewritten atomically one by one; one that fails is reported and the others go on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kubecrypt.errors import KubecryptError
from kubecrypt.sops import ops
from kubecrypt.sops.errors import MetadataNotFound, SopsError
from kubecrypt.sops.rules import Config, find_config, rule_for
from kubecrypt.sops.stores import format_for_path, store_for

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules"}
UPDATED, ROTATED, SKIPPED, FAILED = "updated", "rotated", "skipped", "failed"


class SopsDirError(KubecryptError):
    """Some files could not be rotated (after the others were)."""


@dataclass
class FileResult:
    path: Path
    outcome: str
    detail: str = ""
    changes: list[str] = field(default_factory=list)


@dataclass
class DirReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def summary(self) -> str:
        done = self.count(UPDATED) + self.count(ROTATED)
        return (f"{done} files rotated ({self.count(UPDATED)} of them with new recipients), "
                f"{self.count(SKIPPED)} skipped, {self.count(FAILED)} failed")


def _files(directory: Path, config: Config) -> list[Path]:
    out = []
    for p in sorted(directory.rglob("*")):
        rel = p.relative_to(directory).parts
        if any(part in SKIP_DIRS for part in rel) or p.is_symlink() or not p.is_file():
            continue
        if p.resolve() == config.path:
            continue
        out.append(p)
    return out


def rotate_dir(directory: Path, config_path: str | None = None, *, updatekeys: bool = True,
               rotate: bool = True, dry_run: bool = False) -> DirReport:
    if not directory.is_dir():
        raise SopsError(f"{directory} is not a directory; pass the working tree with --dir")
    config = find_config(config_path, start=directory)
    if config is None:
        raise SopsError(f"no .sops.yaml found in {directory} or above; pass --config")
    report = DirReport()
    for path in _files(directory, config):
        report.results.append(_one(path, config, updatekeys, rotate, dry_run))
    return report


def _one(path: Path, config: Config, updatekeys: bool, rotate: bool, dry_run: bool) -> FileResult:
    try:
        rule = rule_for(config, str(path.resolve()))
    except SopsError:
        return FileResult(path, SKIPPED, "no creation rule matches")
    fmt = format_for_path(path.name)
    store = store_for(fmt, config.store_indent(fmt) if fmt in ("yaml", "json") else None)
    data = path.read_bytes()
    try:
        store.load_encrypted(data)
    except MetadataNotFound:
        return FileResult(path, SKIPPED, "not a SOPS file")
    except KubecryptError as exc:
        return FileResult(path, SKIPPED, f"not a SOPS file ({exc})")
    try:
        new = ops.rotate(data, store) if rotate else data
        changes: list[str] = []
        if updatekeys:
            new, changes = ops.updatekeys(new, store, rule.key_groups)
    except KubecryptError as exc:
        return FileResult(path, FAILED, str(exc))
    if not dry_run and new != data:
        ops.atomic_write(path, new)
    return FileResult(path, UPDATED if changes else ROTATED, "", changes)
