"""The tree sops works on, the walk, value selection and the MAC (sops tree.go / sops.go).

A document is a :class:`Branch` (an ordered list of ``(key, value)`` pairs, where a key may be a
:class:`Comment` with value ``None``); lists are Python lists whose items may be comments.
Walk order is file order, depth first; a value's path is its mapping keys (list positions are
never part of it) and its AAD is ``":".join(path) + ":"``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives import hashes

from kubecrypt.sops import goregex
from kubecrypt.sops.cipher import Cipher, CipherError, is_encrypted
from kubecrypt.sops.errors import (
    ConflictingParameters,
    CouldNotReadInput,
    ErrorDecryptingTree,
    ErrorEncryptingTree,
    SopsError,
)
from kubecrypt.sops.values import Comment, HeldComment, SopsTime, mac_bytes

# SHA-256("sops"): seeds the MAC in mac_only_encrypted mode so both modes never collide.
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")


def _mac_hash(mac_only_encrypted: bool) -> hashes.Hash:
    # cryptography's SHA-512: the library is loaded for AES-GCM anyway, hashlib would cost
    # another OpenSSL binding at start-up.
    h = hashes.Hash(hashes.SHA512())
    if mac_only_encrypted:
        h.update(MAC_ONLY_ENCRYPTED_INIT)
    return h

SELECTION_FIELDS = (
    "unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
    "unencrypted_comment_regex", "encrypted_comment_regex",
)
DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
INT64_MAX = 2**63 - 1


def _uint64(v: object) -> bool:
    """go-yaml decodes integers from 2^63 to 2^64-1 as uint64, a type sops' tree walk does not
    know: it refuses the file (exit 23 encrypting, 25 decrypting), so do we."""
    return type(v) is int and v > INT64_MAX


_UINT64 = "Error walking tree: Cannot walk value, unknown type: uint64"


class Branch(list[tuple[object, object]]):
    """An ordered mapping: a list of ``(key, value)`` pairs."""

    def get(self, key: str, default: object = None) -> object:
        for k, v in self:
            if k == key:
                return v
        return default


class Selection:
    """The one rule that decides which values are encrypted. Immutable and hashable (a plain
    class rather than a dataclass, to keep ``dataclasses``/``inspect`` out of start-up)."""

    __slots__ = ("field", "value")
    __match_args__ = ("field", "value")
    field: str
    value: str

    def __init__(self, field: str = "unencrypted_suffix",
                 value: str = DEFAULT_UNENCRYPTED_SUFFIX) -> None:
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: Selection is immutable")

    def __reduce__(self) -> tuple[type[Selection], tuple[str, ...]]:  # copy, deepcopy, pickle
        return Selection, (self.field, self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selection):
            return NotImplemented
        return (self.field, self.value) == (other.field, other.value)

    def __hash__(self) -> int:
        return hash((self.field, self.value))

    def __repr__(self) -> str:
        return f"Selection(field={self.field!r}, value={self.value!r})"

    @classmethod
    def from_fields(cls, fields: Mapping[str, object], where: str = "parameters",
                    lenient: bool = False) -> Selection:
        """The one selection rule in ``fields``. A regex is Go's (goregex); one Go refuses is
        an error, unless ``lenient`` (a file's metadata): sops ignores regexp.Match's error,
        so such a regex matches nothing, and its files open that way."""
        given = [(f, fields[f]) for f in SELECTION_FIELDS if fields.get(f)]
        if len(given) > 1:
            names = ", ".join(f for f, _ in given)
            raise ConflictingParameters(
                f"Cannot use more than one of {names} in {where}; keep exactly one selection rule.")
        if not given:
            return cls()
        f, v = given[0]
        if "regex" in f:
            try:
                goregex.compile_go(str(v))
            except goregex.InvalidRegex as exc:
                if not lenient:
                    raise SopsError(
                        f"The {f} {v!r} is not a valid regular expression ({exc}); sops 3.11 "
                        "would encrypt nothing with it: fix the regex.") from None
        return cls(f, str(v))

    @property
    def on_comments(self) -> bool:
        return self.field.endswith("comment_regex")

    @property
    def encrypt_on_match(self) -> bool:
        return self.field.startswith("encrypted")

    def key_matches(self, key: str) -> bool:
        if self.field.endswith("suffix"):
            return key.endswith(self.value)
        if self.field.endswith("comment_regex"):
            return False
        return _go_search(self.value, key)

    def comment_matches(self, text: str) -> bool:
        return self.on_comments and _go_search(self.value, text)


def _go_search(pattern: str, text: str) -> bool:
    try:
        return goregex.search(pattern, text)
    except goregex.InvalidRegex:  # only from a file's metadata: sops ignores the error
        return False


Visit = Callable[[object, str, bool], object]
"""``visit(value, aad, selected) -> new value`` for every scalar and comment, in walk order."""


def _string_key(k: object) -> str:
    if not isinstance(k, str) or isinstance(k, SopsTime):  # go-yaml: a time.Time key
        raise ErrorEncryptingTree(
            f"Tree contains a non-string key ({k!r}); quote the key to make it a string.")
    return k


def walk(branches: list[Branch], sel: Selection, visit: Visit) -> None:
    """Visits every scalar and comment of every document in place."""
    if sel.on_comments:
        for b in branches:
            _walk_branch_comments(b, "", True, False, sel, visit)
    else:
        for b in branches:
            _walk_branch(b, "", True, False, sel, visit)


def _walk_branch(b: Branch, path: str, root: bool, matched: bool, sel: Selection,
                 visit: Visit) -> None:
    on_match = sel.encrypt_on_match
    aad_here = path + ":"
    key_matches = sel.key_matches
    for i, (k, v) in enumerate(b):
        if isinstance(k, Comment):
            nk = visit(k, aad_here, matched == on_match)
            if nk is not k:
                b[i] = (nk, None)
            continue
        k = _string_key(k)
        m = matched or key_matches(k)
        child = k if root else path + ":" + k
        if isinstance(v, Branch):
            _walk_branch(v, child, False, m, sel, visit)
        elif isinstance(v, list):
            _walk_list(v, child, m, sel, visit)
        else:
            nv = visit(v, child + ":", m == on_match)
            if nv is not v:
                b[i] = (k, nv)


def _walk_list(lst: list[object], path: str, matched: bool, sel: Selection,
               visit: Visit) -> None:
    selected = matched == sel.encrypt_on_match
    aad = path + ":"
    for i, v in enumerate(lst):
        if isinstance(v, Branch):
            _walk_branch(v, path, False, matched, sel, visit)
        elif isinstance(v, list):
            _walk_list(v, path, matched, sel, visit)
        else:
            nv = visit(v, aad, selected)
            if nv is not v:
                lst[i] = nv


def _walk_branch_comments(b: Branch, path: str, root: bool, inherited: bool, sel: Selection,
                          visit: Visit) -> None:
    """Comment-regex rules: a matching comment marks the next value at its level (and all that
    is nested under it); the marker itself stays plaintext."""
    enc = sel.encrypt_on_match
    level = False  # a matching comment seen since the previous value at this level
    aad_here = path + ":"
    for i, (k, v) in enumerate(b):
        if isinstance(k, Comment):
            text = k.value
            own = not is_encrypted(text) and sel.comment_matches(text)
            marked = inherited or level
            nk = visit(k, aad_here, _comment_selected(own, marked, enc))
            if nk is not k:
                b[i] = (nk, None)
            level = level or own
            continue
        k = _string_key(k)
        marked = inherited or level
        child = k if root else path + ":" + k
        if isinstance(v, Branch):
            _walk_branch_comments(v, child, False, marked, sel, visit)
        elif isinstance(v, list):
            _walk_list_comments(v, child, marked, sel, visit)
        else:
            nv = visit(v, child + ":", marked == enc)
            if nv is not v:
                b[i] = (k, nv)
        level = False


def _comment_selected(own: bool, marked: bool, enc: bool) -> bool:
    """Whether a comment is encrypted under a comment-regex rule. sops' shouldBeEncrypted
    (sops.go) looks at every comment before it on its level and the levels around it, and at
    the comment itself only for ``unencrypted_comment_regex``: a comment matching
    ``encrypted_comment_regex`` stays plaintext as the marker, unless an earlier comment has
    already marked it, then it is encrypted like any other."""
    if own and not enc:
        return False
    return marked == enc


def _walk_list_comments(lst: list[object], path: str, inherited: bool, sel: Selection,
                        visit: Visit) -> None:
    enc = sel.encrypt_on_match
    level = False
    aad = path + ":"
    last = len(lst) - 1
    for i, v in enumerate(lst):
        if isinstance(v, Comment):
            own = not is_encrypted(v.value) and sel.comment_matches(v.value)
            nv = visit(v, aad, _comment_selected(own, inherited or level, enc))
            if nv is not v:
                if (enc and not inherited and i < last and isinstance(nv, Comment)
                        and is_encrypted(nv.value)):
                    # sops writes it as a list element, which its decryption does not count
                    # as a comment: the marker run before it would end there and what follows
                    # stay encrypted, failing the MAC. Kept a comment, the file opens.
                    nv = HeldComment(nv.value)
                lst[i] = nv
            level = level or own
            continue
        marked = inherited or level
        if isinstance(v, Branch):
            _walk_branch_comments(v, path, False, marked, sel, visit)
        elif isinstance(v, list):
            _walk_list_comments(v, path, marked, sel, visit)
        else:
            nv = visit(v, aad, marked == enc)
            if nv is not v:
                lst[i] = nv
        level = False


# ---------------------------------------------------------------- encrypt / decrypt / MAC

def encrypt_tree(branches: list[Branch], sel: Selection, cipher: Cipher,
                 mac_only_encrypted: bool) -> str:
    """Encrypts the selected values in place; returns the MAC text (uppercase hex SHA-512)."""
    h = _mac_hash(mac_only_encrypted)
    update = h.update

    def visit(v: object, aad: str, selected: bool) -> object:
        if v is None:
            return v
        if isinstance(v, Comment):
            if selected and v.value and not is_encrypted(v.value):
                enc = cipher.encrypt(v, aad)
                # The ciphertext must not read as a marker next time. sops refuses when the
                # random IV makes it so (a retry would pass); draw a new IV a few times first,
                # and refuse as sops does when the regex matches whatever the IV (or the IV is
                # kept from before).
                for _ in range(64):
                    if not (sel.field == "unencrypted_comment_regex"
                            and sel.comment_matches(enc)):
                        return Comment(enc)
                    enc = cipher.encrypt(v, aad)
                raise ErrorEncryptingTree(
                    "The encrypted comment at " + repr(aad) + " matches the "
                    "unencrypted_comment_regex; use a more specific regex.")
            return v
        if _uint64(v):
            raise ErrorEncryptingTree("Error encrypting tree: " + _UINT64)
        if selected or not mac_only_encrypted:
            update(mac_bytes(v))
        if selected and v != "":
            try:
                return cipher.encrypt(v, aad)
            except TypeError as exc:
                raise ErrorEncryptingTree(f"Error encrypting tree: {exc}") from None
        return v

    walk(branches, sel, visit)
    return h.finalize().hex().upper()


def _decrypt_comment(cipher: Cipher, value: str, aad: str) -> object | None:
    """A comment's plaintext. go-yaml reads some comments sops writes (foot comments of
    nested blocks) into a deeper node than the one they were encrypted in, so their path no
    longer matches and sops 3.11 leaves them encrypted; kubecrypt also tries the enclosing
    paths, where the comment was encrypted (docs/sops.md)."""
    keys = aad[:-1].split(":") if aad != ":" else []
    for n in range(len(keys), -1, -1):
        try:
            return cipher.decrypt(value, ":".join(keys[:n]) + ":")
        except CipherError:
            continue
    return None


def decrypt_tree(branches: list[Branch], sel: Selection, cipher: Cipher,
                 mac_only_encrypted: bool) -> str:
    """Decrypts the selected values in place; returns the MAC recomputed over the plaintext."""
    h = _mac_hash(mac_only_encrypted)
    update = h.update

    def visit(v: object, aad: str, selected: bool) -> object:
        if v is None:
            return v
        if isinstance(v, Comment):
            if selected and is_encrypted(v.value):
                out = _decrypt_comment(cipher, v.value, aad)
                if out is None:
                    return v  # sops keeps an undecryptable comment as it is, with a warning
                return out if isinstance(out, Comment) else Comment(str(out))
            return v
        if _uint64(v):
            raise ErrorDecryptingTree("Error decrypting tree: " + _UINT64)
        if selected:
            if v == "":
                return v
            if not isinstance(v, str):
                # sops 3.11 panics here (exit 2); keep its exit code, with a real sentence.
                raise CouldNotReadInput(
                    f"Error decrypting tree: the value at {aad!r} should be encrypted but is a "
                    f"plain {type(v).__name__}; restore it from Git or re-encrypt the file.")
            try:
                v = cipher.decrypt(v, aad)
            except CipherError as exc:
                raise ErrorDecryptingTree(
                    f"Error decrypting tree: Error walking tree: Could not decrypt value: {exc}"
                ) from None
            if isinstance(v, Comment):
                return v  # an encrypted comment stored as a list element: not hashed
        if selected or not mac_only_encrypted:
            update(mac_bytes(v))
        return v

    walk(branches, sel, visit)
    return h.finalize().hex().upper()


def compute_mac(branches: list[Branch], sel: Selection, mac_only_encrypted: bool) -> str:
    """The MAC of a plaintext tree (no cipher involved)."""
    h = _mac_hash(mac_only_encrypted)

    def visit(v: object, aad: str, selected: bool) -> object:
        if v is not None and not isinstance(v, Comment) and (selected or not mac_only_encrypted):
            h.update(mac_bytes(v))
        return v

    walk(branches, sel, visit)
    return h.finalize().hex().upper()
