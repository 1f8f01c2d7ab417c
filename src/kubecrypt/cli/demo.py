"""``kubecrypt demo``: the at-rest story in one minute, with no cluster needed.

(The lab issue turns this into the full story against a real etcd and kubectl.)"""

from __future__ import annotations

import base64
import os

import click


def _show(label: str, value: bytes) -> None:
    printable = value[:60].decode("latin-1").encode("unicode_escape").decode()
    click.echo(f"  {label:<28} {printable}{'...' if len(value) > 60 else ''}")


@click.command()
def demo() -> None:
    """Encrypt a Secret as kube-apiserver would, read it back, rotate the key, prove it."""
    from kubecrypt.atrest.config import from_dict
    from kubecrypt.atrest.transformers import TransformerSet
    from kubecrypt.storage.codec import decode, encode

    key = "/registry/secrets/default/db-creds"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "db-creds",
            "namespace": "default",
            "creationTimestamp": "2024-06-01T12:00:00Z",
        },
        "data": {"password": base64.b64encode(b"demo-password").decode()},
    }

    def config(*keys: tuple[str, bytes]) -> TransformerSet:
        provider = {
            "aesgcm": {
                "keys": [{"name": n, "secret": base64.b64encode(k).decode()} for n, k in keys]
            }
        }
        return TransformerSet(
            from_dict(
                {
                    "apiVersion": "apiserver.config.k8s.io/v1",
                    "kind": "EncryptionConfiguration",
                    "resources": [
                        {"resources": ["secrets"], "providers": [provider, {"identity": {}}]}
                    ],
                }
            )
        )

    click.echo(
        "1. Without encryption, etcd holds the Secret in protobuf: base64 is not encryption."
    )
    plain = encode(secret)
    _show("stored in etcd:", plain)
    assert b"demo-password" in plain

    click.echo("2. With an aesgcm EncryptionConfiguration, the value starts with k8s:enc:.")
    key1, key2 = os.urandom(32), os.urandom(32)
    stored = config(("key1", key1)).for_resource("secrets").encrypt(plain, key.encode())
    _show("stored in etcd:", stored)
    assert stored.startswith(b"k8s:enc:aesgcm:v1:key1:") and b"demo-password" not in stored

    click.echo("3. Rotation: key2 added second (every server can read it), then promoted to first.")
    rotated = config(("key2", key2), ("key1", key1)).for_resource("secrets")
    result = rotated.decrypt(stored, key.encode())
    click.echo(f"  read with key {result.key!r}: stale={result.stale} (must be rewritten)")
    assert result.stale
    rewritten = rotated.encrypt(result.plaintext, key.encode())
    _show("rewritten:", rewritten)

    click.echo("4. key1 removed: the rewritten value still reads; the old one no longer does.")
    final = config(("key2", key2)).for_resource("secrets")
    again = final.decrypt(rewritten, key.encode())
    obj = decode(again.plaintext)
    assert base64.b64decode(obj["data"]["password"]) == b"demo-password" and not again.stale
    click.echo(
        f"  {obj['metadata']['namespace']}/{obj['metadata']['name']}: readable, stale={again.stale}"
    )
    try:
        final.decrypt(stored, key.encode())
    except Exception as exc:
        click.echo(f"  old value: {exc}")
    else:
        raise click.ClickException("the old value should not be readable without key1")
    click.echo(
        "Done: the Secret was encrypted, rotated to a new key and proven readable only with it."
    )
