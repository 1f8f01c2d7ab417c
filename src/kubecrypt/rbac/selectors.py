"""metav1.LabelSelector matching (apimachinery ``LabelSelectorAsSelector``): ``matchLabels`` and
``matchExpressions`` with In, NotIn, Exists, DoesNotExist, ANDed. An empty selector matches
everything; a null one nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubecrypt.errors import ConfigError


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = list(expr.get("values") or [])
        if op == "In":
            if not values:
                raise ConfigError(f"label selector on {key!r}: operator In needs values")
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if not values:
                raise ConfigError(f"label selector on {key!r}: operator NotIn needs values")
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if values:
                raise ConfigError(f"label selector on {key!r}: operator Exists takes no values")
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if values:
                raise ConfigError(
                    f"label selector on {key!r}: operator DoesNotExist takes no values"
                )
            if key in labels:
                return False
        else:
            raise ConfigError(
                f"label selector on {key!r}: unknown operator {op!r}; use In, NotIn, Exists "
                "or DoesNotExist"
            )
    return True
