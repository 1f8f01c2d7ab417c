"""A Go ``text/template`` subset for ``spec.template.data`` (upstream renders those with Go
templates plus Sprig's generic functions minus ``env``, ``expandenv`` and ``getHostByName``).

Supported: text and actions with ``{{-``/``-}}`` trimming, comments, pipelines, variables
(``$x := ...``, ``$``), fields (``.a.b``), parenthesised pipelines, string/raw/number/bool/nil
literals, ``if``/``else if``/``else``/``with``/``range``/``end``, Go's built-in functions and the
commonly used Sprig functions. An unknown function is a parse error, as in Go."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubecrypt.sealed.govalues import (
    LIMITS,
    MISSING,
    Limits,
    TemplateError,
    TemplateLimitError,
    to_text,
    truth,
)

# --- lexer -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<raw>`[^`]*`)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<char>'(?:[^'\\]|\\.)+')
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<pipe>\|)
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    | (?P<var>\$[A-Za-z0-9_]*)
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
    | (?P<dot>\.)
    | (?P<num>[-+]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+
               |[0-9][0-9_]*\.?[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _lex_action(src: str, name: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            bad = src[pos:].strip()[:1]
            raise TemplateError(f"template: {name}: unexpected {bad!r} in command")
        kind = m.lastgroup or ""
        text = m.group(kind)
        # ".Field" directly after an operand is a field chain on that operand: kept as "field".
        toks.append(_Tok(kind, text))
        pos = m.end()
    return toks


def _split(source: str, name: str) -> list[tuple[str, str]]:
    """Splits into ("text", s) and ("action", s), applying the trim markers."""
    parts: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            parts.append(("text", source[pos:]))
            return parts
        text = source[pos:start]
        inner_start = start + 2
        if source.startswith("- ", inner_start) or source.startswith("-\t", inner_start) or \
                source.startswith("-\n", inner_start):
            text = text.rstrip(" \t\r\n")
            inner_start += 1
        parts.append(("text", text))
        end = _find_close(source, inner_start, name)
        inner = source[inner_start:end]
        pos = end + 2
        if inner.endswith((" -", "\t-", "\n-")):
            inner = inner[:-1]
            while pos < len(source) and source[pos] in " \t\r\n":
                pos += 1
        stripped = inner.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"template: {name}: unclosed comment")
            continue
        parts.append(("action", inner))


def _find_close(source: str, pos: int, name: str) -> int:
    i = pos
    while i < len(source):
        c = source[i]
        if c in "\"'`":
            quote = c
            i += 1
            while i < len(source) and source[i] != quote:
                if source[i] == "\\" and quote != "`":
                    i += 1
                i += 1
        elif source.startswith("}}", i):
            return i
        i += 1
    raise TemplateError(f"template: {name}: unclosed action")


# --- AST -------------------------------------------------------------------------------------


@dataclass
class _Cmd:
    args: list[Any]


@dataclass
class _Pipe:
    decl: list[str]
    assign: bool
    cmds: list[_Cmd]


@dataclass
class _Field:
    base: Any  # None for ".", a _Var, or a _Pipe
    names: list[str]


@dataclass
class _Var:
    name: str


@dataclass
class _Func:
    name: str


@dataclass
class _Lit:
    value: Any


@dataclass
class _Block:
    kind: str  # "if", "with", "range"
    pipe: _Pipe
    body: list[Any] = field(default_factory=list)
    else_body: list[Any] | None = None


class _Parser:
    def __init__(self, name: str, funcs: dict[str, Callable[..., Any]]) -> None:
        self.name = name
        self.funcs = funcs

    def parse(self, source: str) -> list[Any]:
        self.parts = _split(source, self.name)
        self.i = 0
        nodes, end = self._list()
        if end is not None:
            raise TemplateError(f"template: {self.name}: unexpected {{{{{end}}}}}")
        return nodes

    def _list(self) -> tuple[list[Any], str | None]:
        nodes: list[Any] = []
        while self.i < len(self.parts):
            kind, text = self.parts[self.i]
            self.i += 1
            if kind == "text":
                if text:
                    nodes.append(text)
                continue
            toks = _lex_action(text, self.name)
            if not toks:
                raise TemplateError(f"template: {self.name}: missing value for command")
            head = toks[0]
            if head.kind == "ident" and head.text in ("end", "else"):
                rest = " ".join(t.text for t in toks[1:])
                return nodes, head.text + (" " + rest if rest else "")
            if head.kind == "ident" and head.text in ("if", "with", "range"):
                nodes.append(self._block(head.text, toks[1:]))
                continue
            if head.kind == "ident" and head.text in ("define", "template", "block", "break",
                                                        "continue"):
                raise TemplateError(f"template: {self.name}: {{{{{head.text}}}}} is not supported")
            nodes.append(self._pipeline(toks))
        return nodes, None

    def _block(self, kind: str, toks: list[_Tok]) -> _Block:
        block = _Block(kind, self._pipeline(toks))
        block.body, end = self._list()
        if end is None:
            raise TemplateError(f"template: {self.name}: unexpected EOF")
        if end.startswith("else"):
            rest = end[4:].strip()
            if rest:  # "else if ..." / "else with ...": a nested block that shares our {{end}}
                sub_toks = _lex_action(rest, self.name)
                if sub_toks[0].text not in ("if", "with"):
                    raise TemplateError(f"template: {self.name}: unexpected {rest!r} after else")
                block.else_body = [self._block(sub_toks[0].text, sub_toks[1:])]
                return block
            block.else_body, end = self._list()
            if end != "end":
                raise TemplateError(f"template: {self.name}: expected end; found {end!r}")
        elif end != "end":
            raise TemplateError(f"template: {self.name}: unexpected {end!r}")
        return block

    def _pipeline(self, toks: list[_Tok]) -> _Pipe:
        decl: list[str] = []
        assign = False
        # "$x :=", "$k, $v :=" and "$x =" prefixes.
        j = 0
        names: list[str] = []
        while j < len(toks) and toks[j].kind == "var":
            names.append(toks[j].text)
            if j + 1 < len(toks) and toks[j + 1].kind == "comma":
                j += 2
                continue
            break
        if names and j + 1 < len(toks) and toks[j + 1].kind in ("decl", "assign"):
            decl, assign = names, toks[j + 1].kind == "assign"
            toks = toks[j + 2 :]
        self.toks, self.k = toks, 0
        pipe = self._pipe_body(decl, assign, closing=None)
        return pipe

    def _pipe_body(self, decl: list[str], assign: bool, closing: str | None) -> _Pipe:
        cmds: list[_Cmd] = []
        args: list[Any] = []
        while self.k < len(self.toks):
            tok = self.toks[self.k]
            if tok.kind == "rparen" and closing == "rparen":
                break
            self.k += 1
            if tok.kind == "pipe":
                if not args:
                    raise TemplateError(f"template: {self.name}: missing value for command")
                cmds.append(_Cmd(args))
                args = []
                continue
            args.append(self._operand(tok))
        if args:
            cmds.append(_Cmd(args))
        if not cmds:
            raise TemplateError(f"template: {self.name}: missing value for command")
        return _Pipe(decl, assign, cmds)

    def _operand(self, tok: _Tok) -> Any:
        node: Any
        if tok.kind == "lparen":
            node = self._pipe_body([], False, closing="rparen")
            if self.k >= len(self.toks) or self.toks[self.k].kind != "rparen":
                raise TemplateError(f"template: {self.name}: unclosed left paren")
            self.k += 1
        elif tok.kind == "field":
            return _Field(None, tok.text.split(".")[1:])
        elif tok.kind == "dot":
            return _Field(None, [])
        elif tok.kind == "var":
            node = _Var(tok.text)
        elif tok.kind == "str":
            return _Lit(_unquote(tok.text, self.name))
        elif tok.kind == "raw":
            return _Lit(tok.text[1:-1])
        elif tok.kind == "char":
            return _Lit(ord(_unquote('"' + tok.text[1:-1] + '"', self.name)))
        elif tok.kind == "num":
            return _Lit(_number(tok.text, self.name))
        elif tok.kind == "ident":
            if tok.text in ("true", "false"):
                return _Lit(tok.text == "true")
            if tok.text == "nil":
                return _Lit(None)
            if tok.text not in self.funcs:
                raise TemplateError(f'template: {self.name}:1: function "{tok.text}" not defined')
            return _Func(tok.text)
        else:
            raise TemplateError(f"template: {self.name}: unexpected {tok.text!r} in operand")
        # A field chain right after "$x" or "(...)".
        if self.k < len(self.toks) and self.toks[self.k].kind == "field":
            names = self.toks[self.k].text.split(".")[1:]
            self.k += 1
            return _Field(node, names)
        return node


def _unquote(text: str, name: str) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            raise TemplateError(f"template: {name}: bad string literal {text}") from None
    return str(value)


def _number(text: str, name: str) -> int | float:
    plain = text.replace("_", "")
    try:
        return int(plain, 0)
    except ValueError:
        try:
            return float(plain)
        except ValueError:
            raise TemplateError(f"template: {name}: bad number syntax: {text!r}") from None


# --- evaluation ------------------------------------------------------------------------------


def value_size(value: Any) -> int:
    """The size that counts against ``max_output``: characters of text, items of a collection."""
    if isinstance(value, str | bytes | list | tuple | dict):
        return len(value)
    if isinstance(value, int) and value.bit_length() > 4096:
        # Go's are int64; Python's grow without bound and squaring a huge one takes seconds.
        return 1 << 62
    return 0


class _Exec:
    def __init__(self, name: str, funcs: dict[str, Callable[..., Any]],
                 limits: Limits = LIMITS) -> None:
        self.name = name
        self.funcs = funcs
        self.limits = limits
        self.steps = 0
        self.size = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def _limit(self, what: str) -> TemplateLimitError:
        return TemplateLimitError(
            f"template: {self.name}: {what}; templates are limited to "
            f"{self.limits.max_output} characters, {self.limits.max_steps} steps and "
            f"{self.limits.max_seconds:g} s"
        )

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise self._limit(f"more than {self.limits.max_steps} steps")
        if self.steps % 1024 == 0 and time.monotonic() > self.deadline:
            raise self._limit(f"evaluation took longer than {self.limits.max_seconds:g} s")

    def _emit(self, out: list[str], text: str) -> None:
        self.size += len(text)
        if self.size > self.limits.max_output:
            raise self._limit(f"output larger than {self.limits.max_output} characters")
        out.append(text)

    def run(self, nodes: list[Any], dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        for node in nodes:
            self._step()
            if isinstance(node, str):
                self._emit(out, node)
            elif isinstance(node, _Pipe):
                value = self.pipe(node, dot, scopes)
                if not node.decl:
                    self._emit(out, to_text(value))
            else:
                self.block(node, dot, scopes, out)

    def block(self, node: _Block, dot: Any, scopes: list[dict[str, Any]], out: list[str]) -> None:
        scopes = [*scopes, {}]
        value = self.pipe(node.pipe, dot, scopes)
        if node.kind == "if":
            chosen = node.body if truth(value) else node.else_body
            if chosen:
                self.run(chosen, dot, scopes, out)
        elif node.kind == "with":
            if truth(value):
                self.run(node.body, value, scopes, out)
            elif node.else_body:
                self.run(node.else_body, dot, scopes, out)
        else:  # range
            items: list[tuple[Any, Any]]
            if isinstance(value, dict):
                items = [(k, value[k]) for k in sorted(value)]
            elif isinstance(value, list | tuple | str):
                items = list(enumerate(value))
            elif isinstance(value, int) and not isinstance(value, bool):
                if value > self.limits.max_steps:
                    raise self._limit(f"range over {value} items")
                items = [(i, i) for i in range(value)]
            elif value is None or value is MISSING:
                items = []
            else:
                raise TemplateError(f"range can't iterate over {to_text(value)}")
            if not items and node.else_body:
                self.run(node.else_body, dot, scopes, out)
            for key, item in items:
                self._step()
                inner = [*scopes, {}]
                if len(node.pipe.decl) == 1:
                    inner[-1][node.pipe.decl[0]] = item
                elif len(node.pipe.decl) == 2:
                    inner[-1][node.pipe.decl[0]] = key
                    inner[-1][node.pipe.decl[1]] = item
                self.run(node.body, item, inner, out)

    def pipe(self, pipe: _Pipe, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = MISSING
        first = True
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, scopes, None if first else value, not first)
            first = False
        if pipe.decl:
            if pipe.assign:
                for scope in reversed(scopes):
                    if pipe.decl[0] in scope:
                        scope[pipe.decl[0]] = value
                        break
                else:
                    raise TemplateError(f"undefined variable: {pipe.decl[0]}")
            elif len(pipe.decl) == 1:
                scopes[-1][pipe.decl[0]] = value
        return value

    def command(self, cmd: _Cmd, dot: Any, scopes: list[dict[str, Any]], piped: Any,
                has_piped: bool) -> Any:
        self._step()
        head = cmd.args[0]
        if isinstance(head, _Func):
            args = [self.arg(a, dot, scopes) for a in cmd.args[1:]]
            if has_piped:
                args.append(piped)
            try:
                result = self.funcs[head.name](*args)
                if value_size(result) > self.limits.max_output:
                    raise self._limit(f"{head.name} made a value that is too large")
                return result
            except TemplateLimitError as exc:
                if str(exc).startswith("template:"):
                    raise
                raise self._limit(str(exc)) from None
            except TemplateError:
                raise
            except MemoryError:
                raise self._limit(f"{head.name} ran out of memory") from None
            except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError,
                    OverflowError, RecursionError) as exc:
                raise TemplateError(
                    f'template: {self.name}: executing "{self.name}": error calling '
                    f"{head.name}: {exc}"
                ) from None
        if len(cmd.args) > 1 or has_piped:
            raise TemplateError(
                f'template: {self.name}: executing "{self.name}": can\'t give argument to '
                "non-function"
            )
        return self.arg(head, dot, scopes)

    def arg(self, node: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        if isinstance(node, _Lit):
            return node.value
        if isinstance(node, _Var):
            return self.var(node.name, scopes, dot)
        if isinstance(node, _Pipe):
            return self.pipe(node, dot, scopes)
        if isinstance(node, _Func):
            return self.funcs[node.name]()
        assert isinstance(node, _Field)
        if node.base is None:
            base = dot
        elif isinstance(node.base, _Var):
            base = self.var(node.base.name, scopes, dot)
        else:
            base = self.pipe(node.base, dot, scopes)
        for name in node.names:
            if isinstance(base, dict):
                base = base.get(name, MISSING)
            elif base is MISSING or base is None:
                base = MISSING
            else:
                raise TemplateError(
                    f'template: {self.name}: executing "{self.name}" at <.{name}>: '
                    f"can't evaluate field {name} in type {_go_type(base)}"
                )
        return base

    def var(self, name: str, scopes: list[dict[str, Any]], dot: Any) -> Any:
        for scope in reversed(scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f"template: {self.name}: undefined variable \"{name}\"")


def _go_type(value: Any) -> str:
    return {str: "string", int: "int", float: "float64", bool: "bool", list: "[]interface {}"}.get(
        type(value), "interface {}"
    )


def render(name: str, source: str, data: dict[str, Any],
           funcs: dict[str, Callable[..., Any]] | None = None, limits: Limits = LIMITS) -> str:
    """Evaluate ``source``; raises TemplateError, or TemplateLimitError past ``limits``."""
    from kubecrypt.sealed.sprig import FUNCS

    table = funcs if funcs is not None else FUNCS
    if len(source) > limits.max_output:
        raise TemplateLimitError(f"template: {name}: longer than {limits.max_output} characters")
    nodes = _Parser(name, table).parse(source)
    out: list[str] = []
    _Exec(name, table, limits).run(nodes, data, [{"$": data}], out)
    return "".join(out)


__all__ = ["LIMITS", "MISSING", "Limits", "TemplateError", "TemplateLimitError", "render",
           "to_text", "truth"]
