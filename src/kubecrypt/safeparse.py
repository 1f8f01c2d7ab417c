"""Read YAML and JSON from untrusted sources with bounded depth and bounded alias expansion.

Every reader of a file, stdin or a request body goes through here, so that deep nesting, alias
bombs, control characters and undecodable bytes become one typed sentence naming the source and
line instead of a RecursionError, a hang or a traceback.

The alias rule is go-yaml v3's (``decode.go``: ``allowedAliasRatio``), which is what sops,
kubectl and kube-apiserver use: every node decoded counts once, every node decoded while
expanding an alias counts as an alias decode, and a document fails with "excessive aliasing"
once more than 100 alias decodes and 1,000 decodes are reached and the alias share exceeds 99 %
(small documents) scaling down to 10 % (documents of 4,000,000 decodes and more).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import yaml

from kubecrypt.errors import InputError, KubecryptError

if TYPE_CHECKING:
    import json

try:  # libyaml's event parser is ~10x faster; fall back to the pure-Python one.
    from yaml import CSafeLoader as _EventLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _EventLoader  # type: ignore[assignment]

# Nesting deeper than this is refused. Python's own recursion limit (1,000 frames) is shared by
# the parsers and by every recursive walk after them (sops tree, templates, codecs); no Kubernetes
# object, EncryptionConfiguration, kubeconfig or sops file comes close to 100 levels.
MAX_DEPTH = 100

# go-yaml v3 decode.go: the range over which the allowed alias ratio scales down.
ALIAS_RATIO_RANGE_LOW = 400_000
ALIAS_RATIO_RANGE_HIGH = 4_000_000
ALIAS_MIN_COUNT = 100
ALIAS_MIN_DECODES = 1_000

ErrorType = type[KubecryptError]


def allowed_alias_ratio(decode_count: int) -> float:
    """The share of decodes that may come from alias expansion (go-yaml v3's rule)."""
    if decode_count <= ALIAS_RATIO_RANGE_LOW:
        return 0.99
    if decode_count >= ALIAS_RATIO_RANGE_HIGH:
        return 0.10
    span = ALIAS_RATIO_RANGE_HIGH - ALIAS_RATIO_RANGE_LOW
    return 0.99 - 0.89 * ((decode_count - ALIAS_RATIO_RANGE_LOW) / span)


def too_deep(source: str, line: int | None = None, limit: int = MAX_DEPTH) -> str:
    return f"{_where(source, line)}: nesting is deeper than {limit} levels; flatten the document"


def _where(source: str, line: int | None) -> str:
    return f"{source} line {line}" if line else source


class Limits:
    """Depth and alias accounting over a stream of YAML events; shared by every YAML reader
    (including the sops store's comment-preserving loader, which feeds it its own events)."""

    def __init__(self, source: str, error: ErrorType = InputError,
                 max_depth: int = MAX_DEPTH) -> None:
        self.source = source
        self.error = error
        self.max_depth = max_depth
        self.depth = 0
        self.decodes = 0
        self.alias_decodes = 0
        # Per open collection: the number of decodes inside it so far (an alias expands to the
        # decode count of its anchor's whole subtree, as go-yaml re-decodes it each time).
        self._sizes: list[int] = []
        self._anchors: list[str | None] = []
        self._anchor_size: dict[str, int] = {}

    def too_deep(self, line: int | None) -> str:
        return too_deep(self.source, line, self.max_depth)

    def fail(self, problem: str, line: int | None) -> KubecryptError:
        return self.error(f"{_where(self.source, line)}: {problem}")

    def _count(self, n: int, line: int | None, alias: bool) -> None:
        self.decodes += n
        if alias:
            self.alias_decodes += n
            if (
                self.alias_decodes > ALIAS_MIN_COUNT
                and self.decodes > ALIAS_MIN_DECODES
                and self.alias_decodes / self.decodes > allowed_alias_ratio(self.decodes)
            ):
                raise self.fail(
                    "document contains excessive aliasing; expand the aliases or shrink the "
                    "document",
                    line,
                )
        if self._sizes:
            self._sizes[-1] += n

    def start(self, anchor: str | None, line: int | None) -> None:
        """A mapping or sequence opens."""
        self.depth += 1
        if self.depth > self.max_depth:
            raise self.error(self.too_deep(line))
        self._sizes.append(1)
        self._anchors.append(anchor)

    def end(self, line: int | None) -> None:
        """The innermost mapping or sequence closes."""
        self.depth -= 1
        size = self._sizes.pop()
        anchor = self._anchors.pop()
        if anchor is not None:
            self._anchor_size[anchor] = size
        self._count(size, line, alias=False)

    def scalar(self, anchor: str | None, line: int | None) -> None:
        if anchor is not None:
            self._anchor_size[anchor] = 1
        self._count(1, line, alias=False)

    def alias(self, anchor: str, line: int | None) -> None:
        self._count(1, line, alias=False)
        self._count(self._anchor_size.get(anchor, 1), line, alias=True)

    def feed(self, event: Any) -> None:
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self.start(event.anchor, line)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self.end(line)
        elif isinstance(event, yaml.ScalarEvent):
            self.scalar(event.anchor, line)
        elif isinstance(event, yaml.AliasEvent):
            self.alias(str(event.anchor), line)


def yaml_error(exc: yaml.YAMLError, source: str, text: str, error: ErrorType) -> KubecryptError:
    """A PyYAML error as one sentence with the source and line."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        return error(f"{_where(source, line)}: not valid YAML: {problem}")
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1 if exc.position is not None else None
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        return error(
            f"{_where(source, line)}: not valid YAML: control character U+{code:04X} is not "
            "allowed; remove it or write it as an escape in a double-quoted string"
        )
    return error(f"{source}: not valid YAML: {exc}")


def as_text(data: str | bytes, source: str, error: ErrorType = InputError) -> str:
    """Decode bytes as UTF-8 (a BOM is allowed), or one sentence naming the line that is not."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{source} line {line}: the bytes are not valid UTF-8; save it as UTF-8") from None


