"""How sops 3.11 orders a sub-command's arguments before it parses them: its CLI library,
urfave/cli v1.22.17 (command.go ``reorderArgs``/``argIsFlag``), moves every flag of the
sub-command, with the argument after it, in front of the other arguments, then Go's ``flag``
package reads flags up to the first positional argument. So ``sops decrypt f --extract '["a"]'``
extracts, and an unknown flag after FILE (``sops decrypt f --x``) is one more positional
argument (sops warns). sops' older form (``sops -d f --extract x``) is parsed by the
application itself, which does not reorder. No click here: the fast path uses it too."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def reorder_args(flags: Mapping[str, str], args: Sequence[str]) -> list[str]:
    """urfave/cli's ``reorderArgs``. ``flags`` maps each flag name of the sub-command without
    its dashes (``extract``, ``i``) to its click spelling (``--extract``, ``-i``): Go accepts
    ``-extract`` and ``--i`` alike, so a moved flag is respelled for click. The argument after
    a moved flag moves with it unless it is itself a flag of the command, even after a flag
    that takes no value (``sops decrypt a --in-place b`` decrypts ``b``, as sops does); a
    ``--`` (not a flag's value) ends the reordering and goes first among the rest."""
    moved: list[str] = []
    rest: list[str] = []
    want_value = False
    for i, a in enumerate(args):
        spelled = _flag(flags, a)
        if want_value and spelled is None:
            want_value = False
            moved.append(a)
        elif a == "--":
            rest = ["--", *rest, *args[i + 1:]]
            break
        elif spelled is not None:
            moved.extend(spelled)
            want_value = "=" not in a
        else:
            rest.append(a)
    return moved + rest


def _flag(flags: Mapping[str, str], arg: str) -> list[str] | None:
    """``arg`` in click's spelling when urfave's ``argIsFlag`` counts it as a flag."""
    if arg in ("-", "--") or not arg.startswith("-"):
        return None
    name, eq, value = arg[2 if arg.startswith("--") else 1:].partition("=")
    spelled = flags.get(name)
    if spelled is None:
        return None
    if not eq:
        return [spelled]
    # Go reads "-a=R" as the value R, click as "=R"
    return [spelled + "=" + value] if spelled.startswith("--") else [spelled, value]


def ignored_extra_warnings(extra: Sequence[str]) -> list[str]:
    """sops' ``warnMoreThanOnePositionalArgument`` (cmd/sops/main.go) for the positional
    arguments after FILE: the last of them that starts with '-' is named."""
    if not extra:
        return []
    out = ["More than one positional argument provided. Only the first one will be used!"]
    flag_like = [a for a in extra if a.startswith("-")]
    if flag_like:
        out.append(f"Note that one of the ignored positional argument is {_go_quote(flag_like[-1])}"
                   ", which looks like a flag. Flags must always be provided before the first "
                   "positional argument!")
    return out


def _go_quote(s: str) -> str:
    """Go's ``%q`` for the text a command line holds (printable; control characters escaped)."""
    special = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return '"' + "".join(special.get(c, c if c.isprintable() else f"\\x{ord(c):02x}")
                         for c in s) + '"'


# Go's strconv.ParseBool, which the flag package uses for ``-flag=value`` on a boolean flag.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class GoBoolError(ValueError):
    """A boolean flag given a value Go's ParseBool refuses (sops exits 1)."""


def go_bools(args: Sequence[str], bools: Mapping[str, tuple[str, str | None]],
             stop_at_positional: bool = False) -> list[str]:
    """Go's flag package reads ``-i=true``, ``--in-place=false``, ``-ignore-mac=1`` on a
    boolean flag; click does not. ``bools`` maps each boolean flag's name without dashes to
    its click spellings for true and false (None: false is the default, the flag is dropped).
    Reading stops at ``--`` (and, for sops' older form, at the first positional argument)."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--" or (stop_at_positional and (a == "-" or not a.startswith("-"))):
            return out + list(args[i:])
        name, eq, value = a.lstrip("-").partition("=")
        spelled = bools.get(name) if eq and a.startswith("-") and not a.startswith("---") \
            else None
        if spelled is None:
            out.append(a)
        elif value in _GO_TRUE:
            out.append(spelled[0])
        elif value in _GO_FALSE:
            if spelled[1] is not None:
                out.append(spelled[1])
        else:
            raise GoBoolError(f'invalid boolean value "{value}" for -{name}: parse error')
    return out
