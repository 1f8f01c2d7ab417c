"""Why a mount failed: one sentence naming the object and the fix, and a short code.

The code is what the real driver uses as a metric label; the sentence travels as the gRPC
status message, which the driver quotes in the pod's events (an ``Error.code`` alone would reach
the user as "mount request failed with provider error code X", without the sentence)."""

from __future__ import annotations

from kubecrypt.errors import KubecryptError


class MountError(KubecryptError):
    """A mount that cannot be served; ``code`` is a short CamelCase reason."""

    code = "MountFailed"
    grpc_code = "INTERNAL"


class BadParameters(MountError):
    code = "BadParameters"
    grpc_code = "INVALID_ARGUMENT"


class NotAuthorized(MountError):
    code = "NotAuthorized"
    grpc_code = "PERMISSION_DENIED"


class ObjectNotFound(MountError):
    code = "ObjectNotFound"
    grpc_code = "NOT_FOUND"


class StoreUnavailable(MountError):
    code = "StoreUnavailable"
    grpc_code = "UNAVAILABLE"


class DecryptFailed(MountError):
    code = "DecryptFailed"
    grpc_code = "FAILED_PRECONDITION"
