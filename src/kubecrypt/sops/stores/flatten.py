"""Flattening of the metadata for the line-based stores (sops stores/flatten.go): a nested
mapping key becomes ``__map_<key>``, a list element ``__list_<i>``; nulls are dropped."""

from __future__ import annotations

import re

from kubecrypt.sops.tree import Branch

_SPLIT = re.compile(r"(__map_|__list_)")


def _text(v: object) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def flatten(b: Branch) -> dict[str, str]:
    out: dict[str, str] = {}

    def go(v: object, prefix: str) -> None:
        if v is None:
            return
        if isinstance(v, Branch):
            for k, x in v:
                go(x, f"{prefix}__map_{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                go(x, f"{prefix}__list_{i}")
        else:
            out[prefix] = _text(v)

    for k, v in b:
        if isinstance(v, (Branch, list)):
            go(v, str(k))
        elif v is not None:
            out[str(k)] = _text(v)
    return out


def unflatten(flat: dict[str, str]) -> Branch:
    root = Branch()
    for key, value in flat.items():
        parts = _SPLIT.split(key)
        # (how the segment is addressed in its parent, its name)
        segs = [("__map_", parts[0])] + [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]
        cur: object = root
        for n, (_, name) in enumerate(segs):
            last = n == len(segs) - 1
            new: object = value if last else (Branch() if segs[n + 1][0] == "__map_" else [])
            if isinstance(cur, Branch):
                found = [v for k, v in cur if k == name]
                if found:
                    cur = found[0]
                else:
                    cur.append((name, new))
                    cur = new
            elif isinstance(cur, list) and name.isdigit():
                idx = int(name)
                while len(cur) <= idx:
                    cur.append(None)
                if cur[idx] is None:
                    cur[idx] = new
                cur = cur[idx]
            else:
                break  # inconsistent names: ignore the entry
    return root
