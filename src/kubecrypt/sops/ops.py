"""Whole-file operations: encrypt, decrypt (with MAC verification), re-encrypt after a change
(edit/set/unset, keeping the data key and the IVs of unchanged values), rotate and updatekeys.
Everything here works on bytes and returns bytes; reading and writing files is the caller's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.sops.cipher import Cipher, CipherError
from kubecrypt.sops.datakey import (
    DEFAULT_DECRYPTION_ORDER,
    new_data_key,
    recover_data_key,
    wrap_data_key,
)
from kubecrypt.sops.errors import (
    CouldNotReadEncrypted,
    CouldNotReadInput,
    CouldNotWriteOutput,
    ErrorDumpingTree,
    FileAlreadyEncrypted,
    MacMismatch,
    NeedAtLeastOneDocument,
)
from kubecrypt.sops.keysources.base import MasterKey
from kubecrypt.sops.metadata import KeyGroup, Metadata
from kubecrypt.sops.rules import Record
from kubecrypt.sops.stores.base import Store
from kubecrypt.sops.tree import Branch, Selection, decrypt_tree, encrypt_tree
from kubecrypt.sops.values import Comment, now_rfc3339, parse_lastmodified

if TYPE_CHECKING:
    from pathlib import Path


# Plain classes rather than dataclasses: ``dataclasses`` imports ``inspect`` (and ``ast``,
# ``dis``, ``tokenize``), milliseconds of every ``kubecrypt sops`` start.
class EncryptSpec(Record):
    """Everything that decides how a new file is encrypted."""

    def __init__(self, key_groups: list[KeyGroup], selection: Selection | None = None,
                 shamir_threshold: int = 0, mac_only_encrypted: bool = False) -> None:
        self.key_groups = key_groups
        self.selection = Selection() if selection is None else selection
        self.shamir_threshold = shamir_threshold
        self.mac_only_encrypted = mac_only_encrypted


class Opened:
    """A decrypted file: its documents, metadata, data key and the cipher that remembers IVs."""

    def __init__(self, branches: list[Branch], metadata: Metadata, data_key: bytes,
                 cipher: Cipher) -> None:
        self.branches = branches
        self.metadata = metadata
        self.data_key = data_key
        self.cipher = cipher

    def __repr__(self) -> str:  # never the data key
        return f"Opened(branches={len(self.branches)} document(s), metadata={self.metadata!r})"


def _seal(branches: list[Branch], md: Metadata, cipher: Cipher) -> None:
    mac = encrypt_tree(branches, md.selection, cipher, md.mac_only_encrypted)
    md.lastmodified = now_rfc3339()
    # The MAC always gets a fresh IV: it changes with lastmodified anyway.
    use = cipher.use_stash
    cipher.use_stash = False
    md.mac = cipher.encrypt(mac, md.lastmodified)
    cipher.use_stash = use


def _emit(store: Store, branches: list[Branch], md: Metadata) -> bytes:
    _refuse_repeated_keys(store, branches)
    return store.emit_encrypted(branches, md.to_branch(empty_as_null=store.name != "yaml"))


def _refuse_repeated_keys(store: Store, branches: list[Branch]) -> None:
    """A key repeated in one mapping (JSON allows it; two INI sections of one name) cannot be
    written at the top of a YAML file's first document (sops reads its metadata from that
    mapping and refuses a repeated key there; deeper mappings and later documents hold one)
    nor inside an INI section (go-ini keeps the last value, so the MAC no
    longer matches). sops 3.11 writes such a file and then neither tool can open it; refuse
    before anything is written. Likewise several YAML documents in any other format: sops
    writes the first (JSON, binary) or merges them, and its MAC no longer matches."""
    if store.name != "yaml" and len(branches) > 1:
        raise ErrorDumpingTree(
            f"Error dumping file: {len(branches)} YAML documents cannot be written as one "
            f"encrypted {store.name} file (it could not be opened again); split them or keep "
            "the YAML output.")
    if store.name == "yaml":
        mappings = branches[:1]
    elif store.name == "ini":
        mappings = [v for b in branches for _, v in b
                    if isinstance(v, Branch) and not _ini_mac_survives(v)]
    else:
        return
    for m in mappings:
        seen: set[object] = set()
        for k, v in m:
            if isinstance(k, Comment):
                continue
            if k == "<<" and store.name == "yaml" and not (isinstance(v, Branch) or (
                    isinstance(v, list) and all(isinstance(x, Branch) for x in v))):
                # go-yaml reads a top-level << as a merge key when sops decodes the metadata:
                # "map merge requires map or sequence of maps", and sops cannot open its file
                raise ErrorDumpingTree(
                    "Error dumping file: the top-level key '<<' is read as a merge key, and an "
                    "encrypted YAML file holding a value that is not a mapping under it could "
                    "not be opened again; rename the key or keep the input format.")
            if k in seen:
                raise ErrorDumpingTree(
                    f"Error dumping file: the key {k!r} appears twice in one mapping, and an "
                    f"encrypted {store.name.upper()} file holding that could not be opened "
                    "again; rename or merge one of them, or keep the input format.")
            seen.add(k)


def _ini_mac_survives(section: Branch) -> bool:
    """Whether go-ini's reading of a section with a repeated key (the first position, the
    last value) still has the values the MAC covered, in order: true when the values it
    drops are empty ("" adds nothing to the MAC), as for ``a = ""`` twice."""
    items = [(k, v) for k, v in section if not isinstance(k, Comment)]
    last = dict(items)
    kept: dict[object, object] = {}
    for k, _ in items:
        kept.setdefault(k, last[k])
    return [v for _, v in items if v != ""] == [v for v in kept.values() if v != ""]


def encrypt(data: bytes, store: Store, spec: EncryptSpec,
            rand: RandomSource = system_random, out_store: Store | None = None) -> bytes:
    branches = store.load_plain(data)
    if not branches:
        raise NeedAtLeastOneDocument(
            "File cannot be completely empty, it must contain at least one document; add a key.")
    # As sops (encrypt.go ensureNoMetadata): the output store decides what is metadata, a
    # top-level "sops" key, or for dotenv a key starting with "sops_" that it would read back
    # as metadata.
    if (out_store if out_store is not None else store).has_metadata(branches):
        raise FileAlreadyEncrypted(
            "File already encrypted: it has a top-level 'sops' entry; decrypt it first or use "
            "rotate/updatekeys.")
    binary = store.name == "binary"
    md = Metadata(
        key_groups=[list(g) for g in spec.key_groups],
        shamir_threshold=spec.shamir_threshold,
        selection=Selection() if binary else spec.selection,
        mac_only_encrypted=False if binary else spec.mac_only_encrypted,
        record_selection=not binary,
    )
    data_key = new_data_key(rand)
    wrap_data_key(md, data_key, rand)
    cipher = Cipher(data_key, rand)
    _seal(branches, md, cipher)
    return _emit(out_store if out_store is not None else store, branches, md)


def load_encrypted(data: bytes, store: Store) -> tuple[list[Branch], object]:
    """The store's tree and raw metadata of an encrypted file; a file that does not parse
    fails with exit 1 as in sops (whose LoadEncryptedFile returns the error unwrapped)."""
    try:
        return store.load_encrypted(data)
    except CouldNotReadInput as exc:
        raise CouldNotReadEncrypted(str(exc)) from None


def open_file(data: bytes, store: Store, ignore_mac: bool = False,
              order: tuple[str, ...] = DEFAULT_DECRYPTION_ORDER,
              keep_ivs: bool = False) -> Opened:
    """Decrypts and verifies; raises with sops' exit codes (25 value, 51 MAC, 128 key)."""
    branches, raw_md = load_encrypted(data, store)
    # A binary file records no selection, but sops reads it as the default suffix and writes
    # that back whenever it re-emits the file (rotate, edit, set, updatekeys).
    md = Metadata.from_tree(raw_md)
    data_key = recover_data_key(md, order)
    cipher = Cipher(data_key)
    cipher.use_stash = keep_ivs
    computed = decrypt_tree(branches, md.selection, cipher, md.mac_only_encrypted)
    if not ignore_mac:
        verify_mac(md, cipher, computed)
    return Opened(branches, md, data_key, cipher)


