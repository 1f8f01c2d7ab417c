"""Has the API server loaded the edited configuration? Asked of the server itself, through a
probe object, so it works for a real cluster (restarted by hand, or reloading by itself) as for
the lab:

- *reads the new key*: a probe value encrypted with exactly the new key is put in etcd and read
  back through the API; the server answers with the object only once it has the key. The value
  is deleted from etcd at once whatever the answer, so a list never trips over it for long.
- *writes the new key*: a probe object is created through the API and its stored value in etcd
  must carry the new key's prefix (``k8s:enc:<provider>:v1:<key>:``).

With several API servers behind one address each probe is repeated (``count``) so that every
server is likely asked; restart them all before answering "loaded" by hand."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from kubecrypt.atrest.classify import Classified, classify
from kubecrypt.atrest.config import (
    EncryptionConfiguration,
    Key,
    KeyedProviderConfig,
    ResourceConfig,
)
from kubecrypt.atrest.transformers import TransformerSet
from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.kube.dynamic import Api
from kubecrypt.kube.errors import KubeApiError
from kubecrypt.rotate.errors import NotLoaded, RotateError
from kubecrypt.storage.codec import encode
from kubecrypt.storage.keys import etcd_key

PROBE_NAME = "kubecrypt-rotation-probe"
PROBE_RESOURCES = ("secrets", "configmaps")
KINDS = {"secrets": "Secret", "configmaps": "ConfigMap"}


def probe_resource(resources: tuple[str, ...]) -> str:
    for r in PROBE_RESOURCES:
        if r in resources:
            return r
    raise RotateError("the rotated resources include neither secrets nor configmaps, so the API "
                      "server cannot be probed; add secrets to the rotated entry")


class Prober:
    def __init__(self, api: Api, etcd: BlockingEtcdClient, resource: str, namespace: str,
                 prefix: str, count: int = 1) -> None:
        self.api = api
        self.etcd = etcd
        self.resource = resource
        self.namespace = namespace
        self.count = max(1, count)
        self.key = etcd_key(resource, namespace, PROBE_NAME, prefix)

    def _object(self, nonce: str, stored: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": PROBE_NAME, "namespace": self.namespace,
                                "labels": {"app.kubernetes.io/managed-by": "kubecrypt-rotate"}}
        if stored:
            meta.update(uid=str(uuid.uuid4()),
                        creationTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": KINDS[self.resource], "metadata": meta}
        if self.resource == "secrets":
            obj["type"] = "Opaque"
            obj["data"] = {"probe": base64.b64encode(nonce.encode()).decode()}
        else:
            obj["data"] = {"probe": nonce}
        return obj

    def _nonce_of(self, obj: dict[str, Any] | None) -> str | None:
        value = ((obj or {}).get("data") or {}).get("probe")
        if value is None:
            return None
        return base64.b64decode(value).decode() if self.resource == "secrets" else str(value)

    def reads(self, provider: str, name: str, secret: bytes) -> bool:
        cfg = EncryptionConfiguration((ResourceConfig((self.resource,), (
            KeyedProviderConfig(provider, (Key(name, secret),)),)),))
        ts = TransformerSet(cfg)
        r = self.api.resource(self.resource)
        for _ in range(self.count):
            nonce = secrets.token_hex(8)
            value = ts.for_resource(self.resource).encrypt(encode(self._object(nonce, True)),
                                                           self.key.encode())
            self.etcd.put(self.key, value)
            try:
                got = self.api.get(r, self.namespace, PROBE_NAME)
            except KubeApiError:
                got = None
            finally:
                self.etcd.delete(self.key)
            if self._nonce_of(got) != nonce:
                return False
        return True

    def writes(self, provider: str, name: str) -> bool:
        """Writes with ``provider`` key ``name`` (aesgcm/aescbc/secretbox)."""
        return self.writes_where(lambda c: (c.provider, c.key) == (provider, name))

    def writes_where(self, match: Callable[[Classified], bool]) -> bool:
        """A probe object created through the API is stored as ``match`` wants it (e.g. under
        a KMS key_id)."""
        r = self.api.resource(self.resource)
        for _ in range(self.count):
            obj = self._object(secrets.token_hex(8), False)
            status = self.api.create(r, obj)
            if status == 409:
                self.api.delete(r, self.namespace, PROBE_NAME)
                status = self.api.create(r, obj)
            try:
                kv = self.etcd.get(self.key)
            finally:
                self.api.delete(r, self.namespace, PROBE_NAME)
            if kv is None or not match(classify(kv.value)):
                return False
        return True


def wait_until(check: Callable[[], bool], what: str, timeout: float,
               on_wait: Callable[[], None] | None = None, interval: float = 0.5,
               quiet: float = 3.0) -> None:
    """Polls ``check``; ``on_wait`` tells the user what to do once ``quiet`` seconds have gone
    by without the change (a self-reloading server needs no instructions)."""
    start = time.monotonic()
    deadline = start + timeout
    told = False
    while True:
        if check():
            return
        if not told and on_wait is not None and time.monotonic() - start >= min(quiet, timeout):
            on_wait()
            told = True
        if time.monotonic() >= deadline:
            raise NotLoaded(
                f"not yet: after {timeout:g}s the API server still does not {what}; restart every "
                "kube-apiserver with the edited --encryption-provider-config (or wait for its "
                "automatic reload), then run the same command again to resume"
            )
        time.sleep(interval)
