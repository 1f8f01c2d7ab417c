"""``.sops.yaml``: finding it (from the working directory upwards, as sops does), picking the
creation rule (first whose ``path_regex`` is found in the path relative to the config's
directory) and turning a rule into key groups and a selection (sops config/config.go)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kubecrypt import safeparse
from kubecrypt.sops.errors import ConflictingParameters, SopsError
from kubecrypt.sops.keysources.base import MasterKey
from kubecrypt.sops.metadata import KeyGroup
from kubecrypt.sops.tree import SELECTION_FIELDS, Selection

if TYPE_CHECKING:
    from pathlib import Path

CONFIG_NAME = ".sops.yaml"
ALTERNATE_NAME = ".sops.yml"  # not read by sops 3.11, which warns about it
MAX_DEPTH = 100


# Plain classes and os.path rather than dataclasses and pathlib: those two imports (with
# inspect, urllib.parse and ipaddress behind them) cost several milliseconds of every
# ``kubecrypt sops`` start, which dominates on small files.
class Record:
    """What a dataclass would give a plain class of fields: equality of the same class by
    its attributes, and a repr naming them."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return vars(self) == vars(other)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Rule(Record):
    def __init__(self, key_groups: list[KeyGroup], shamir_threshold: int = 0,
                 selection: Selection | None = None, selection_given: bool = False,
                 mac_only_encrypted: bool = False) -> None:
        self.key_groups = key_groups
        self.shamir_threshold = shamir_threshold
        self.selection = Selection() if selection is None else selection
        self.selection_given = selection_given
        self.mac_only_encrypted = mac_only_encrypted


class Config:
    """A loaded ``.sops.yaml``: ``file`` is its resolved (absolute, symlink-free) path,
    ``path`` the same as a :class:`pathlib.Path`."""

    def __init__(self, path: str | os.PathLike[str], raw: dict[str, object],
                 base: str | None = None) -> None:
        self.file = os.fspath(path)
        self.raw = raw
        # The directory rules' path_regex are relative to, spelled as sops spells it
        # (filepath.Abs of the config's directory: lexical, from the logical working directory)
        self.base = base or os.path.dirname(self.file)

    @property
    def has_creation_rules(self) -> bool:
        """sops 3.11 treats a config without ``creation_rules`` (or with ``creation_rules:``
        null) as no config at all for choosing keys; an empty list matches no file."""
        return self.raw.get("creation_rules") is not None

    @property
    def path(self) -> Path:
        from pathlib import Path

        return Path(self.file)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Config):
            return NotImplemented
        return (self.file, self.raw) == (other.file, other.raw)

    def __repr__(self) -> str:
        return f"Config(file={self.file!r}, raw={self.raw!r})"

    def store_indent(self, fmt: str) -> int | None:
        stores = self.raw.get("stores")
        if isinstance(stores, dict):
            s = stores.get(fmt)
            if isinstance(s, dict) and isinstance(s.get("indent"), int):
                return int(s["indent"])
        return None


def find_config(explicit: str | None = None,
                start: str | os.PathLike[str] | None = None) -> Config | None:
    """``--config``/``SOPS_CONFIG`` if given, else the nearest ``.sops.yaml`` above the cwd."""
    path = explicit or os.environ.get("SOPS_CONFIG")
    if path:
        if not os.path.isfile(path):
            raise SopsError(f"Config file {path} not found; check --config or SOPS_CONFIG.")
        return load_config(path, _go_clean(os.path.join(go_getwd(), os.path.dirname(path))))
    d = os.path.realpath(start or os.getcwd())
    alternate = ""
    for depth in range(MAX_DEPTH):
        c = os.path.join(d, CONFIG_NAME)
        if os.path.isfile(c):
            if alternate and not start:
                _warn_alternate(alternate, f'; using "{c}" instead')
            # sops looks at ./.sops.yaml, ../.sops.yaml ...: its base is that many ".." above
            # the logical working directory, not the resolved one
            return load_config(c, None if start else _go_clean(
                os.path.join(go_getwd(), *[".."] * depth)))
        if not alternate and os.path.isfile(os.path.join(d, ALTERNATE_NAME)):
            alternate = os.path.join(d, ALTERNATE_NAME)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    if alternate and not start:
        _warn_alternate(alternate, "")
    return None


