"""The ``gcp`` and ``azure`` backends through ``kubecrypt kms serve``, against local FAKES of
Cloud KMS (gRPC) and Key Vault (REST) that the official client libraries reach over TLS on
127.0.0.1 (tests/fake_gcp_kms.py, tests/fake_azure_keyvault.py). The stored format is checked
by unwrapping with the official client directly, and the other way round."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import pytest
from fake_azure_keyvault import FakeKeyVault
from fake_gcp_kms import FakeGCPKMS

from kubecrypt.cloud import CloudError
from kubecrypt.errors import ConfigError, DecryptError
from kubecrypt.kms import client
from kubecrypt.kms.backends import create

CLOUD = ("GOOGLE_", "SOPS_GCP", "GRPC_DEFAULT_SSL", "IDENTITY_", "MSI_", "AZURE_",
         "REQUESTS_CA_BUNDLE")


@pytest.fixture
def cloud_env(fake_gcp_kms: FakeGCPKMS, fake_azure_keyvault: FakeKeyVault,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k in list(os.environ):
        if k.startswith(CLOUD):
            monkeypatch.delenv(k)
    env = {**fake_gcp_kms.env(), "NO_GCE_CHECK": "True"}
    env.update({k: v for k, v in fake_azure_keyvault.env().items() if v})
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.mark.slow
def test_gcp_plugin_format_and_official_client_interop(fake_gcp_kms: FakeGCPKMS,
                                                       cloud_env: dict[str, str],
                                                       start_plugin: Any) -> None:
    from google.cloud import kms_v1

    key, other = fake_gcp_kms.create_key(), fake_gcp_kms.create_key()
    p = start_plugin("gcp", {"key": key}, env=cloud_env)
    v2 = client.GrpcKMSv2(p.endpoint)
    st = v2.status()
    assert (st.healthz, st.key_id) == ("ok", key)
    dek = os.urandom(32)
    r = v2.encrypt(dek)
    assert r.key_id == key and dict(r.annotations) == {}
    # The stored ciphertext is Cloud KMS's own: the official client decrypts it directly.
    from kubecrypt.cloud import gcp

    kms = gcp.client()
    assert kms.decrypt(request={"name": key, "ciphertext": r.ciphertext}).plaintext == dek
    made = kms.encrypt(request={"name": key, "plaintext": b"x" * 32}).ciphertext
    assert isinstance(kms, kms_v1.KeyManagementServiceClient)
    assert v2.decrypt(made, "uid", key, {}) == b"x" * 32
    v1 = client.GrpcKMSv1(p.endpoint)
    assert v1.decrypt(v1.encrypt(b"d" * 32)) == b"d" * 32
    # Another key cannot open it: INVALID_ARGUMENT from the service, passed on.
    q = start_plugin("gcp", {"key": other, "key_id_suffix": "gen2"}, env=cloud_env, name="q")
    w = client.GrpcKMSv2(q.endpoint)
    assert w.status().key_id == f"{other}#gen2"
    with pytest.raises(DecryptError, match="INVALID_ARGUMENT"):
        w.decrypt(r.ciphertext, "uid", key, {})


@pytest.mark.slow
def test_azure_plugin_versions_and_official_client_interop(fake_azure_keyvault: FakeKeyVault,
                                                           cloud_env: dict[str, str],
                                                           start_plugin: Any) -> None:
    from kubecrypt.cloud import azure

    fake = fake_azure_keyvault
    name, v1 = fake.create_key()
    p = start_plugin("azure", {"key": fake.key_url(name)}, env=cloud_env)  # latest version
    c = client.GrpcKMSv2(p.endpoint)
    kid1 = fake.key_url(name, v1)
    assert c.status().key_id == kid1
    r = c.encrypt(b"a" * 32)
    assert r.key_id == kid1 and dict(r.annotations) == {} and len(r.ciphertext) == 256
    assert azure.decrypt(fake.url, name, v1, r.ciphertext) == b"a" * 32  # RSA-OAEP-256 block
    assert c.decrypt(azure.encrypt(fake.url, name, v1, b"z" * 32), "uid", kid1, {}) == b"z" * 32
    # A new key version in the vault: a restarted plugin reports a new key_id (rotation is
    # visible), and what the old version wrapped still opens through its own key_id.
    _, v2 = fake.create_key(name)
    q = start_plugin("azure", {"key": fake.key_url(name)}, env=cloud_env, name="q")
    d = client.GrpcKMSv2(q.endpoint)
    assert d.status().key_id == fake.key_url(name, v2)
    assert d.decrypt(r.ciphertext, "uid", kid1, {}) == b"a" * 32
    assert ("decrypt", f"{name}/{v1}") in fake.calls
    with pytest.raises(DecryptError, match="NOT_FOUND"):
        d.decrypt(r.ciphertext, "uid", f"{fake.url}/keys/other/{v1}", {})
    with pytest.raises(DecryptError, match="INVALID_ARGUMENT"):
        d.decrypt(r.ciphertext, "uid", fake.key_url(name, v2), {})
    # The client's own errors name the operation and the key version it used.
    with pytest.raises(CloudError, match=rf"^Azure Key Vault Decrypt with "
                                         rf"{re.escape(fake.key_url(name, v2))} failed: HTTP 400"):
        azure.decrypt(fake.url, name, v2, r.ciphertext)
    with pytest.raises(CloudError, match=rf"^Azure Key Vault Encrypt with "
                                         rf"{re.escape(fake.url)}/keys/other/{v1} failed: HTTP 4"):
        azure.encrypt(fake.url, "other", v1, b"z" * 32)


def test_bad_config_is_one_sentence(cloud_env: dict[str, str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for backend, cfg, msg in (
        ("gcp", {}, "needs `key`"),
        ("gcp", {"key": "projects/p/cryptoKeys/k"}, "is not a GCP KMS key name"),
        ("azure", {"key": "https://v/secrets/x"}, "is not an Azure Key Vault key URL"),
        ("azure", {}, "needs `key`"),
    ):
        with pytest.raises(ConfigError, match=msg):
            create(backend, cfg)
    # A missing optional library names the extra to install.
    from kubecrypt.cloud import gcp

    monkeypatch.setattr(gcp, "_clients", {})
    import google.cloud

    monkeypatch.setitem(sys.modules, "google.cloud.kms_v1", None)
    monkeypatch.delattr(google.cloud, "kms_v1", raising=False)
    with pytest.raises(ConfigError, match=r"pip install 'kubecrypt\[gcp\]'"):
        create("gcp", {"key": "projects/p/locations/l/keyRings/r/cryptoKeys/k"})
    import azure.keyvault

    monkeypatch.setitem(sys.modules, "azure.keyvault.keys", None)
    monkeypatch.delattr(azure.keyvault, "keys", raising=False)
    with pytest.raises(ConfigError, match=r"pip install 'kubecrypt\[azure\]'"):
        create("azure", {"key": "https://v.vault.azure.net/keys/k"})