def verify_mac(md: Metadata, cipher: Cipher, computed: str) -> None:
    if not md.mac:
        raise MacMismatch(f"MAC mismatch. File has no MAC, computed {computed}")
    try:
        aad = parse_lastmodified(md.lastmodified)
        use = cipher.use_stash
        cipher.use_stash = False
        stored = cipher.decrypt(md.mac, aad)
        cipher.use_stash = use
    except (CipherError, ValueError) as exc:
        raise MacMismatch(f"Cannot decrypt MAC: {exc}") from None
    if stored != computed:
        raise MacMismatch(f"MAC mismatch. File has {stored}, computed {computed}")


def decrypt(data: bytes, store: Store, out_store: Store | None = None,
            ignore_mac: bool = False,
            order: tuple[str, ...] = DEFAULT_DECRYPTION_ORDER) -> bytes:
    opened = open_file(data, store, ignore_mac, order)
    return (out_store or store).emit_plain(opened.branches)


def reseal(opened: Opened, store: Store) -> bytes:
    """Re-encrypts after a change with the same data key; unchanged values keep their IVs."""
    opened.cipher.use_stash = True
    _seal(opened.branches, opened.metadata, opened.cipher)
    return _emit(store, opened.branches, opened.metadata)


def rotate(data: bytes, store: Store, add: list[MasterKey] | None = None,
           remove: list[MasterKey] | None = None,
           order: tuple[str, ...] = DEFAULT_DECRYPTION_ORDER,
           rand: RandomSource = system_random, out_store: Store | None = None) -> bytes:
    """New data key; ``add`` joins group 0, ``remove`` leaves every group (sops rotate)."""
    opened = open_file(data, store, order=order, keep_ivs=True)
    md = opened.metadata
    if add:
        if not md.key_groups:
            md.key_groups.append([])
        have = {k.ident() for k in md.key_groups[0]}
        md.key_groups[0].extend(k for k in add if k.ident() not in have)
    if remove:
        gone = {k.ident() for k in remove}
        md.key_groups = [[k for k in g if k.ident() not in gone] for g in md.key_groups]
    data_key = new_data_key(rand)
    wrap_data_key(md, data_key, rand)
    stash = opened.cipher.stash
    cipher = Cipher(data_key, rand)
    cipher.stash = stash
    cipher.use_stash = True
    _seal(opened.branches, md, cipher)
    return _emit(out_store or store, opened.branches, md)


