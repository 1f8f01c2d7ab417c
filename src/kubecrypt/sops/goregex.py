"""Go's regexp syntax (RE2, as sops 3.11 compiles ``--encrypted-regex``, the other selection
regexes and ``path_regex``) turned into a Python ``re`` pattern with the same matches.

Where the two dialects differ: Go's ``\\d``, ``\\w``, ``\\s``, ``\\b`` and POSIX classes are ASCII;
``$`` without ``(?m)`` is the end of the text only (Python's also matches before a final
newline); ``\\z``, ``\\Q...\\E``, ``\\x{...}``, ``(?U)``, flags in the middle of a pattern, ``{,2}``
as a literal are Go's; lookarounds, backreferences, ``\\Z`` and possessive repeats are Python's
only. A pattern Go refuses raises :class:`InvalidRegex`; one Go takes that ``re`` cannot express
(Unicode classes ``\\p{...}``) raises :class:`UnsupportedRegex`."""

from __future__ import annotations

import re
from functools import lru_cache


class InvalidRegex(ValueError):
    """Go's regexp refuses the pattern."""


class UnsupportedRegex(ValueError):
    """Go takes the pattern, but it has no Python ``re`` equivalent here."""


_MAX = 0x10FFFF
_Ranges = list[tuple[int, int]]


def _r(*spans: str) -> _Ranges:
    return [(ord(s[0]), ord(s[-1])) for s in spans]


_PERL: dict[str, _Ranges] = {"d": _r("09"), "w": _r("09", "AZ", "az", "_"),
                             "s": _r("\t\n", "\f\r", " ")}
_POSIX: dict[str, _Ranges] = {
    "alnum": _r("09", "AZ", "az"), "alpha": _r("AZ", "az"), "ascii": [(0, 0x7F)],
    "blank": _r("\t", " "), "cntrl": [(0, 0x1F), (0x7F, 0x7F)], "digit": _r("09"),
    "graph": _r("!~"), "lower": _r("az"), "print": _r(" ~"), "punct": _r("!/", ":@", "[`", "{~"),
    "space": _r("\t\r", " "), "upper": _r("AZ"), "word": _r("09", "AZ", "az", "_"),
    "xdigit": _r("09", "AF", "af")}
