"""Functions available to ``spec.template.data``: Go's template built-ins and the Sprig generic
functions upstream registers (``sprig.GenericFuncMap()`` minus ``env``, ``expandenv`` and
``getHostByName``). Sprig functions not listed here fail to parse, naming the function."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import urllib.parse
import zlib
from collections.abc import Callable
from typing import Any

from kubecrypt.sealed.govalues import (
    LIMITS,
    MISSING,
    TemplateError,
    TemplateLimitError,
    to_text,
    truth,
)


def _s(value: Any) -> str:
    return to_text(value)


_QUOTE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r",
                  "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def _go_quote(value: str) -> str:
    """``strconv.Quote``: printable runes kept, others escaped."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable() and code > 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _sized(n: int, what: str) -> int:
    """Refuse, before allocating, a value that would be larger than a template may make."""
    if n > LIMITS.max_output:
        raise TemplateLimitError(f"{what} would make a value of {n} characters or items")
    return n


def _repeat(count: Any, text: Any) -> str:
    s = _s(text)
    _sized(int(count) * len(s), "repeat")
    return s * int(count)


def _until(count: Any) -> list[int]:
    return list(range(_sized(_to_int(count), "until")))


def _printf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the common verbs (%s %d %v %q %x %X %f %t %%)."""
    values = list(args)
    out: list[str] = []
    pos = 0
    index = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        for number in (width, prec):
            if number and number != "*":
                _sized(int(number), "printf's width or precision")
        if verb == "%":
            out.append("%")
            continue
        if index >= len(values):
            out.append(f"%!{verb}(MISSING)")
            continue
        value = values[index]
        index += 1
        if verb in "sv":
            text = to_text(value)
            if prec is not None and verb == "s":
                text = text[: int(prec)]
        elif verb == "q":
            text = _go_quote(to_text(value))
        elif verb == "d":
            text = str(int(value))
        elif verb in "xX":
            text = (value.encode() if isinstance(value, str) else b"").hex() if isinstance(
                value, str) else format(int(value), "x")
            text = text.upper() if verb == "X" else text
        elif verb in "feg":
            text = format(float(value), f".{prec or 6}{verb}")
        elif verb == "t":
            text = "true" if value else "false"
        else:
            text = f"%!{verb}({to_text(value)})"
        if width and width != "*":
            text = text.ljust(int(width)) if "-" in flags else text.rjust(
                int(width), "0" if "0" in flags and verb in "dfeg" else " ")
        out.append(text)
    out.append(fmt[pos:])
    if index < len(values):
        out.append("%!(EXTRA " + ", ".join(
            f"{type(v).__name__}={to_text(v)}" for v in values[index:]) + ")")
    return "".join(out)


def _print(*args: Any) -> str:
    # fmt.Sprint: spaces only between operands when neither is a string.
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(to_text(arg))
    return "".join(out)


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key, "")  # a missing key gives the zero value, as in Go
        elif isinstance(item, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(item):
                raise IndexError(f"index out of range: {key}")
            item = item[key]
        else:
            raise TypeError(f"can't index item of type {type(item).__name__}")
    return item


def _length(item: Any) -> int:
    if isinstance(item, str | list | tuple | dict):
        return len(item)
    raise TypeError(f"len of type {type(item).__name__}")


def _and(*args: Any) -> Any:
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


def _eq(a: Any, *bs: Any) -> bool:
    return any(a == b for b in bs)


def _empty(value: Any) -> bool:
    return not truth(value)


def _default(default: Any, *given: Any) -> Any:
    if not given or _empty(given[0]):
        return default
    return given[0]


def _indent(spaces: int, text: Any) -> str:
    body = _s(text)
    _sized(int(spaces) * (body.count("\n") + 1) + len(body), "indent")
    pad = " " * int(spaces)
    return pad + body.replace("\n", "\n" + pad)


def _trunc(n: int, text: Any) -> str:
    s = _s(text)
    if n < 0:
        return s[n:] if -n < len(s) else s
    return s[:n]


def _b64dec(text: Any) -> str:
    try:
        return base64.b64decode(_s(text), validate=True).decode("utf-8", "replace")
    except ValueError as exc:
        return str(exc)


def _b32dec(text: Any) -> str:
    try:
        return base64.b32decode(_s(text)).decode("utf-8", "replace")
    except ValueError as exc:
        return str(exc)


def _to_json(value: Any) -> str:
    try:
        return json.dumps(None if value is MISSING else value, separators=(",", ":"),
                          ensure_ascii=False, sort_keys=True)
    except TypeError:
        return ""


def _title(text: Any) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), _s(text))


def _ternary(true_value: Any, false_value: Any, condition: Any) -> Any:
    return true_value if truth(condition) else false_value


def _dict(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[_s(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if isinstance(a, str) != isinstance(b, str):
            raise TypeError("incompatible types for comparison")
        return op(a, b)

    return compare


def _to_int(value: Any) -> int:
    try:
        return int(float(_s(value))) if not isinstance(value, int) else int(value)
    except ValueError:
        return 0


def _words(text: Any) -> list[str]:
    return re.findall(r"[A-Z]+(?=[A-Z][a-z]|[0-9]|\b|_)|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", _s(text))


def _wrap(width: int, text: Any) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(_s(text), int(width), break_long_words=False)) or _s(text)


def _abbrev(width: int, text: Any) -> str:
    s = _s(text)
    return s if len(s) <= int(width) or int(width) < 4 else s[: int(width) - 3] + "..."


def _uniq(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _merge(dst: dict[str, Any], *srcs: dict[str, Any]) -> dict[str, Any]:
    for src in srcs:
        for key, value in src.items():
            dst.setdefault(key, value)
    return dst


FUNCS: dict[str, Callable[..., Any]] = {
    # text/template built-ins
    "and": _and,
    "or": _or,
    "not": lambda v: not truth(v),
    "len": _length,
    "index": _index,
    "print": _print,
    "printf": _printf,
    "println": lambda *a: " ".join(to_text(v) for v in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "urlquery": lambda *a: urllib.parse.quote_plus(_print(*a)),
    "html": lambda *a: _print(*a).replace("&", "&amp;").replace("<", "&lt;")
    .replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;"),
    # Sprig strings
    "upper": lambda s: _s(s).upper(),
    "lower": lambda s: _s(s).lower(),
    "title": _title,
    "trim": lambda s: _s(s).strip(),
    "trimAll": lambda cut, s: _s(s).strip(_s(cut)),
    "trimPrefix": lambda p, s: _s(s)[len(_s(p)):] if _s(s).startswith(_s(p)) else _s(s),
    "trimSuffix": lambda p, s: _s(s)[: -len(_s(p))] if _s(p) and _s(s).endswith(_s(p)) else _s(s),
    "trunc": _trunc,
    "replace": lambda old, new, s: _s(s).replace(_s(old), _s(new)),
    "repeat": _repeat,
    "substr": lambda a, b, s: _s(s)[int(a) : int(b)] if int(b) >= 0 else _s(s)[int(a) :],
    "nospace": lambda s: re.sub(r"\s", "", _s(s)),
    "quote": lambda *a: " ".join(_go_quote(_s(v)) for v in a if v is not None),
    "squote": lambda *a: " ".join(f"'{_s(v)}'" for v in a if v is not None),
    "cat": lambda *a: " ".join(_s(v) for v in a if v is not None),
    "indent": _indent,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "contains": lambda sub, s: _s(sub) in _s(s),
    "hasPrefix": lambda p, s: _s(s).startswith(_s(p)),
    "hasSuffix": lambda p, s: _s(s).endswith(_s(p)),
    "toString": _s,
    "join": lambda sep, items: _s(sep).join(_s(i) for i in items),
    "splitList": lambda sep, s: _s(s).split(_s(sep)),
    "split": lambda sep, s: {f"_{i}": v for i, v in enumerate(_s(s).split(_s(sep)))},
    "sortAlpha": lambda items: sorted(_s(i) for i in items),
    "regexMatch": lambda rx, s: re.search(_s(rx), _s(s)) is not None,
    "regexReplaceAll": lambda rx, s, repl: re.sub(_s(rx), re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>",
                                                                  _s(repl)), _s(s)),
    "regexFind": lambda rx, s: (m.group(0) if (m := re.search(_s(rx), _s(s))) else ""),
    # Sprig encodings and hashes
    "b64enc": lambda s: base64.b64encode(_s(s).encode()).decode(),
    "b64dec": _b64dec,
    "b32enc": lambda s: base64.b32encode(_s(s).encode()).decode(),
    "b32dec": _b32dec,
    "sha1sum": lambda s: hashlib.sha1(_s(s).encode()).hexdigest(),
    "sha256sum": lambda s: hashlib.sha256(_s(s).encode()).hexdigest(),
    "adler32sum": lambda s: str(zlib.adler32(_s(s).encode())),
    "toJson": _to_json,
    "toRawJson": _to_json,
    "toPrettyJson": lambda v: json.dumps(v, indent=2, ensure_ascii=False, sort_keys=True),
    "fromJson": lambda s: json.loads(_s(s)),
    # Sprig defaults and flow
    "default": _default,
    "empty": _empty,
    "coalesce": lambda *a: next((v for v in a if truth(v)), None),
    "ternary": _ternary,
    "required": lambda msg, v: v if truth(v) else (_ for _ in ()).throw(TemplateError(_s(msg))),
    "fail": lambda msg: (_ for _ in ()).throw(TemplateError(_s(msg))),
    # Sprig lists, dicts and numbers
    "list": lambda *a: list(a),
    "dict": _dict,
    "get": lambda d, k: d.get(_s(k), "") if isinstance(d, dict) else "",
    "hasKey": lambda d, k: isinstance(d, dict) and _s(k) in d,
    "keys": lambda *ds: [k for d in ds for k in d],
    "first": lambda items: items[0] if items else None,
    "last": lambda items: items[-1] if items else None,
    "add": lambda *a: sum(_to_int(v) for v in a),
    "sub": lambda a, b: _to_int(a) - _to_int(b),
    "mul": lambda *a: math.prod(_to_int(v) for v in a),
    "div": lambda a, b: int(_to_int(a) / _to_int(b)),
    "mod": lambda a, b: _to_int(a) % _to_int(b),
    "max": lambda *a: max(_to_int(v) for v in a),
    "min": lambda *a: min(_to_int(v) for v in a),
    "atoi": _to_int,
    "int": _to_int,
    "int64": _to_int,
    "toStrings": lambda items: [_s(i) for i in items],
    # more Sprig strings
    "untitle": lambda s: re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).lower(), _s(s)),
    "swapcase": lambda s: _s(s).swapcase(),
    "camelcase": lambda s: "".join(w[:1].upper() + w[1:] for w in re.split(r"[_\s-]+", _s(s))),
    "snakecase": lambda s: "_".join(w.lower() for w in _words(s)),
    "kebabcase": lambda s: "-".join(w.lower() for w in _words(s)),
    "initials": lambda s: "".join(w[:1] for w in _s(s).split()),
    "abbrev": _abbrev,
    "wrap": _wrap,
    "plural": lambda one, many, n: one if _to_int(n) == 1 else many,
    "trimall": lambda cut, s: _s(s).strip(_s(cut)),
    "regexSplit": lambda rx, s, n: re.split(_s(rx), _s(s), maxsplit=max(_to_int(n) - 1, 0))
    if _to_int(n) > 0 else re.split(_s(rx), _s(s)),
    "regexFindAll": lambda rx, s, n: re.findall(_s(rx), _s(s))[: _to_int(n)]
    if _to_int(n) >= 0 else re.findall(_s(rx), _s(s)),
    "mustToJson": _to_json,
    "mustToPrettyJson": lambda v: json.dumps(v, indent=2, ensure_ascii=False, sort_keys=True),
    # more Sprig lists and dicts
    "append": lambda items, v: [*items, v],
    "push": lambda items, v: [*items, v],
    "prepend": lambda items, v: [v, *items],
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "rest": lambda items: list(items[1:]),
    "initial": lambda items: list(items[:-1]),
    "reverse": lambda items: list(reversed(items)),
    "uniq": _uniq,
    "compact": lambda items: [i for i in items if truth(i)],
    "has": lambda needle, items: needle in items,
    "without": lambda items, *drop: [i for i in items if i not in drop],
    "values": lambda d: [d[k] for k in d],
    "pick": lambda d, *ks: {k: d[k] for k in ks if k in d},
    "omit": lambda d, *ks: {k: v for k, v in d.items() if k not in ks},
    "set": lambda d, k, v: (d.__setitem__(_s(k), v), d)[1],
    "unset": lambda d, k: (d.pop(_s(k), None), d)[1],
    "merge": _merge,
    "float64": lambda v: float(_s(v)) if _s(v) else 0.0,
    "ceil": lambda v: float(math.ceil(float(_s(v)))),
    "floor": lambda v: float(math.floor(float(_s(v)))),
    "round": lambda v, p=0: round(float(_s(v)), int(p)),
    "until": _until,
}

__all__ = ["FUNCS"]
