"""kubecrypt-native objects: the ciphertext is a SOPS file or a SealedSecret, read from a
ConfigMap in the pod's namespace (or a file under the provider's ``--native-root``), and
decrypted at mount time with keys only the provider holds. The plaintext goes to the pod's
tmpfs and never becomes a Secret unless the SecretProviderClass's ``secretObjects`` asks.

    objects: |
      - objectName: app.env
        sops: {configMap: app-sops, key: app.enc.env}           # format from the key's extension
      - objectName: db-password
        sealedSecret: {configMap: app-sealed, key: db.yaml, item: password}

Namespace binding, so one namespace cannot have another's ciphertext decrypted for it:
a SealedSecret is decrypted as if it lived in the pod's namespace (its own
``metadata.namespace`` is replaced, as the controller uses the namespace the object is stored
in), so strict and namespace-wide SealedSecrets of another namespace fail; SOPS files are
decrypted with ``--age-identity-dir``/<namespace>.txt (one identity per namespace) and, only if
configured, with the cluster-wide ``--age-identity``."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from kubecrypt.csi.errors import BadParameters, DecryptFailed, ObjectNotFound
from kubecrypt.csi.objects import Fetched, file_mode
from kubecrypt.csi.request import MountContext
from kubecrypt.errors import KubecryptError
from kubecrypt.safeparse import load_yaml
from kubecrypt.sealed.unseal import decrypt_items
from kubecrypt.sops.cipher import Cipher
from kubecrypt.sops.errors import MacMismatch
from kubecrypt.sops.keysources.age import AgeKey
from kubecrypt.sops.metadata import Metadata
from kubecrypt.sops.ops import verify_mac
from kubecrypt.sops.stores import FORMATS, format_for_path, store_for
from kubecrypt.sops.tree import decrypt_tree

KINDS = ("sops", "sealedSecret")
SOURCE_KEYS = {"configMap", "key", "path"}

# (namespace, name) -> {"data": {...}, "binaryData": {...}} or None when it does not exist.
ConfigMapSource = Callable[[str, str], dict[str, Any] | None]


@dataclass
class NativeKeys:
    age_identity: str | None = None       # one file, any namespace
    age_identity_dir: str | None = None   # DIR/<namespace>.txt
    sealed_keys: list[rsa.RSAPrivateKey] = field(default_factory=list)
    native_root: str | None = None        # node files must lie under it


def is_native(entry: dict[str, Any]) -> bool:
    return any(k in entry for k in KINDS)


def _kind(entry: dict[str, Any], spc: str) -> tuple[str, dict[str, Any]]:
    kinds = [k for k in KINDS if k in entry]
    name = entry["objectName"]
    if len(kinds) != 1 or not isinstance(entry[kinds[0]], dict):
        raise BadParameters(f"{spc}: object {name!r} must have exactly one of sops: or "
                            "sealedSecret:, a mapping with configMap and key (or path)")
    return kinds[0], entry[kinds[0]]


def _read_source(src: dict[str, Any], name: str, ctx: MountContext, keys: NativeKeys,
                 configmaps: ConfigMapSource | None) -> tuple[bytes, str]:
    """(ciphertext bytes, the name whose extension gives the format)."""
    spc, ns = ctx.spc, ctx.pod.namespace
    if "path" in src:
        if "configMap" in src:
            raise BadParameters(f"{spc}: object {name!r}: give configMap+key or path, not both")
        if not keys.native_root:
            raise BadParameters(f"{spc}: object {name!r} reads a node path, but the provider runs "
                                "without --native-root; use a ConfigMap or start it with one")
        root = Path(keys.native_root).resolve()
        target = (root / str(src["path"]).lstrip("/")).resolve()
        if not target.is_relative_to(root):
            raise BadParameters(f"{spc}: object {name!r}: path {src['path']!r} leaves the "
                                "provider's --native-root")
        try:
            return target.read_bytes(), target.name
        except OSError as exc:
            raise ObjectNotFound(f"{spc}: object {name!r}: cannot read {src['path']!r} under "
                                 f"--native-root ({exc.strerror})") from None
    cm, key = src.get("configMap"), src.get("key")
    if not isinstance(cm, str) or not cm or not isinstance(key, str) or not key:
        raise BadParameters(f"{spc}: object {name!r}: set configMap (a ConfigMap in the pod's "
                            "namespace) and key (its data key), or path")
    if configmaps is None:
        raise BadParameters(f"{spc}: object {name!r} reads ConfigMap {cm!r}, but the provider has "
                            "no Kubernetes API access; run it in the cluster or with --kubeconfig")
    obj = configmaps(ns, cm)
    if obj is None:
        raise ObjectNotFound(f"{spc}: object {name!r}: ConfigMap {ns}/{cm} does not exist")
    if key in (obj.get("data") or {}):
        return str(obj["data"][key]).encode(), key
    if key in (obj.get("binaryData") or {}):
        return base64.b64decode(obj["binaryData"][key]), key
    present = sorted([*(obj.get("data") or {}), *(obj.get("binaryData") or {})])
    raise ObjectNotFound(f"{spc}: object {name!r}: ConfigMap {ns}/{cm} has no key {key!r} "
                         f"(it has {', '.join(present) or 'none'})")


def _identities(ns: str, keys: NativeKeys) -> list[Any]:
    import pyrage

    out: list[Any] = []
    files = []
    if keys.age_identity_dir:
        files.append(Path(keys.age_identity_dir) / f"{ns}.txt")
    if keys.age_identity:
        files.append(Path(keys.age_identity))
    for path in files:
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise DecryptFailed(f"cannot read the age identity file {path} ({exc.strerror})") from None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("AGE-SECRET-KEY-1"):
                try:
                    out.append(pyrage.x25519.Identity.from_str(line))
                except Exception:
                    raise DecryptFailed(f"the age identity file {path} holds an invalid "
                                        "identity") from None
    return out


def _sops(data: bytes, source_name: str, src: dict[str, Any], name: str, ctx: MountContext,
          keys: NativeKeys) -> bytes:
    import pyrage

    spc, ns = ctx.spc, ctx.pod.namespace
    fmt = str(src.get("format") or format_for_path(source_name))
    out_fmt = str(src.get("outputFormat") or fmt)
    for f in (fmt, out_fmt):
        if f not in FORMATS:
            raise BadParameters(f"{spc}: object {name!r}: format {f!r} is not one of "
                                f"{', '.join(FORMATS)}")
    try:
        store = store_for(fmt)
        branches, raw_md = store.load_encrypted(data)
        md = Metadata.from_tree(raw_md)
    except KubecryptError as exc:
        raise BadParameters(f"{spc}: object {name!r}: not a SOPS {fmt} file ({exc})") from None
    age_keys = [k for g in md.key_groups for k in g if isinstance(k, AgeKey)]
    if len(md.key_groups) != 1 or not age_keys:
        raise BadParameters(f"{spc}: object {name!r}: the provider decrypts SOPS files with one "
                            "key group holding an age recipient; re-encrypt it with the "
                            f"namespace's age recipient (sops updatekeys)")
    ids = _identities(ns, keys)
    if not ids:
        raise DecryptFailed(f"{spc}: object {name!r}: the provider holds no age identity for "
                            f"namespace {ns!r}; add {ns}.txt to --age-identity-dir")
    data_key = None
    for k in age_keys:
        try:
            data_key = bytes(pyrage.decrypt(k.enc.encode(), ids))
            break
        except Exception:
            continue
    if data_key is None:
        raise DecryptFailed(f"{spc}: object {name!r}: none of its age recipients "
                            f"({', '.join(k.recipient for k in age_keys)}) is an identity the "
                            f"provider holds for namespace {ns!r}; encrypt it to that namespace's "
                            "recipient")
    if fmt == "binary":
        md.record_selection = False
    try:
        cipher = Cipher(data_key)
        computed = decrypt_tree(branches, md.selection, cipher, md.mac_only_encrypted)
        verify_mac(md, cipher, computed)
        return store_for(out_fmt).emit_plain(branches)
    except MacMismatch:
        raise DecryptFailed(f"{spc}: object {name!r}: the SOPS file's MAC does not match (it was "
                            "altered after encryption); restore it from its source") from None
    except KubecryptError as exc:
        raise DecryptFailed(f"{spc}: object {name!r}: cannot decrypt the SOPS file "
                            f"({type(exc).__name__}); check that it is intact") from None


def _sealed(data: bytes, src: dict[str, Any], name: str, ctx: MountContext,
            keys: NativeKeys) -> bytes:
    spc, ns = ctx.spc, ctx.pod.namespace
    doc = load_yaml(data, f"{spc} object {name!r}", error=BadParameters)
    if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
        raise BadParameters(f"{spc}: object {name!r}: the source is not a SealedSecret document")
    if not keys.sealed_keys:
        raise DecryptFailed(f"{spc}: object {name!r}: the provider holds no Sealed Secrets "
                            "private keys; start it with --sealed-keys")
    doc = copy.deepcopy(doc)
    doc.setdefault("metadata", {})
    if not isinstance(doc["metadata"], dict):
        raise BadParameters(f"{spc}: object {name!r}: the SealedSecret's metadata is not a mapping")
    doc["metadata"]["namespace"] = ns  # decrypted where it is stored: the pod's namespace
    encrypted = (doc.get("spec") or {}).get("encryptedData") or {}
    item = src.get("item")
    if item is None:
        if len(encrypted) != 1:
            raise BadParameters(f"{spc}: object {name!r}: the SealedSecret has "
                                f"{len(encrypted)} items ({', '.join(sorted(encrypted))}); "
                                "choose one with item:")
        item = next(iter(encrypted))
    if item not in encrypted:
        raise ObjectNotFound(f"{spc}: object {name!r}: the SealedSecret has no item {item!r} (it "
                             f"has {', '.join(sorted(encrypted)) or 'none'})")
    doc["spec"] = {**doc.get("spec", {}), "encryptedData": {item: encrypted[item]}}
    try:
        return decrypt_items(doc, keys.sealed_keys)[item]
    except KubecryptError:
        raise DecryptFailed(
            f"{spc}: object {name!r}: item {item!r} does not decrypt with the provider's keys "
            f"as a SealedSecret of namespace {ns!r}; seal it for this namespace (and name) with "
            "the cluster's current certificate") from None


def fetch(ctx: MountContext, entries: list[dict[str, Any]], keys: NativeKeys,
          configmaps: ConfigMapSource | None) -> list[Fetched]:
    out: list[Fetched] = []
    for entry in entries:
        name = entry["objectName"]
        kind, src = _kind(entry, ctx.spc)
        unknown = sorted(set(src) - SOURCE_KEYS - {"format", "outputFormat", "item"})
        if unknown:
            raise BadParameters(f"{ctx.spc}: object {name!r}: unknown {kind} key(s) "
                                f"{', '.join(unknown)}; use configMap, key or path, format, "
                                "outputFormat, item")
        data, source_name = _read_source(src, name, ctx, keys, configmaps)
        if kind == "sops":
            plain = _sops(data, source_name, src, name, ctx, keys)
        else:
            plain = _sealed(data, src, name, ctx, keys)
        config = {"objectName": name, kind: src}
        out.append(Fetched(name, plain, file_mode(entry, ctx.permission), config))
    return out
