"""bitnami.com/v1alpha1 SealedSecret, served as the custom resource its CRD
(deploy/sealed-secrets/crd.yaml) describes."""

from __future__ import annotations

from kubecrypt.lab.apiserver.kinds.custom import CustomStrategy
from kubecrypt.lab.apiserver.resources import RW, Resource

STRATEGY = CustomStrategy([
    {"name": "Status", "type": "string", "jsonPath": ".status.conditions[0].message"},
    {"name": "Synced", "type": "string", "jsonPath": ".status.conditions[0].status"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}])

RESOURCES = (Resource("bitnami.com", "v1alpha1", "sealedsecrets", "sealedsecret", "SealedSecret",
                      True, False, RW, categories=("all",), status_subresource=True, custom=True,
                      strategy=STRATEGY),)
