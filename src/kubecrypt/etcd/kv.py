"""A key and its value as etcd returns them; its own module so that the client and the watch
both import it, not each other."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes = field(repr=False)
    mod_revision: int
    create_revision: int
    version: int

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "backslashreplace")
