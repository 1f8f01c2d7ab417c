"""The four PATCH content types: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic
merge patch (reduced to what Secrets, Leases and Namespaces need) and server-side apply (a
merge, without field ownership)."""

from __future__ import annotations

import copy
from typing import Any

from kubecrypt.lab.apiserver.errors import ApiError, bad_request

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# Lists that strategic merge treats as keyed sets instead of replacing them wholesale
# (patchMergeKey in k8s.io/api's struct tags, for the fields our kinds have).
_MERGE_KEYS = {"ownerReferences": "uid", "finalizers": None}


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            out[name] = [x for x in out.get(name) or [] if x not in (value or [])]
            continue
        if value is None:
            out.pop(key, None)
        elif key in _MERGE_KEYS and isinstance(value, list):
            out[key] = _merge_list(out.get(key) or [], value, _MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value, key)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(current: list[Any], patch: list[Any], key: str | None) -> list[Any]:
    out = list(current)
    for item in patch:
        if key is None:
            if item not in out:
                out.append(item)
            continue
        if not isinstance(item, dict):
            raise bad_request("strategic merge patch: list items must be objects")
        idx = next((i for i, x in enumerate(out) if x.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(item)
        else:
            out[idx] = merge_patch(out[idx], item)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f'the server rejected our request due to an error in our '
                                       f'request: invalid JSON pointer "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _fail(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _resolve(doc: Any, parts: list[str], path: str) -> Any:
    for p in parts:
        if isinstance(doc, dict) and p in doc:
            doc = doc[p]
        elif isinstance(doc, list) and p.isdigit() and int(p) < len(doc):
            doc = doc[int(p)]
        else:
            raise _fail(f"the server rejected our request due to an error in our request: "
                        f"jsonpatch: path {path} not found")
    return doc


def _add(doc: Any, parts: list[str], value: Any, path: str, replace: bool) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _fail(f"jsonpatch replace operation does not apply: doc is missing key: {path}")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            if replace:
                if int(last) >= len(parent):
                    raise _fail(f"jsonpatch replace operation does not apply: {path}")
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _fail(f"jsonpatch add operation does not apply: doc is missing path: {path}")
    else:
        raise _fail(f"jsonpatch add operation does not apply: doc is missing path: {path}")
    return doc


def _remove(doc: Any, parts: list[str], path: str) -> Any:
    if not parts:
        raise _fail("jsonpatch remove operation does not apply: cannot remove the document")
    parent = _resolve(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _fail(f"jsonpatch remove operation does not apply: doc is missing path: \"{path}\"")


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise bad_request("json patch operations must be objects with an \"op\"")
        kind, path = op["op"], op.get("path", "")
        parts = _pointer(path)
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), path, replace=False)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), path, replace=True)
        elif kind == "remove":
            _remove(doc, parts, path)
        elif kind in ("move", "copy"):
            from_path = op.get("from", "")
            src = _pointer(from_path)
            value = copy.deepcopy(_resolve(doc, src, from_path))
            if kind == "move":
                _remove(doc, src, from_path)
            doc = _add(doc, parts, value, path, replace=False)
        elif kind == "test":
            if _resolve(doc, parts, path) != op.get("value"):
                raise _fail(f"the server rejected our request due to an error in our request: "
                            f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"unexpected json patch operation {kind!r}")
    return doc


def apply(content_type: str, current: dict[str, Any], patch: Any) -> Any:
    if content_type == JSON_PATCH:
        return json_patch(current, patch)
    if not isinstance(patch, dict):
        raise bad_request("the patch must be a JSON object")
    if content_type == STRATEGIC:
        return strategic_merge(current, patch)
    return merge_patch(current, patch)
