"""The ``sops`` metadata block: fields, their order (as 3.11.0 writes them) and validation
(sops stores/stores.go ``Metadata``)."""

from __future__ import annotations

from kubecrypt.sops import SOPS_VERSION
from kubecrypt.sops.errors import SopsError
from kubecrypt.sops.keysources.base import ForeignKey, MasterKey, key_type
from kubecrypt.sops.tree import SELECTION_FIELDS, Branch, Selection
from kubecrypt.sops.values import parse_lastmodified

KEY_FIELDS_FLAT = ("kms", "gcp_kms", "azure_kv", "hc_vault", "age")  # then lastmodified, mac, pgp
# sops' keygroup struct order; hckms (Huawei Cloud KMS, which kubecrypt cannot use) sits after
# gcp_kms as in sops' metadata struct. Written back as read, so a rewrite never drops a recipient.
GROUP_FIELDS = ("pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age")
GROUP_ALWAYS = ("hc_vault", "age")  # written even when empty inside key_groups (observed)
KNOWN_KEY_FIELDS = GROUP_FIELDS


KeyGroup = list[MasterKey]


def _semver_number(part: str, which: str) -> None:
    if not part.isascii() or not all(c.isdigit() for c in part):
        raise SopsError(f'Invalid character(s) found in {which} number "{part}"')
    if len(part) > 1 and part[0] == "0":
        raise SopsError(f'{which.capitalize()} number must not contain leading zeroes "{part}"')
    if not part:
        raise SopsError(f'strconv.ParseUint: parsing "{part}": invalid syntax')


def check_file_version(version: str) -> None:
    """sops' version.AIsNewerThanB on the file's version while decrypting: a version starting
    with "1." passes, otherwise (a leading "v" dropped) it must be a semantic version as
    blang/semver's Make reads it; its error otherwise (exit 1)."""
    if version.startswith("1."):
        return
    v = version[1:] if version.startswith("v") else version
    if not v:
        raise SopsError("Version string empty")
    parts = v.split(".", 2)
    if len(parts) != 3:
        raise SopsError("No Major.Minor.Patch elements found")
    _semver_number(parts[0], "major")
    _semver_number(parts[1], "minor")
    cut = min([i for i in (parts[2].find("-"), parts[2].find("+")) if i >= 0] or [len(parts[2])])
    _semver_number(parts[2][:cut], "patch")


def key_from_dict(kind: str, d: dict[str, object]) -> MasterKey:
    if kind == "age":
        from kubecrypt.sops.keysources.age import AgeKey

        return AgeKey(str(d.get("recipient", "")), str(d.get("enc", "")))
    if kind == "pgp":
        from kubecrypt.sops.keysources.pgp import PGPKey

        return PGPKey(str(d.get("fp", "")), str(d.get("enc", "")), str(d.get("created_at", "")))
    if kind == "hc_vault":
        from kubecrypt.sops.keysources.hc_vault import VaultKey

        return VaultKey.from_dict(d)
    if kind == "kms":
        from kubecrypt.sops.keysources.kms import KMSKey

        return KMSKey.from_dict(d)
    if kind == "gcp_kms":
        from kubecrypt.sops.keysources.gcp_kms import GCPKMSKey

        return GCPKMSKey.from_dict(d)
    if kind == "azure_kv":
        from kubecrypt.sops.keysources.azure_kv import AzureKVKey

        return AzureKVKey.from_dict(d)
    return ForeignKey(kind, d)


def to_plain(v: object) -> object:
    """Branch/list tree -> plain dicts and lists (comments dropped)."""
    if isinstance(v, Branch):
        return {k: to_plain(x) for k, x in v if isinstance(k, str)}
    if isinstance(v, list):
        return [to_plain(x) for x in v]
    return v