_warned_alternate = False


def _warn_alternate(path: str, using: str) -> None:
    """sops 3.11 (config.LookupConfigFile) warns once that it ignores a .sops.yml."""
    global _warned_alternate
    if not _warned_alternate:
        _warned_alternate = True
        import sys

        sys.stderr.write(f'warning: ignoring "{path}" when searching for config file; the '
                         f'config file must be called "{CONFIG_NAME}"{using}\n')


def go_getwd() -> str:
    """Go's os.Getwd, which sops' filepath.Abs uses: $PWD when it names the working directory
    (the path the user's shell took, through symlinks), else the resolved path."""
    pwd = os.environ.get("PWD", "")
    if pwd.startswith("/"):
        try:
            if os.path.samefile(pwd, "."):
                return pwd
        except OSError:
            pass
    return os.getcwd()


def load_config(p: str | os.PathLike[str], base: str | None = None) -> Config:
    p = os.fspath(p)
    try:
        with open(p, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise SopsError(f"error loading config {p}: {exc}") from None
    raw = safeparse.load_yaml(text, f"error loading config {p}", error=SopsError) or {}
    if not isinstance(raw, dict):
        raise SopsError(f"error loading config {p}: the top level must be a mapping")
    return Config(os.path.realpath(p), raw, base)


def split_list(v: object) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    if isinstance(v, list):
        return [str(s).strip() for s in v if str(s).strip()]
    return [str(v)]


def pgp_fingerprints(text: str | None) -> list[str]:
    """pgp.MasterKeysFromFingerprintString (--pgp, --add-pgp, --rm-pgp, SOPS_PGP_FP): split at
    commas, every space removed; an empty entry stays a key (that gpg then refuses, as in
    sops); only a wholly empty text means no key."""
    if not text:
        return []
    return [f.replace(" ", "") for f in text.split(",")]


def _rule_pgp(v: object) -> list[str]:
    """A flat creation rule's ``pgp`` (sops' parseKeyField, then joined and split again): a
    string's entries trimmed and the empty ones skipped; a list's items kept as they are."""
    if isinstance(v, str):
        return pgp_fingerprints(",".join(s.strip() for s in v.split(",") if s.strip()))
    if isinstance(v, list):
        return pgp_fingerprints(",".join(str(s) for s in v))
    return split_list(v)


def _group_pgp(v: object) -> list[str]:
    """A key group's ``pgp`` list: each item one fingerprint (sops' NewMasterKeyFromFingerprint,
    no comma split)."""
    if isinstance(v, list):
        return [str(s).replace(" ", "") for s in v]
    return split_list(v)


def _age_split(text: str) -> list[str]:
    """age.MasterKeysFromRecipients: comma-separated, each trimmed; an empty entry is an
    error (only a wholly empty text means no recipient)."""
    if text == "":
        return []
    out = [r.strip() for r in text.split(",")]
    if "" in out:
        raise SopsError('failed to parse input, unknown recipient type: ""; remove the empty '
                        "entry from the comma-separated age recipients.")
    return out


def age_recipients(value: object, where: str = "flag") -> list[str]:
    """age recipients as sops 3.11 reads them: a flag or ``SOPS_AGE_RECIPIENTS`` (``flag``);
    a flat creation rule (``rule``: a string's empty entries skipped, list items joined with
    commas); a key group (``group``: a list only, each item split on commas)."""
    if value is None:
        return []
    if isinstance(value, str):
        if where == "flag":
            return _age_split(value)
        if where == "group":
            raise SopsError("error loading config: the age keys of a key group must be a list "
                            f"(- {value}), not a string.")
        return _age_split(",".join(r.strip() for r in value.split(",") if r.strip()))
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise SopsError("error loading config: invalid age key configuration: give a string "
                        "or a list of strings.")
    if where == "group":
        return [r for item in value for r in _age_split(item)]
    return _age_split(",".join(value))


def keys_from(age: list[str], pgp: list[str], vault: list[str], kms: list[str] | None = None,
              kms_context: dict[str, str] | None = None, aws_profile: str = "",
              gcp_kms: list[str] | None = None, azure_kv: list[str] | None = None) -> KeyGroup:
    """Master keys from command-line style lists (sops' order: kms first, as it groups them)."""
    from kubecrypt.sops.keysources.age import AgeKey

    group: KeyGroup = []
    if kms:
        group += kms_keys(kms, kms_context, aws_profile)
    if gcp_kms:
        from kubecrypt.sops.keysources.gcp_kms import GCPKMSKey

        group += GCPKMSKey.from_ids(gcp_kms)
    if azure_kv:
        group += azure_keys(azure_kv)
    group += [AgeKey(r) for r in age]
    if pgp:
        from kubecrypt.sops.keysources.pgp import PGPKey

        group += [PGPKey(fp) for fp in pgp]
    if vault:
        from kubecrypt.sops.keysources.hc_vault import VaultKey

        group += [VaultKey.from_uri(u) for u in vault]
    return group


def kms_keys(arns: list[str], context: dict[str, str] | None = None,
             aws_profile: str = "") -> KeyGroup:
    from kubecrypt.sops.keysources.base import KeySourceError
    from kubecrypt.sops.keysources.kms import KMSKey

    try:
        return list(KMSKey.from_arn_string(arns, context, aws_profile))
    except KeySourceError as exc:
        raise SopsError(str(exc)) from None


def azure_keys(urls: list[str]) -> KeyGroup:
    """``https://VAULT/keys/NAME[/VERSION]``; without a version, the vault is asked for the
    latest one now, as sops does."""
    from kubecrypt.sops.keysources.azure_kv import AzureKVKey
    from kubecrypt.sops.keysources.base import KeySourceError

    try:
        return [AzureKVKey.from_url(u) for u in urls]
    except KeySourceError as exc:
        raise SopsError(str(exc)) from None


def _gcp_group_entries(entries: object) -> KeyGroup:
    """``gcp_kms:`` inside a key group: a list of ``{resource_id}``."""
    from kubecrypt.sops.keysources.gcp_kms import GCPKMSKey

    out: KeyGroup = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or not e.get("resource_id"):
            raise SopsError("Each gcp_kms entry of a key group needs a resource_id.")
        out.append(GCPKMSKey.from_resource_id(str(e["resource_id"])))
    return out


def _azure_group_entries(entries: object) -> KeyGroup:
    """``azure_keyvault:`` inside a key group: a list of ``{vaultUrl, key, version}``."""
    from kubecrypt.sops.keysources.azure_kv import AzureKVKey
    from kubecrypt.sops.keysources.base import KeySourceError

    out: KeyGroup = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or not e.get("vaultUrl") or not e.get("key"):
            raise SopsError("Each azure_keyvault entry of a key group needs vaultUrl and key "
                            "(and optionally version).")
        try:
            out.append(AzureKVKey.with_optional_version(
                str(e["vaultUrl"]), str(e["key"]), str(e.get("version") or "")))
        except KeySourceError as exc:
            raise SopsError(str(exc)) from None
    return out


def _kms_group_entries(entries: object) -> KeyGroup:
    """``kms:`` inside a key group: a list of ``{arn, role, context, aws_profile}``."""
    from kubecrypt.sops.keysources.base import KeySourceError
    from kubecrypt.sops.keysources.kms import KMSKey, parse_context

    out: KeyGroup = []
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict) or not e.get("arn"):
            raise SopsError("Each kms entry of a key group needs an arn (and optionally role, "
                            "context, aws_profile).")
        try:
            key = KMSKey.from_arn(str(e["arn"]), parse_context(e.get("context")),
                                  str(e.get("aws_profile") or ""))
        except KeySourceError as exc:
            raise SopsError(str(exc)) from None
        if e.get("role"):
            key.role = str(e["role"])
        out.append(key)
    return out


