"""coordination.k8s.io/v1 Lease: leader election's lock."""

from __future__ import annotations

from typing import Any

from kubecrypt.errors import EncodingError
from kubecrypt.lab.apiserver import errors
from kubecrypt.lab.apiserver.columns import AGE, NAME, col, path
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource
from kubecrypt.storage.objectmeta import encode_micro_time

_FIELD_TYPES = {"holderIdentity": "string", "strategy": "string", "preferredHolder": "string",
                "leaseDurationSeconds": "int32", "leaseTransitions": "int32",
                "acquireTime": "v1.MicroTime", "renewTime": "v1.MicroTime"}


def check_lease_spec(spec: Any) -> None:
    """Types as the JSON decoder checks them, so a bad body is a 400 and never reaches storage."""

    def bad(field: str, go_type: str) -> errors.ApiError:
        return errors.bad_request('Lease in version "v1" cannot be handled as a Lease: json: '
                                  f"cannot unmarshal into Go struct field {field} of type {go_type}")

    if spec is None:
        return
    if not isinstance(spec, dict):
        raise bad("Lease.spec", "v1.LeaseSpec")
    for name, value in spec.items():
        go_type = _FIELD_TYPES.get(name)
        if value is None or go_type is None:
            continue
        if go_type == "string" and not isinstance(value, str):
            raise bad(f"LeaseSpec.spec.{name}", go_type)
        if go_type == "int32" and (isinstance(value, bool) or not isinstance(value, int)
                                   or not -(2**31) <= value < 2**31):
            raise bad(f"LeaseSpec.spec.{name}", go_type)
        if go_type == "v1.MicroTime":
            try:
                encode_micro_time(value)
            except (EncodingError, TypeError, AttributeError):
                raise bad(f"LeaseSpec.spec.{name}", go_type) from None


class LeaseStrategy(Strategy):
    columns = (NAME, col("Holder", path("spec", "holderIdentity"),
                         description="holderIdentity contains the identity of the holder of a "
                         "current lease."), AGE)
    top_fields = fields("spec")

    def check_shape(self, obj: dict[str, Any]) -> None:
        check_lease_spec(obj.get("spec"))


STRATEGY = LeaseStrategy()

RESOURCES = (Resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", True, True, RW,
                      strategy=STRATEGY),)
