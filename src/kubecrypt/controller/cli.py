"""``kubecrypt sealed controller``: upstream's flags (and ``SEALED_SECRETS_<FLAG>``) to a
:class:`Config`, then the controller in the foreground."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import click

from kubecrypt.controller import config as c
from kubecrypt.sealed.errors import SealedInputError
from kubecrypt.sealed.keys import DEFAULT_KEY_PREFIX


def _bool(name: str, default: bool, help: str) -> Any:
    return click.option(f"--{name}", type=click.BOOL, default=default, show_default=True,
                        help=help)


OPTIONS = [
    click.option("--kubeconfig", default=None, help="Kubeconfig file (default: $KUBECONFIG / "
                 "~/.kube/config, else in-cluster)."),
    click.option("--context", default=None, help="Kubeconfig context."),
    click.option("--namespace", default=None, help="The controller's namespace (key Secrets, "
                 "Lease) [default: $POD_NAMESPACE, the service account's, else default]."),
    click.option("--key-prefix", default=DEFAULT_KEY_PREFIX, show_default=True),
    click.option("--key-size", type=int, default=4096, show_default=True),
    click.option("--key-ttl", default="87600h", show_default=True),
    click.option("--my-cn", default=""),
    click.option("--key-renew-period", "--rotate-period", "key_renew_period", default="720h",
                 show_default=True, help="New key this often; 0 disables renewal."),
    click.option("--key-cutoff-time", default="", help="RFC 1123Z; at start, a new key if the "
                 "newest is older."),
    click.option("--key-order-priority", default="CertNotBefore", show_default=True),
    _bool("accept-deprecated-v1-data", True, "Accept legacy spec.data."),
    _bool("all-namespaces", True, "Watch all namespaces (false: only its own)."),
    click.option("--additional-namespaces", default="", help="Comma list; with its own "
                 "namespace, the only ones watched."),
    click.option("--label-selector", default=""),
    _bool("update-status", True, "Maintain status."),
    _bool("skip-recreate", False, "Do not recreate deleted Secrets."),
    _bool("watch-for-secrets", True, "Accepted for compatibility; key Secrets are always "
          "watched."),
    _bool("old-gc-behavior", False, "Delete the Secret when its SealedSecret goes."),
    click.option("--max-unseal-retries", type=int, default=5, show_default=True),
    click.option("--rate-limit", type=float, default=2.0, show_default=True),
    click.option("--rate-limit-burst", type=int, default=2, show_default=True),
    click.option("--privatekey-annotations", default=""),
    click.option("--privatekey-labels", default=""),
    click.option("--listen-addr", default=":8080", show_default=True),
    click.option("--listen-metrics-addr", default=":8081", show_default=True),
    _bool("leader-elect", True, "Lease-based leader election (replicas > 1)."),
    click.option("--leader-elect-lease-name", default="sealed-secrets-controller",
                 show_default=True),
    click.option("--leader-elect-lease-duration", default="15s", show_default=True),
    click.option("--leader-elect-renew-deadline", default="10s", show_default=True),
    click.option("--leader-elect-retry-period", default="2s", show_default=True),
    click.option("--identity", default="", help="Leader election identity [hostname_pid]."),
    click.option("--workers", type=int, default=-1, show_default=True,
                 help="Unsealing processes (-1: one per CPU; 0: in-process)."),
    click.option("--concurrency", type=int, default=32, show_default=True,
                 help="SealedSecrets reconciled at once."),
    click.option("--retry-base", default="1s", show_default=True,
                 help="First retry delay (doubles per failure)."),
    _bool("rotate-flatten-template", False, "/v1/rotate as upstream (renders template.data, "
          "drops template-only metadata)."),
    click.option("--read-timeout", default="2m", show_default=True,
                 help="Longest time to read a whole HTTP request (also the keep-alive idle "
                 "time)."),
    click.option("--write-timeout", default="2m", show_default=True,
                 help="Longest time to write an HTTP response."),
    click.option("--max-connections", type=click.IntRange(min=1), default=512,
                 show_default=True, help="Open HTTP connections per listener; more are "
                 "answered 503."),
    click.option("--kubeclient-qps", type=float, default=-1.0, show_default=True,
                 help="Requests per second to the API server (negative: no limit; upstream's "
                 "default is 5, which would bind reconciling to 5 requests a second)."),
    click.option("--kubeclient-burst", type=click.IntRange(min=1), default=10,
                 show_default=True, help="Requests to the API server allowed at once above "
                 "the QPS."),
    click.option("--log-level", default="INFO", show_default=True),
    click.option("--log-format", type=click.Choice(["text", "json"]), default="text"),
    _bool("log-info-stdout", True, "Accepted for compatibility."),
]


def build_config(o: dict[str, Any]) -> c.Config:
    if o["key_order_priority"] not in c.ORDER_PRIORITIES:
        logging.getLogger("kubecrypt.controller").error(
            "unknown --key-order-priority %r; using CertNotBefore", o["key_order_priority"])
        o["key_order_priority"] = "CertNotBefore"
    c.address("listen-addr", o["listen_addr"])  # refuse a bad address before connecting
    if o["listen_metrics_addr"]:
        c.address("listen-metrics-addr", o["listen_metrics_addr"])
    if o["key_size"] < 2048:
        raise SealedInputError("--key-size must be at least 2048 bits")
    return c.Config(
        kubeconfig=o["kubeconfig"], context=o["context"],
        namespace=c.own_namespace(o["namespace"]), key_prefix=o["key_prefix"],
        key_size=o["key_size"], key_ttl=c.duration("key-ttl", o["key_ttl"], allow_zero=False),
        my_cn=o["my_cn"], key_renew_period=c.duration("key-renew-period", o["key_renew_period"]),
        key_cutoff_time=c.cutoff_time(o["key_cutoff_time"]),
        key_order_priority=o["key_order_priority"],
        accept_deprecated_v1_data=o["accept_deprecated_v1_data"],
        all_namespaces=o["all_namespaces"],
        additional_namespaces=[n.strip() for n in o["additional_namespaces"].split(",")
                               if n.strip()],
        label_selector=o["label_selector"], update_status=o["update_status"],
        skip_recreate=o["skip_recreate"], old_gc_behavior=o["old_gc_behavior"],
        max_unseal_retries=o["max_unseal_retries"], rate_limit=o["rate_limit"],
        rate_limit_burst=o["rate_limit_burst"],
        privatekey_annotations=c.key_values("privatekey-annotations",
                                            o["privatekey_annotations"]),
        privatekey_labels=c.key_values("privatekey-labels", o["privatekey_labels"]),
        listen_addr=o["listen_addr"], listen_metrics_addr=o["listen_metrics_addr"],
        leader_elect=o["leader_elect"], lease_name=o["leader_elect_lease_name"],
        lease_duration=c.duration("leader-elect-lease-duration",
                                  o["leader_elect_lease_duration"], False).total_seconds(),
        renew_deadline=c.duration("leader-elect-renew-deadline",
                                  o["leader_elect_renew_deadline"], False).total_seconds(),
        retry_period=c.duration("leader-elect-retry-period",
                                o["leader_elect_retry_period"], False).total_seconds(),
        identity=o["identity"], workers=o["workers"], concurrency=o["concurrency"],
        retry_base=c.duration("retry-base", o["retry_base"], False).total_seconds(),
        rotate_flatten_template=o["rotate_flatten_template"],
        read_timeout=c.duration("read-timeout", o["read_timeout"], False).total_seconds(),
        write_timeout=c.duration("write-timeout", o["write_timeout"], False).total_seconds(),
        max_connections=o["max_connections"], kubeclient_qps=o["kubeclient_qps"],
        kubeclient_burst=o["kubeclient_burst"],
    )


def setup_logging(level: str, fmt: str) -> None:
    if fmt == "json":
        form = '{"time":"%(asctime)s","level":"%(levelname)s","msg":"%(message)s"}'
    else:
        form = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=form,
                        stream=sys.stderr)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def controller_command(group: click.Group) -> None:
    def command(**options: Any) -> None:
        """Run the Sealed Secrets controller (bitnami-compatible) against a cluster."""
        setup_logging(options["log_level"], options["log_format"])
        config = build_config(options)
        from kubecrypt.controller.run import main

        asyncio.run(main(config))

    for option in reversed(OPTIONS):
        command = option(command)
    group.command("controller", context_settings={"auto_envvar_prefix": "SEALED_SECRETS"},
                  help=command.__doc__)(command)
