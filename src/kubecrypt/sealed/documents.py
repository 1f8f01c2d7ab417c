"""Reading Kubernetes manifests as kubeseal does (``yaml.NewYAMLOrJSONDecoder``): a stream of
JSON objects, or YAML documents separated by ``---`` (which may themselves be JSON)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from kubecrypt import safeparse
from kubecrypt.sealed.errors import SealedInputError


class _Loader(yaml.SafeLoader):
    """YAML 1.1 like go-yaml, but timestamps stay strings (they are strings in the API) and a
    plain ``=`` is the string go-yaml reads, not PyYAML's unconstructible ``value`` tag."""


_NOT_RESOLVED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NOT_RESOLVED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(content: bytes, source: str = "input") -> list[dict[str, Any]]:
    """Every non-empty document, in order. Anything that is not a mapping is an error."""
    text = safeparse.as_text(content, source, SealedInputError).lstrip("\ufeff")
    docs: list[Any]
    if text.lstrip().startswith("{"):
        docs = _json_stream(text, source)
    else:
        docs = safeparse.load_yaml_all(text, source, loader=_Loader, error=SealedInputError)
    out: list[dict[str, Any]] = []
    for index, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise SealedInputError(
                f"document {index} of {source} is a {type(doc).__name__}, not a Kubernetes object"
            )
        out.append(doc)
    return out


def _json_stream(text: str, source: str) -> list[Any]:
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            return docs
        try:
            doc, pos = safeparse.raw_decode_json(decoder, text, pos, source, SealedInputError)
        except json.JSONDecodeError as exc:
            if docs and text[pos:].lstrip().startswith(("---", "apiVersion", "kind")):
                raise SealedInputError(
                    f"{source} mixes JSON and YAML documents; use one format "
                    "(YAML documents separated by '---' may each hold JSON)"
                ) from None
            raise SealedInputError(
                f"cannot parse {source} as JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        docs.append(doc)