def _dedupe(group: KeyGroup) -> KeyGroup:
    seen: set[tuple[str, str]] = set()
    out: KeyGroup = []
    for k in group:
        ident = (type(k).__name__, k.ident())
        if ident not in seen:
            seen.add(ident)
            out.append(k)
    return out


def _unsupported(rule: dict[str, object]) -> None:
    for f in ("hckms",):
        if rule.get(f):
            raise SopsError(
                f"The creation rule uses {f} keys, which kubecrypt does not support; use age, "
                "pgp, kms, gcp_kms, azure_keyvault or hc_vault_transit_uri.")


def _group(g: dict[str, object]) -> KeyGroup:
    _unsupported(g)
    # sops' extractMasterKeys: the merged groups' keys first, then the group's own
    keys: KeyGroup = []
    merge = g.get("merge")
    for sub in merge if isinstance(merge, list) else []:
        if isinstance(sub, dict):
            keys += _group(sub)
    keys += (_kms_group_entries(g.get("kms")) + _gcp_group_entries(g.get("gcp_kms"))
             + _azure_group_entries(g.get("azure_keyvault"))) + keys_from(
        age_recipients(g.get("age"), "group"), _group_pgp(g.get("pgp")),
        split_list(g.get("hc_vault")))
    return _dedupe(keys)


