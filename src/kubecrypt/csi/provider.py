"""One Mount, without gRPC: parse the request, hand each object to its dialect, check the files
the driver will write, and version them."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubecrypt.csi import native, vault
from kubecrypt.csi.errors import BadParameters
from kubecrypt.csi.files import path_problem
from kubecrypt.csi.objects import Fetched, Versioner, parse_objects
from kubecrypt.csi.request import MountContext, parse


@dataclass
class Mounted:
    files: list[Fetched]
    versions: list[tuple[str, str]]


@dataclass
class Provider:
    versioner: Versioner
    vault_settings: vault.Settings = field(default_factory=vault.Settings)
    native_keys: native.NativeKeys = field(default_factory=native.NativeKeys)
    token_source: vault.TokenSource | None = None
    configmaps: native.ConfigMapSource | None = None

    def mount(self, attributes: str, secrets: str, permission: str, target_path: str) -> Mounted:
        ctx = parse(attributes, secrets, permission, target_path)
        return self.mount_context(ctx)

    def mount_context(self, ctx: MountContext) -> Mounted:
        entries = parse_objects(ctx.attributes.get("objects", ""), ctx.spc)
        for entry in entries:
            problem = path_problem(entry["objectName"])
            if problem:
                raise BadParameters(f"{ctx.spc}: objectName {entry['objectName']!r} {problem}; it "
                                    "is the file's path relative to the mount")
        natives = [e for e in entries if native.is_native(e)]
        vaults = [e for e in entries if not native.is_native(e)]
        fetched: dict[str, Fetched] = {}
        if vaults:
            for f in vault.fetch(ctx, vaults, self.vault_settings, self.token_source):
                fetched[f.name] = f
        if natives:
            for f in native.fetch(ctx, natives, self.native_keys, self.configmaps):
                fetched[f.name] = f
        files = [fetched[e["objectName"]] for e in entries]
        return Mounted(files, [(f.name, self.versioner.version(f)) for f in files])
