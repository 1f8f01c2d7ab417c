"""The default ClusterRoles and ClusterRoleBindings (``bootstrap_policy.yaml`` beside this
module, taken from upstream's bootstrap policy; see the header of that file for the source)."""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml


@functools.cache
def _load() -> tuple[dict[str, Any], ...]:
    text = resources.files("kubecrypt.rbac").joinpath("bootstrap_policy.yaml").read_text()
    return tuple(yaml.safe_load(text)["items"])


def bootstrap_objects() -> list[dict[str, Any]]:
    """Fresh copies of every default ClusterRole and ClusterRoleBinding (rules of aggregated
    roles still null, as they are stored before the aggregation controller runs)."""
    return copy.deepcopy(list(_load()))


def bootstrap_cluster_roles() -> list[dict[str, Any]]:
    return [o for o in bootstrap_objects() if o["kind"] == "ClusterRole"]


def bootstrap_cluster_role_bindings() -> list[dict[str, Any]]:
    return [o for o in bootstrap_objects() if o["kind"] == "ClusterRoleBinding"]