def rule_for(cfg: Config, file_path: str, kms_context: dict[str, str] | None = None) -> Rule:
    """The first creation rule matching ``file_path``; sops' error when none does."""
    rules = cfg.raw.get("creation_rules")
    if not isinstance(rules, list) or not rules:
        raise SopsError("error loading config: no matching creation rules found")
    # As sops: filepath.Abs of the name as given, lexical (a symlink is matched by its own
    # path, not its target's), relative to the config's directory spelled the same way.
    absolute = _go_clean(file_path if os.path.isabs(file_path)
                          else os.path.join(go_getwd(), file_path))
    base = cfg.base
    rel = absolute[len(base) + 1:] if absolute.startswith(base + os.sep) else absolute
    for r in rules:
        if not isinstance(r, dict):
            continue
        rx = r.get("path_regex")
        if rx:
            from kubecrypt.sops import goregex

            try:
                if not goregex.search(str(rx), rel):
                    continue
            except goregex.InvalidRegex as exc:
                raise SopsError(f"error loading config: can not compile regexp: {exc}") from None
        return _rule(r, kms_context)
    raise SopsError("error loading config: no matching creation rules found")


def _go_clean(path: str) -> str:
    """Go's filepath.Clean of an absolute path: lexical, ``.`` and ``..`` resolved, one
    leading slash."""
    p = os.path.normpath(path)
    return "/" + p.lstrip("/") if p.startswith("//") else p


def _rule(r: dict[str, object], kms_context: dict[str, str] | None = None) -> Rule:
    groups: list[KeyGroup]
    raw_groups = r.get("key_groups")
    if isinstance(raw_groups, list) and raw_groups:
        groups = [_group(g) for g in raw_groups if isinstance(g, dict)]
    else:
        _unsupported(r)
        groups = [_dedupe(keys_from(age_recipients(r.get("age"), "rule"), _rule_pgp(r.get("pgp")),
                                    split_list(r.get("hc_vault_transit_uri")),
                                    split_list(r.get("kms")), kms_context,
                                    str(r.get("aws_profile") or ""),
                                    split_list(r.get("gcp_kms")),
                                    split_list(r.get("azure_keyvault"))))]
    try:
        sel = Selection.from_fields(r, "a creation rule")
    except ConflictingParameters:
        # sops fails loading the config here: a plain error (exit 1), not exit 8.
        raise SopsError(
            "error loading config: cannot use more than one of encrypted_suffix, "
            "unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, "
            "or unencrypted_comment_regex for the same rule; keep one.") from None
    thr = r.get("shamir_threshold") or 0
    if not isinstance(thr, int) or isinstance(thr, bool):
        # sops unmarshals the rule into a struct: a quoted number is not an int there
        raise SopsError(f"error loading config: shamir_threshold {thr!r} is not an integer; "
                        "write it without quotes.")
    if isinstance(raw_groups, list) and raw_groups and not all(groups):
        raise SopsError("Could not generate data key: [empty key group provided]; give every "
                        "key group at least one key.")
    return Rule(
        key_groups=[g for g in groups if g],
        shamir_threshold=thr,
        selection=sel,
        selection_given=any(r.get(f) for f in SELECTION_FIELDS),
        mac_only_encrypted=bool(r.get("mac_only_encrypted")),
    )


def flat_group(keys: list[MasterKey]) -> list[KeyGroup]:
    return [_dedupe(keys)] if keys else []
