"""The at-rest rotation's state file: which entries rotate from which key to which, and the last
step that completed. It holds key *names* only, never key material (the new key lives in the
configuration from step 1 on), and is written atomically, 0600, after every step."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubecrypt import safeparse
from kubecrypt.errors import InputError
from kubecrypt.fileio import atomic_write
from kubecrypt.rotate.configedit import EntryPlan
from kubecrypt.rotate.errors import StateError

KIND = "kubecrypt.rotate.atrest"
VERSION = 1


def default_path(config: Path) -> Path:
    return config.with_name(config.name + ".rotate-state.json")


@dataclass
class RotationState:
    path: Path
    config: Path
    entries: list[EntryPlan]
    completed: int = 0
    """The last step done (0: planned, 1 added, 2 promoted, 3 rewritten, 4 proven, 5 retired)."""
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": KIND, "version": VERSION, "config": str(self.config),
                "completed": self.completed, "entries": [e.to_json() for e in self.entries],
                "history": self.history}

    def record(self, step: int, **facts: Any) -> None:
        self.completed = step
        self.history.append({"step": step, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             **facts})
        self.save()

    def save(self) -> None:
        atomic_write(self.path, (json.dumps(self.to_json(), indent=2) + "\n").encode(), 0o600)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, config: Path) -> RotationState:
        try:
            doc = safeparse.load_json(path.read_bytes(), "the file")
        except FileNotFoundError:
            raise StateError(f"state file {path} not found; run without --resume to start a "
                             "rotation") from None
        except (OSError, InputError) as exc:
            raise StateError(f"state file {path} is unreadable ({exc}); restore it or remove it "
                             "and check the configuration by hand") from None
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            raise StateError(f"{path} is not a kubecrypt at-rest rotation state file; pass the "
                             "right --state")
        if doc.get("version") != VERSION:
            raise StateError(f"state file {path} has version {doc.get('version')}, this kubecrypt "
                             f"reads version {VERSION}; finish the rotation with the kubecrypt that "
                             "started it")
        if Path(str(doc.get("config"))) != config:
            raise StateError(f"state file {path} belongs to a rotation of {doc.get('config')}, "
                             f"not of {config}; pass that --config or another --state")
        try:
            entries = [EntryPlan.from_json(e) for e in doc["entries"]]
            completed = int(doc["completed"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"state file {path} is incomplete ({exc}); restore it") from None
        return cls(path, config, entries, completed, list(doc.get("history") or []))
