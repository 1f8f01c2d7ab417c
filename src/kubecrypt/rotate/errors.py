"""Rotation errors: each one sentence naming what stopped the workflow and what to do next."""

from __future__ import annotations

from kubecrypt.errors import KubecryptError


class RotateError(KubecryptError):
    """The workflow cannot go on (bad input, mismatching state); nothing destructive was done."""


class StateError(RotateError):
    """The state file is missing, unreadable, or belongs to another rotation."""


class NotLoaded(RotateError):
    """The API server has not (yet) loaded the edited configuration: run again to re-check."""

    exit_code = 4


class StaleValues(RotateError):
    """Stored values still need the old key: the old key stays."""

    exit_code = 3
