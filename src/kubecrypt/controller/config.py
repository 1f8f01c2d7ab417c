"""The controller's settings: upstream's flags (``cmd/controller/main.go``) and a few of ours."""

from __future__ import annotations

import datetime as dt
import email.utils
import os
from dataclasses import dataclass, field

from kubecrypt.goduration import parse_duration
from kubecrypt.kube.incluster import service_account_namespace
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import DEFAULT_KEY_PREFIX

ORDER_PRIORITIES = ("CertNotBefore", "SecretCreationTimestamp")


@dataclass
class Config:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = ""  # the controller's own namespace: key Secrets and the Lease live here
    key_prefix: str = DEFAULT_KEY_PREFIX
    key_size: int = 4096
    key_ttl: dt.timedelta = dt.timedelta(hours=87600)
    my_cn: str = ""
    key_renew_period: dt.timedelta = dt.timedelta(hours=720)  # 0: no renewal after the first
    key_cutoff_time: dt.datetime | None = None
    key_order_priority: str = "CertNotBefore"
    accept_deprecated_v1_data: bool = True
    all_namespaces: bool = True
    additional_namespaces: list[str] = field(default_factory=list)
    label_selector: str = ""
    update_status: bool = True
    skip_recreate: bool = False
    old_gc_behavior: bool = False
    max_unseal_retries: int = 5
    rate_limit: float = 2.0
    rate_limit_burst: int = 2
    privatekey_annotations: dict[str, str] = field(default_factory=dict)
    privatekey_labels: dict[str, str] = field(default_factory=dict)
    listen_addr: str = ":8080"
    listen_metrics_addr: str = ":8081"
    leader_elect: bool = True
    lease_name: str = "sealed-secrets-controller"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    workers: int = -1  # unsealing processes; -1: one per CPU (0: in the controller's process)
    concurrency: int = 32  # SealedSecrets reconciled at the same time
    retry_base: float = 1.0  # first retry delay; doubles per failure
    rotate_flatten_template: bool = False
    read_timeout: float = 120.0  # the HTTP servers: a whole request must arrive within this
    write_timeout: float = 120.0  # ... and a response must be written within this
    max_connections: int = 512  # open HTTP connections per listener; more are refused (503)
    kubeclient_qps: float = -1.0  # requests per second to the API server; negative: no limit
    kubeclient_burst: int = 10


def own_namespace(explicit: str | None) -> str:
    """``--namespace``, else ``POD_NAMESPACE``, else the service account's, else ``default``."""
    if explicit:
        return explicit
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    return service_account_namespace()


def duration(flag: str, text: str, allow_zero: bool = True) -> dt.timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise SealedInputError(f"--{flag}: {exc}") from None
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise SealedInputError(f"--{flag} must be positive, e.g. 720h")
    return dt.timedelta(seconds=seconds)


def cutoff_time(text: str) -> dt.datetime | None:
    """RFC 1123 with a numeric zone, as ``date -R`` prints it."""
    if not text.strip():
        return None
    try:
        value = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        value = None
    if value is None or value.tzinfo is None:
        raise SealedInputError(f"--key-cutoff-time {text!r} is not RFC 1123 with a numeric zone, "
                               "e.g. 'Mon, 02 Jan 2006 15:04:05 -0700' (date -R)")
    return value


def key_values(flag: str, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SealedInputError(f"--{flag}: {item!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def address(flag: str, text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise SealedInputError(f"--{flag} {text!r} is not [host]:port, e.g. :8080")
    return host or "0.0.0.0", int(port)
