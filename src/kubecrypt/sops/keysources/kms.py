"""AWS KMS keys (sops kms/keysource.go): the 32-byte data key is wrapped with KMS ``Encrypt``
under the key's ARN and encryption context and unwrapped with ``Decrypt{CiphertextBlob, KeyId,
EncryptionContext}``; ``enc`` is the standard base64 of the ``CiphertextBlob``.

The region comes from the ARN, credentials and endpoints from the standard AWS chain (boto3
reads ``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``..., ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_KMS``/``_STS``, as the Go SDK sops uses does). ``aws_profile`` picks a shared
config profile and ``role`` is assumed through STS first (session name ``sops@<hostname>``).
boto3 is imported on first use only, so files without KMS keys never pay for it."""

from __future__ import annotations

import base64
import binascii
import re
import socket
import threading
from typing import Any, ClassVar

from kubecrypt.sops.keysources.base import KeySourceError, MasterKey, created_at_now

ARN_RE = re.compile(r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$")
_ROLE_MARK = "+arn:aws:iam::"
_STS_SESSION_STRIP = re.compile(r"[^a-zA-Z0-9=,.@_-]+")
_SESSION_NAME_LIMIT = 64

_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def parse_context(value: object) -> dict[str, str] | None:
    """``--encryption-context a:b,c:d`` or a mapping (``.sops.yaml``); sops' ParseKMSContext.
    ``None`` means no context (no ``context`` field is written)."""
    if value is None or value == "" or value == {}:
        return None
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise KeySourceError(
                    "The KMS encryption context must map strings to strings; quote numbers "
                    "and booleans in .sops.yaml.")
            out[k] = v
        return out
    if isinstance(value, str):
        for pair in value.split(","):
            kv = pair.split(":")
            if len(kv) != 2:
                raise KeySourceError(
                    f"The encryption context entry {pair!r} is not key:value; pass "
                    "--encryption-context as a comma-separated list of key:value pairs.")
            out[kv[0]] = kv[1]
        return out
    raise KeySourceError("The KMS encryption context must be key:value pairs or a mapping.")


def context_to_string(ctx: dict[str, str] | None) -> str:
    return ",".join(f"{k}:{ctx[k]}" for k in sorted(ctx)) if ctx else ""


def _session_name() -> str:
    name = "sops@" + _STS_SESSION_STRIP.sub("", socket.gethostname())
    return name[:_SESSION_NAME_LIMIT]


def _client_error(exc: Exception) -> str:
    """One sentence from a botocore error, without request ids or payloads."""
    resp = getattr(exc, "response", None)
    if isinstance(resp, dict):
        err = resp.get("Error") or {}
        code, msg = err.get("Code", ""), err.get("Message", "")
        return f"{code}: {msg}".strip(": ") or str(exc)
    return str(exc)


def kms_client(region: str, profile: str = "", role: str = "") -> Any:
    """A boto3 KMS client for this region/profile/role, cached per process."""
    key = (region, profile, role)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
    import boto3
    import botocore.config
    from botocore.exceptions import BotoCoreError, ClientError

    cfg = botocore.config.Config(connect_timeout=10, read_timeout=30,
                                 retries={"max_attempts": 3, "mode": "standard"})
    try:
        session = boto3.session.Session(profile_name=profile or None, region_name=region)
    except BotoCoreError as exc:
        raise KeySourceError(f"could not load AWS config: {exc}") from None
    if role:
        try:
            sts = session.client("sts", config=cfg)
            creds = sts.assume_role(RoleArn=role, RoleSessionName=_session_name())["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise KeySourceError(f"failed to assume role '{role}': {_client_error(exc)}") from None
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"], region_name=region)
    client = session.client("kms", config=cfg)
    with _clients_lock:
        _clients[key] = client
    return client


class KMSKey(MasterKey):
    type_name: ClassVar[str] = "kms"

    def __init__(self, arn: str, role: str = "", context: dict[str, str] | None = None,
                 aws_profile: str = "", enc: str = "", created_at: str = "") -> None:
        self.arn = arn
        self.role = role
        self.context = dict(context) if context is not None else None
        self.aws_profile = aws_profile
        self.enc = enc
        self.created_at = created_at

    # ------------------------------------------------------------ construction
    @classmethod
    def from_arn(cls, arn: str, context: dict[str, str] | None = None,
                 aws_profile: str = "") -> KMSKey:
        """``arn`` or ``arn+arn:aws:iam::...:role/x`` (spaces removed, as sops does)."""
        arn = arn.replace(" ", "")
        role = ""
        i = arn.find(_ROLE_MARK)
        if i > 0:
            arn, role = arn[:i], arn[i + 1:]
        if not ARN_RE.match(arn):
            raise KeySourceError(
                f"{arn!r} is not a KMS key ARN like "
                "arn:aws:kms:us-east-1:123456789012:key/<id> (or .../alias/<name>)")
        return cls(arn, role, context, aws_profile)

    @classmethod
    def from_arn_string(cls, arns: str | list[str], context: dict[str, str] | None = None,
                        aws_profile: str = "") -> list[KMSKey]:
        items = arns.split(",") if isinstance(arns, str) else arns
        return [cls.from_arn(a, context, aws_profile) for a in items if a.strip()]

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> KMSKey:
        ctx = d.get("context")
        context = ({str(k): str(v) for k, v in ctx.items()} if isinstance(ctx, dict) else None)
        return cls(str(d.get("arn") or ""), str(d.get("role") or ""), context,
                   str(d.get("aws_profile") or ""), str(d.get("enc") or ""),
                   str(d.get("created_at") or ""))

    # ------------------------------------------------------------ calls
    def _client(self) -> Any:
        m = ARN_RE.match(self.arn)
        if not m:
            raise KeySourceError(f"no valid ARN found in '{self.arn}'")
        return kms_client(m.group(1), self.aws_profile, self.role)

    def encrypt(self, data_key: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        try:
            out = client.encrypt(KeyId=self.arn, Plaintext=data_key,
                                 EncryptionContext=self.context or {})
        except (ClientError, BotoCoreError) as exc:
            raise KeySourceError(
                f"failed to encrypt sops data key with AWS KMS: {_client_error(exc)}") from None
        self.enc = base64.b64encode(out["CiphertextBlob"]).decode()
        self.created_at = created_at_now()

    def decrypt(self) -> bytes:
        try:
            blob = base64.b64decode(self.enc, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeySourceError(f"error base64-decoding encrypted data key: {exc}") from None
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client()
        try:
            out = client.decrypt(KeyId=self.arn, CiphertextBlob=blob,
                                 EncryptionContext=self.context or {})
        except (ClientError, BotoCoreError) as exc:
            raise KeySourceError(
                f"failed to decrypt sops data key with AWS KMS: {_client_error(exc)}") from None
        return bytes(out["Plaintext"])

    # ------------------------------------------------------------ metadata
    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"arn": self.arn}
        if self.role:
            d["role"] = self.role
        if self.context:
            d["context"] = {k: self.context[k] for k in sorted(self.context)}
        d["created_at"] = self.created_at or created_at_now()
        d["enc"] = self.enc
        d["aws_profile"] = self.aws_profile
        return d

    def ident(self) -> str:
        """sops' ToString: ``arn[+role][|context[|profile]]``."""
        s = f"{self.arn}+{self.role}" if self.role else self.arn
        ctx = context_to_string(self.context)
        if self.aws_profile:
            return f"{s}|{ctx}|{self.aws_profile}"
        return f"{s}|{ctx}" if ctx else s