def check_yaml(text: str, source: str, error: ErrorType = InputError) -> None:
    """Scan the events of every document: depth, aliasing and syntax, without building objects."""
    limits = Limits(source, error)
    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                limits = Limits(source, error)  # go-yaml counts per document
            limits.feed(event)
    except yaml.YAMLError as exc:
        raise yaml_error(exc, source, text, error) from None


def load_yaml_all(
    data: str | bytes,
    source: str,
    *,
    loader: type[Any] | None = None,
    error: ErrorType = InputError,
) -> list[Any]:
    """Every document of a YAML stream (``loader`` defaults to PyYAML's safe loader)."""
    text = as_text(data, source, error)
    check_yaml(text, source, error)
    try:
        return list(yaml.load_all(text, Loader=loader or _EventLoader))
    except yaml.YAMLError as exc:
        raise yaml_error(exc, source, text, error) from None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # A value the constructor cannot build (a timestamp out of range, an unhashable key).
        raise error(f"{source}: not a valid YAML value: {exc}") from None


def load_yaml(
    data: str | bytes,
    source: str,
    *,
    loader: type[Any] | None = None,
    error: ErrorType = InputError,
) -> Any:
    """One YAML document (None when empty); more than one is refused."""
    docs = load_yaml_all(data, source, loader=loader, error=error)
    if len(docs) > 1:
        raise error(f"{source}: expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def check_depth(value: Any, source: str, error: ErrorType = InputError,
                max_depth: int = MAX_DEPTH) -> None:
    """Refuse a decoded value nested deeper than ``max_depth`` (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, tuple):
            # A (key, value) pair of an ordered mapping kept as a list of pairs: no extra level.
            stack.extend((c, depth) for c in node)
            continue
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise error(too_deep(source, None, max_depth))
        stack.extend((c, depth + 1) for c in children)


def load_json(
    data: str | bytes,
    source: str,
    *,
    error: ErrorType = InputError,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    **kwargs: Any,
) -> Any:
    """One JSON value with bounded depth."""
    import json  # not at the top: YAML-only commands (most of them) never pay for it

    text = as_text(data, source, error)
    try:
        value = json.loads(text, object_pairs_hook=object_pairs_hook, **kwargs)
    except json.JSONDecodeError as exc:
        raise error(f"{source} line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise error(too_deep(source)) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise error(f"{source}: not a valid JSON value: {exc}") from None
    check_depth(value, source, error)
    return value


def raw_decode_json(
    decoder: json.JSONDecoder, text: str, pos: int, source: str, error: ErrorType = InputError
) -> tuple[Any, int]:
    """One value of a JSON stream (``JSONDecoder.raw_decode``) with bounded depth; syntax errors
    propagate as ``json.JSONDecodeError`` so the caller can say what the stream holds."""
    try:
        value, end = decoder.raw_decode(text, pos)
    except RecursionError:
        raise error(too_deep(source)) from None
    check_depth(value, source, error)
    return value, end


def bounded(parse: Callable[[], Any], source: str, error: ErrorType = InputError,
            max_depth: int = MAX_DEPTH) -> Any:
    """Run a JSON parser that keeps its own error messages (sops' stores), bounding its depth."""
    try:
        value = parse()
    except RecursionError:
        raise error(too_deep(source, None, max_depth)) from None
    check_depth(value, source, error, max_depth)
    return value
