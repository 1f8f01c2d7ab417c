"""The data key: wrapping it for every master key (split with Shamir across key groups) and
recovering it, with sops' per-group failure report (exit 128)."""

from __future__ import annotations

from kubecrypt.crypto.rand import RandomSource, system_random
from kubecrypt.sops.errors import CouldNotRetrieveKey, NoEncryptionKeyFound, SopsError
from kubecrypt.sops.keysources.base import KeySourceError, MasterKey, key_type
from kubecrypt.sops.metadata import Metadata

DEFAULT_DECRYPTION_ORDER = ("age", "pgp")


def new_data_key(rand: RandomSource = system_random) -> bytes:
    return rand(32)


def threshold_of(md: Metadata) -> int:
    return md.shamir_threshold or len(md.key_groups)


def wrap_data_key(md: Metadata, data_key: bytes, rand: RandomSource = system_random) -> None:
    """Encrypts the data key (or this group's share) for every master key of every group."""
    groups = [g for g in md.key_groups]
    if not groups:
        raise NoEncryptionKeyFound(
            "No encryption key found: pass --age, --pgp or --hc-vault-transit, or add a "
            "creation rule with keys to .sops.yaml.")
    if not all(groups):
        # As sops (exit 1): a group without keys would hold its Shamir share nowhere, and the
        # file could never be opened again (rotate --rm-age of a group's last key).
        raise SopsError("Could not generate data key: [empty key group provided]; keep at "
                        "least one key in every key group.")
    if len(groups) == 1:
        parts = [data_key]
    else:
        thr = threshold_of(md)
        if thr < 2 or thr > len(groups):
            raise SopsError(
                f"The Shamir threshold {thr} must be between 2 and the number of key groups "
                f"({len(groups)}).")
        md.shamir_threshold = thr
        from kubecrypt.sops.keysources import shamir  # key groups are rare: import on use

        parts = shamir.split(data_key, len(groups), thr, rand)
    for g, part in zip(groups, parts, strict=True):
        for k in g:
            try:
                k.encrypt(part)
            except KeySourceError as exc:
                raise SopsError(  # sops' words
                    "Could not generate data key: [failed to encrypt new data key with master "
                    f'key "{k.ident()}": {exc}]') from None


def _sorted_keys(group: list[MasterKey], order: tuple[str, ...]) -> list[MasterKey]:
    def rank(k: MasterKey) -> int:
        t = key_type(k)
        return order.index(t) if t in order else len(order)

    return sorted(group, key=rank)


def _indent_error(msg: str) -> str:
    import textwrap

    # As go-wordwrap folds it for sops: at spaces only, a long word or path kept whole.
    # Each line of a multi-line message (gpg's stderr) is folded on its own, as go-wordwrap keeps
    # the line breaks it is given.
    lines = [w for line in msg.split("\n") for w in textwrap.wrap(
        line, width=60, break_long_words=False, break_on_hyphens=False) or [""]] or [""]
    return "    - | " + "\n      | ".join(lines)


def recover_data_key(md: Metadata, order: tuple[str, ...] = DEFAULT_DECRYPTION_ORDER) -> bytes:
    if not md.key_groups or not any(md.key_groups):
        raise CouldNotRetrieveKey("No keys found in file; it cannot be decrypted.")
    parts: list[bytes] = []
    report: list[str] = []
    for gi, group in enumerate(md.key_groups):
        errors: list[str] = []
        got: bytes | None = None
        for k in _sorted_keys(group, order):
            try:
                got = k.decrypt()
                break
            except KeySourceError as exc:
                errors.append(f"  {k.ident()}: FAILED\n{_indent_error(str(exc))}")
        if got is not None:
            parts.append(got)
            report.append(f"Group {gi}: SUCCESS")
        else:
            # sops joins the keys' reports with a blank line, indented like them
            report.append(f"Group {gi}: FAILED\n" + "\n  \n".join(errors))
        if len(md.key_groups) == 1 and got is not None:
            return got
    if len(md.key_groups) == 1:
        raise CouldNotRetrieveKey(
            "Failed to get the data key required to decrypt the SOPS file.\n\n"
            + "\n\n".join(report)
            + "\n\nRecovery failed because no master key was able to decrypt the file. In\n"
            "order for SOPS to recover the file, at least one key has to be successful,\n"
            "but none were.")
    thr = threshold_of(md)
    if len(parts) < thr:
        raise CouldNotRetrieveKey(
            "Failed to get the data key required to decrypt the SOPS file.\n\n"
            + "\n\n".join(report)
            + f"\n\nRecovery failed because the file was encrypted with a Shamir threshold of\n"
            f"{thr}, but only {len(parts)} part(s) were successfully recovered, one for each "
            "successful\nkey group. In order for SOPS to recover the file, at least "
            f"{thr} groups have to\nbe successful. In order for a group to be successful, "
            "decryption has to\nsucceed with any of the keys in that key group.")
    from kubecrypt.sops.keysources import shamir

    try:
        return shamir.combine(parts)
    except shamir.ShamirError as exc:
        raise CouldNotRetrieveKey(f"Could not combine the Shamir shares: {exc}") from None