def threshold_after_update(old_thr: int, new_groups: list[KeyGroup]) -> int:
    """The threshold sops' updatekeys writes: the file's own, lowered to the number of new
    groups (the creation rule's ``shamir_threshold`` is not read). 0 becomes the number of
    groups when the data key is split."""
    return min(old_thr, len(new_groups))


def describe_key_changes(old: list[KeyGroup], old_thr: int, new: list[KeyGroup],
                         new_thr: int) -> list[str]:
    """The lines sops' updatekeys prints (``PrettyPrintShamirDiff``, then ``PrettyPrintDiffs``):
    the threshold (``shamir_threshold: N`` when kept, else ``+++``/``---``), then every group
    with its kept keys (in the new group's order), ``+++ key`` and ``--- key``. Empty when no
    key is added or removed and the threshold stays: the file is up to date (a new order of
    the same keys is not a change, as in sops)."""
    lines: list[str] = []
    if old_thr > 0 and old_thr == new_thr:
        lines.append(f"shamir_threshold: {new_thr}")
    else:
        lines += [f"+++ shamir_threshold: {new_thr}"] if new_thr > 0 else []
        lines += [f"--- shamir_threshold: {old_thr}"] if old_thr > 0 else []
    keys_change = False
    for i in range(max(len(old), len(new))):
        a = [k.ident() for k in old[i]] if i < len(old) else []
        b = [k.ident() for k in new[i]] if i < len(new) else []
        added, removed = [k for k in b if k not in a], [k for k in a if k not in b]
        keys_change |= bool(added or removed)
        lines.append(f"Group {i + 1}")
        lines += [f"    {k}" for k in b if k in a]
        lines += [f"+++ {k}" for k in added]
        lines += [f"--- {k}" for k in removed]
    return lines if keys_change or old_thr != new_thr else []


def updatekeys_changes(data: bytes, store: Store, key_groups: list[KeyGroup]) -> list[str]:
    """What :func:`updatekeys` would change (its lines), read from the metadata alone: sops
    shows them and asks before it recovers the data key."""
    md = Metadata.from_tree(store.load_encrypted(data)[1])
    threshold = threshold_after_update(md.shamir_threshold, key_groups)
    return describe_key_changes(md.key_groups, md.shamir_threshold, key_groups, threshold)


def updatekeys(data: bytes, store: Store, key_groups: list[KeyGroup],
               order: tuple[str, ...] = DEFAULT_DECRYPTION_ORDER) -> tuple[bytes, list[str]]:
    """Re-wraps the same data key for the given groups; values, MAC and lastmodified stay.
    Returns (new bytes, the changes; none means the file already matches)."""
    branches, raw_md = load_encrypted(data, store)
    md = Metadata.from_tree(raw_md)
    threshold = threshold_after_update(md.shamir_threshold, key_groups)
    changes = describe_key_changes(md.key_groups, md.shamir_threshold, key_groups, threshold)
    if not changes:
        return data, []
    data_key = recover_data_key(md, order)
    md.key_groups = [list(g) for g in key_groups]
    md.shamir_threshold = threshold
    wrap_data_key(md, data_key)
    return _emit(store, branches, md), changes


def atomic_write(path: str | Path, data: bytes, mode: int | None = None) -> None:
    """:func:`kubecrypt.fileio.atomic_write` (new files 0600), with sops' error and exit code."""
    import os

    from kubecrypt import fileio  # tempfile and friends: only writers pay for them

    try:
        # Through a symlink, as sops' os.Create writes: the link stays, its target changes.
        fileio.atomic_write(os.path.realpath(path), data, mode, new_mode=0o600)
    except OSError as exc:
        raise CouldNotWriteOutput(
            f"Could not write output file {path}: {exc.strerror}."
        ) from None