_WORD = "[0-9A-Za-z_]"
# Go's \\b is ASCII whatever (?i) says: the lookarounds are out of the case-folding scope
_B = f"(?-i:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_NB = f"(?-i:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")


def _negate(ranges: _Ranges) -> _Ranges:
    out, lo = [], 0
    for a, b in sorted(ranges):
        if a > lo:
            out.append((lo, a - 1))
        lo = max(lo, b + 1)
    if lo <= _MAX:
        out.append((lo, _MAX))
    return out


# Python's re folds the Turkish dotless ı and dotted İ onto i/I; Go's simple folding does not.
_NO_TURKISH_I = "(?-i:(?![\u0130\u0131]))"


def _covers_i(ranges: _Ranges) -> bool:
    def has(c: int) -> bool:
        return any(a <= c <= b for a, b in ranges)

    return (has(0x69) or has(0x49)) and not (has(0x130) or has(0x131))


def _folded_class(ranges: _Ranges, negated: bool, fold: bool) -> str:
    """A class under Python's (?i) as Go folds it: without the Turkish ı/İ Python adds to i/I
    (a negated class then matches them, as in Go)."""
    text = _class_text(ranges, negated)
    if not (fold and _covers_i(ranges)):
        return text
    return f"(?:{text}|(?-i:[\u0130\u0131]))" if negated else _NO_TURKISH_I + text


def _class_text(ranges: _Ranges, negated: bool) -> str:
    if not ranges:
        return "[^\\s\\S]" if not negated else "[\\s\\S]"
    body = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                   for a, b in sorted(ranges))
    return f"[{'^' if negated else ''}{body}]"


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        # per open group: (flags at its start, extra ")" to close for flags set inside it)
        self.stack: list[tuple[str, int]] = []
        self.flags = ""  # Go flags in force: any of "imsU"
        self.extra = 0
        self.can_repeat = False

    def fail(self, what: str) -> InvalidRegex:
        return InvalidRegex(f"error parsing regexp: {what}: `{self.p}`")

    def run(self) -> str:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            self.i += 1
            if c == "\\":
                self.atom(self.escape())
            elif c == "[":
                self.atom(self.klass())
            elif c == "(":
                self.group()
            elif c == ")":
                if not self.stack:
                    raise self.fail("unexpected )")
                self.out.append(")" * self.extra + ")")
                self.flags, self.extra = self.stack.pop()
                self.can_repeat = True
            elif c == "|":
                opened = self._reopen()
                self.out.append(")" * self.extra + "|" + opened)
                self.can_repeat = False
            elif c in "*+?":
                self.repeat(c)
            elif c == "{" and _REPEAT.match(p, self.i - 1):
                m = _REPEAT.match(p, self.i - 1)
                assert m is not None
                lo, hi = int(m.group(1)), m.group(3)
                if lo > 1000 or (hi and (int(hi) > 1000 or int(hi) < lo)):
                    raise self.fail("invalid repeat count")
                self.i = m.end()
                self.repeat(m.group(0))
            elif c == ".":
                self.atom("(?s:.)" if "s" in self.flags else "[^\\n]")
            elif c == "^":
                self.atom("(?m:^)" if "m" in self.flags else "(?:\\A)")
            elif c == "$":
                self.atom("(?m:$)" if "m" in self.flags else "(?:\\Z)")
            elif c in "iI" and "i" in self.flags:
                self.atom("(?-i:[iI])")
            else:
                self.atom(re.escape(c))
        if self.stack:
            raise self.fail("missing closing )")
        self.out.append(")" * self.extra)
        return "".join(self.out)

    def atom(self, text: str) -> None:
        self.out.append(text)
        self.can_repeat = True

    def repeat(self, op: str) -> None:
        if self.out and self.out[-1].startswith("(?") and self.out[-1].endswith(":") and (
                self.extra and not self.can_repeat):
            # Go repeats the item before a flag group (`a(?i)*`); re has no way to say it
            raise UnsupportedRegex("a repetition right after a flag group has no equivalent "
                                   "in Python's re here")
        if not self.can_repeat:
            raise self.fail(f"missing argument to repetition operator: `{op}`")
        lazy = self.i < len(self.p) and self.p[self.i] == "?"
        if lazy:
            self.i += 1
        if "U" in self.flags:
            lazy = not lazy
        self.out.append(op + ("?" if lazy else ""))
        if self.i < len(self.p) and (self.p[self.i] in "*+?" or _REPEAT.match(self.p, self.i)):
            raise self.fail("invalid nested repetition operator")
        self.can_repeat = False

    def _reopen(self) -> str:
        """The scoped-flag groups to open again after ``|`` (Go's flags run to the group's end)."""
        return "(?i:" * self.extra if "i" in self.flags else "(?-i:" * self.extra

    def group(self) -> None:
        p, i = self.p, self.i
        self.can_repeat = False
        if not p.startswith("?", i):
            self.stack.append((self.flags, self.extra))
            self.extra = 0
            self.out.append("(")
            return
        m = re.compile(r"\?P?<(\w+)>").match(p, i)
        if m:
            if not re.fullmatch(r"[A-Za-z_]\w*", m.group(1)) or m.group(1).isdigit():
                raise UnsupportedRegex(f"the group name {m.group(1)!r} is not one Python takes")
            self.i = m.end()
            self.stack.append((self.flags, self.extra))
            self.extra = 0
            self.out.append(f"(?P<{m.group(1)}>")
            return
        m = re.compile(r"\?([imsU]*)(?:-([imsU]*))?([:)])").match(p, i)
        if not m or (m.group(2) is not None and not m.group(2)):
            raise self.fail("invalid or unsupported Perl syntax")
        self.i = m.end()
        flags = self.flags
        for f in m.group(1):
            flags += f if f not in flags else ""
        for f in m.group(2) or "":
            flags = flags.replace(f, "")
        case = "(?i:" if "i" in flags else "(?-i:"
        if m.group(3) == ":":
            self.stack.append((self.flags, self.extra))
            self.extra = 0
            self.out.append(case)
        else:
            self.out.append(case)
            self.extra += 1
        self.flags = flags

    def escape(self) -> str:
        p = self.p
        if self.i >= len(p):
            raise self.fail("trailing backslash at end of expression")
        c = p[self.i]
        self.i += 1
        if c in "dwsDWS":
            return _folded_class(_PERL[c.lower()], c.isupper(), "i" in self.flags)
        if c in "pP":
            raise UnsupportedRegex(
                "Unicode classes (\\p, \\P) have no equivalent in Python's re here")
        # in a group: Go repeats an empty-width assertion (`\\z*`), Python only a group
        special = {"z": "(?:\\Z)", "A": "(?:\\A)", "b": _B, "B": _NB}
        if c in special:
            return special[c]
        if c == "Q":
            end = p.find("\\E", self.i)
            text = p[self.i:] if end < 0 else p[self.i:end]
            self.i = len(p) if end < 0 else end + 2
            return "".join(f"(?:{re.escape(ch)})" for ch in text)
        return re.escape(chr(self._char_escape(c)))

    def _char_escape(self, c: str) -> int:
        p = self.p
        if c in "01234567":
            m = re.compile(r"[0-7]{0,2}").match(p, self.i)
            assert m is not None
            if c != "0" and not m.group(0):
                raise self.fail("invalid escape sequence")
            self.i = m.end()
            return int(c + m.group(0), 8)
        if c == "x":
            m = re.compile(r"\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2})").match(p, self.i)
            if not m or int(m.group(1) or m.group(2), 16) > _MAX:
                raise self.fail("invalid escape sequence")
            self.i = m.end()
            return int(m.group(1) or m.group(2), 16)
        simple = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}
        if c in simple:
            return simple[c]
        if ord(c) < 0x80 and not c.isalnum():
            return ord(c)
        raise self.fail("invalid escape sequence")

    def klass(self) -> str:
        p = self.p
        negated = p.startswith("^", self.i)
        if negated:
            self.i += 1
        ranges: _Ranges = []
        first = True
        while True:
            if self.i >= len(p):
                raise self.fail("missing closing ]")
            c = p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            if c == "-" and not first and not p.startswith("-]", self.i):
                raise self.fail("invalid character class range")
            first = False
            m = re.compile(r"\[:(\^?)([a-z]+):\]").match(p, self.i)
            if m:
                if m.group(2) not in _POSIX:
                    raise self.fail("invalid character class range")
                self.i = m.end()
                cls = _POSIX[m.group(2)]
                ranges += _negate(cls) if m.group(1) else cls
                continue
            lo = self._class_item()
            if isinstance(lo, list):
                ranges += lo
                if p.startswith("-", self.i) and not p.startswith("-]", self.i):
                    raise self.fail("invalid character class range")
                continue
            if p.startswith("-", self.i) and not p.startswith("-]", self.i):
                self.i += 1
                hi = self._class_item()
                if isinstance(hi, list) or hi < lo:
                    raise self.fail("invalid character class range")
                ranges.append((lo, hi))
            else:
                ranges.append((lo, lo))
        return _folded_class(ranges, negated, "i" in self.flags)

    def _class_item(self) -> int | _Ranges:
        p = self.p
        c = p[self.i]
        self.i += 1
        if c != "\\":
            return ord(c)
        if self.i >= len(p):
            raise self.fail("missing closing ]")
        c = p[self.i]
        self.i += 1
        if c in "dwsDWS":
            return _negate(_PERL[c.lower()]) if c.isupper() else _PERL[c]
        if c in "pP":
            raise UnsupportedRegex(
                "Unicode classes (\\p, \\P) have no equivalent in Python's re here")
        return self._char_escape(c)


@lru_cache(maxsize=64)
def compile_go(pattern: str) -> re.Pattern[str]:
    """``pattern`` in Go's syntax, compiled for Python's ``re`` with Go's meaning."""
    try:
        return re.compile(_Translator(pattern).run())
    except re.error as exc:
        raise InvalidRegex(f"error parsing regexp: {exc}: `{pattern}`") from None


def search(pattern: str, text: str) -> bool:
    return compile_go(pattern).search(text) is not None