class Metadata:
    """The fields of the ``sops`` block (a plain class rather than a dataclass: ``dataclasses``
    imports ``inspect``, milliseconds of every ``kubecrypt sops`` start)."""

    _FIELDS = ("key_groups", "shamir_threshold", "lastmodified", "mac", "selection",
               "mac_only_encrypted", "version", "record_selection")

    def __init__(self, key_groups: list[KeyGroup] | None = None, shamir_threshold: int = 0,
                 lastmodified: str = "", mac: str = "", selection: Selection | None = None,
                 mac_only_encrypted: bool = False, version: str = SOPS_VERSION,
                 record_selection: bool = True) -> None:
        self.key_groups: list[KeyGroup] = [] if key_groups is None else key_groups
        self.shamir_threshold = shamir_threshold
        self.lastmodified = lastmodified
        self.mac = mac
        self.selection = Selection() if selection is None else selection
        self.mac_only_encrypted = mac_only_encrypted
        self.version = version
        self.record_selection = record_selection  # the binary store records none

    def _astuple(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Metadata):
            return NotImplemented
        return self._astuple() == other._astuple()

    def __repr__(self) -> str:
        return "Metadata(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS) + ")"

    # ------------------------------------------------------------ reading
    @classmethod
    def from_tree(cls, raw: object, check_version: bool = True) -> Metadata:
        """The metadata of an encrypted file. ``check_version``: refuse a version sops'
        decryption refuses (``filestatus`` reads the file without that check, as sops)."""
        d = to_plain(raw)
        if not isinstance(d, dict):
            raise SopsError("The sops metadata is not a mapping; the file is damaged.")
        version = str(d.get("version") or "")
        if check_version:
            check_file_version(version)
        lm = d.get("lastmodified")
        if lm is None or lm == "":
            raise SopsError(
                'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"')
        try:
            parse_lastmodified(str(lm))
        except ValueError as exc:
            raise SopsError(str(exc)) from None
        groups: list[KeyGroup] = []
        flat: KeyGroup = []
        for kind in KNOWN_KEY_FIELDS:
            for entry in d.get(kind) or []:
                if isinstance(entry, dict):
                    flat.append(key_from_dict(kind, entry))
        if flat:
            groups = [flat]
        else:
            for g in d.get("key_groups") or []:
                if not isinstance(g, dict):
                    continue
                group: KeyGroup = []
                for kind in KNOWN_KEY_FIELDS:
                    for entry in g.get(kind) or []:
                        if isinstance(entry, dict):
                            group.append(key_from_dict(kind, entry))
                groups.append(group)
        sel = Selection.from_fields(d, "the file's metadata", lenient=True)
        mac_only = d.get("mac_only_encrypted")
        thr = d.get("shamir_threshold") or 0
        try:
            threshold = int(str(thr))
        except (TypeError, ValueError):
            raise SopsError(f"shamir_threshold {thr!r} is not a number") from None
        return cls(
            key_groups=groups, shamir_threshold=threshold, lastmodified=str(lm),
            mac=str(d.get("mac") or ""), selection=sel,
            mac_only_encrypted=mac_only is True or str(mac_only).lower() == "true",
            version=version,
        )

    # ------------------------------------------------------------ writing
    def to_branch(self, empty_as_null: bool = False) -> Branch:
        b = Branch()
        if self.shamir_threshold:
            b.append(("shamir_threshold", self.shamir_threshold))
        single = len(self.key_groups) <= 1
        by_kind: dict[str, list[object]] = {}
        if single:
            for k in self.key_groups[0] if self.key_groups else []:
                by_kind.setdefault(key_type(k), []).append(_entry(k))
        else:
            groups: list[object] = []
            for g in self.key_groups:
                gb = Branch()
                kinds: dict[str, list[object]] = {}
                for k in g:
                    kinds.setdefault(key_type(k), []).append(_entry(k))
                for kind in GROUP_FIELDS:
                    if kinds.get(kind):
                        gb.append((kind, kinds[kind]))
                    elif kind in GROUP_ALWAYS:
                        gb.append((kind, None if empty_as_null else []))
                groups.append(gb)
            b.append(("key_groups", groups))
        for kind in KEY_FIELDS_FLAT:
            if by_kind.get(kind):
                b.append((kind, by_kind[kind]))
        b.append(("lastmodified", self.lastmodified))
        b.append(("mac", self.mac))
        if by_kind.get("pgp"):
            b.append(("pgp", by_kind["pgp"]))
        if by_kind.get("hckms"):
            b.append(("hckms", by_kind["hckms"]))
        if self.record_selection:
            for f in SELECTION_FIELDS:
                if self.selection.field == f:
                    b.append((f, self.selection.value))
        if self.mac_only_encrypted:
            b.append(("mac_only_encrypted", True))
        b.append(("version", self.version))
        return b

    def all_keys(self) -> list[MasterKey]:
        return [k for g in self.key_groups for k in g]


def _entry(k: MasterKey) -> Branch:
    # Nested mappings (the KMS encryption context) become branches so every store writes them.
    return Branch((f, Branch(v.items()) if isinstance(v, dict) else v)
                  for f, v in k.to_dict().items())
