"""Log lines that cannot be forged: control characters in logged values (a request path with an
encoded CR/LF, a header) are escaped, so one record is always one line."""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: object) -> str:
    """``text`` with every control character (and the Unicode line separators) as ``\\xNN`` or
    ``\\uNNNN``."""

    def one(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(one, str(text))


class EscapingFormatter(logging.Formatter):
    """Escapes the message (the arguments already merged in); a traceback, added after it, keeps
    its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)
