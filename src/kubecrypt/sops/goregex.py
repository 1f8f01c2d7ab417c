"""Regexes as sops 3.11 reads them: Go's ``regexp`` (RE2 syntax) for ``--encrypted-regex``, the
other selection regexes and ``path_regex``.

Go's regexp is a port of RE2, so RE2 itself (google-re2, imported only when needed) matches what
Go matches: ASCII ``\\d``, ``\\w``, ``\\s`` and POSIX classes, ``$`` at the end of the text only,
``\\z``, ``\\Q...\\E``, Go's case folding, and the same refusals (lookarounds, backreferences).
The patterns people write most (``^(data|stringData)$``, ``_enc$``, ``password|token``) mean the
same in both dialects once ``$`` is spelled ``\\Z``; :func:`compile_go` compiles those with
Python's ``re``, already loaded, which keeps RE2's import (about 10 ms) off ``kubecrypt sops
decrypt``'s start."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol


class InvalidRegex(ValueError):
    """Go's regexp refuses the pattern."""


class Matcher(Protocol):
    def search(self, text: str) -> Any: ...


# Literals, '.', groups, alternation and anchors, with single repetitions after an atom; a
# pattern made only of these is read the same by Go and by Python's re (the scan below keeps
# out what they read differently: repeats of repeats (possessive in Python, an error in Go),
# '{', classes, escapes other than '\.', flags).
_SAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/:=,@ "
                        "^$()|.")
_REPEAT = frozenset("*+?")


def _same_in_python(pattern: str) -> bool:
    previous = ""  # "atom", "repeat", "lazy" or "" (start, '(', '|', '^', '$')
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if pattern[i + 1:i + 2] != ".":
                return False
            previous, i = "atom", i + 2
            continue
        if c not in _SAME_CHARS and c not in _REPEAT:
            return False
        if c in _REPEAT:
            if previous == "atom":
                previous = "repeat"
            elif previous == "repeat" and c == "?":
                previous = "lazy"
            else:
                return False
        else:
            previous = "atom" if c not in "(|^$" else ""
        i += 1
    return True


def _has_go_refused_escape(pattern: str) -> bool:
    """``\\C`` (any byte): RE2 takes it, Go's regexp refuses it (outside ``\\Q...\\E``)."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            nxt = pattern[i + 1:i + 2]
            if nxt == "C":
                return True
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                if end < 0:
                    return False
                i = end
            i += 2
        else:
            i += 1
    return False


@lru_cache(maxsize=256)
def compile_go(pattern: str) -> Matcher:
    """``pattern`` as Go's ``regexp.Compile`` reads it; :class:`InvalidRegex` where Go refuses
    it."""
    if _same_in_python(pattern):
        try:
            return re.compile(pattern.replace("$", r"\Z"))
        except re.error:
            pass  # unbalanced parentheses: RE2 gives Go's verdict and words
    if _has_go_refused_escape(pattern):
        raise InvalidRegex(f"error parsing regexp: invalid escape sequence: `\\C`: `{pattern}`")
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own parse errors on stderr
    try:
        return re2.compile(pattern, options=options)  # type: ignore[no-any-return]
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise InvalidRegex(f"error parsing regexp: {detail}: `{pattern}`") from None


def search(pattern: str, text: str) -> bool:
    return compile_go(pattern).search(text) is not None
