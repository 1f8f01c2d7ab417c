"""core/v1 ServiceAccount, with its ``token`` subresource (TokenRequest, see ``tokens``). The
service account controller's ``default`` in every namespace is made by the lab's controllers."""

from __future__ import annotations

from kubecrypt.lab.apiserver.columns import AGE, NAME, col
from kubecrypt.lab.apiserver.kindbase import Strategy, fields
from kubecrypt.lab.apiserver.resources import RW, Resource


class ServiceAccountStrategy(Strategy):
    columns = (NAME, col("Secrets", lambda o: len(o.get("secrets") or []), "integer"), AGE)
    top_fields = fields("secrets", "imagePullSecrets", "automountServiceAccountToken")


STRATEGY = ServiceAccountStrategy()
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount",
                            True, False, RW, ("sa",), strategy=STRATEGY,
                            subresources=(("token", ("create",)),))
RESOURCES = (SERVICE_ACCOUNTS,)
