"""Step 3, ``kubectl get secrets -A -o json | kubectl replace -f -`` done safely: every object is
read and PUT back unchanged through the API server, which re-encrypts it with the key that now
writes (an unchanged object is only written when its stored value is stale, so this is cheap for
current values). A 409 means someone wrote the object meanwhile: it is read again and PUT again,
so no concurrent update is ever overwritten with an older copy; a 404 means it was deleted."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubecrypt.kube.dynamic import Api, ApiResource
from kubecrypt.kube.errors import KubeApiError
from kubecrypt.rotate.errors import RotateError

MAX_ATTEMPTS = 10
WORKERS = 4


@dataclass
class RewriteCount:
    listed: int = 0
    updated: int = 0
    conflicts: int = 0
    vanished: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self, resource: str) -> str:
        text = f"{resource}: rewrote {self.updated} of {self.listed}"
        if self.conflicts:
            text += f" ({self.conflicts} conflicts with concurrent writers retried)"
        if self.vanished:
            text += f", {self.vanished} deleted meanwhile"
        return text


def _one(api: Api, r: ApiResource, obj: dict[str, Any]) -> tuple[str, int, str]:
    """(outcome, conflicts, error): outcome is ``updated``, ``vanished`` or ``error``."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace"), str(meta.get("name"))
    conflicts = 0
    for _ in range(MAX_ATTEMPTS):
        try:
            status = api.update(r, obj)
            if status in (200, 201):
                return "updated", conflicts, ""
            if status == 404:
                return "vanished", conflicts, ""
            conflicts += 1
            fresh = api.get(r, ns, name)
        except KubeApiError as exc:
            return "error", conflicts, f"{ns}/{name}: {exc}"
        if fresh is None:
            return "vanished", conflicts, ""
        obj = fresh
    return "error", conflicts, f"{ns}/{name}: kept changing during {MAX_ATTEMPTS} attempts"


def _tally(count: RewriteCount, outcome: tuple[str, int, str]) -> None:
    kind, conflicts, error = outcome
    count.conflicts += conflicts
    if kind == "updated":
        count.updated += 1
    elif kind == "vanished":
        count.vanished += 1
    else:
        count.errors.append(error)


def rewrite(
    api: Api,
    resources: Sequence[str],
    *,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, RewriteCount]:
    counts: dict[str, RewriteCount] = {}
    for name in resources:
        r = api.resource(name)
        count = counts[name] = RewriteCount()
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = []
            for obj in api.list(r):
                count.listed += 1
                futures.append(pool.submit(_one, api, r, obj))
                if progress is not None and count.listed % 100 == 0:
                    progress(name, count.listed)
            for f in futures:
                _tally(count, f.result())
        if progress is not None:
            progress(name, count.listed)
        if count.errors:
            raise RotateError(
                f"{len(count.errors)} {name} could not be rewritten through the API, e.g. "
                f"{count.errors[0]}; fix that and run again (the rotation resumes at the rewrite)"
            )
    return counts
