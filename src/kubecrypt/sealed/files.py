"""Atomic file writes live in :mod:`kubecrypt.fileio`; this name stays for existing imports."""

from kubecrypt.fileio import atomic_write

__all__ = ["atomic_write"]
