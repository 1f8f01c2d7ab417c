"""GCP KMS (``gcp_kms``) and Azure Key Vault (``azure_kv``) keys in sops files.

Neither cloud has a local endpoint the real sops 3.11 can be pointed at, so kubecrypt talks to
local FAKES of the two service APIs (tests/fake_gcp_kms.py, tests/fake_azure_keyvault.py) through
the official client libraries. The real sops is still used where it can be: it opens our files
through their age key and writes them back (``sops set``), which re-serialises our gcp_kms and
azure_kv entries with its own code, so the layout is compared byte for byte with sops' own."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from fake_azure_keyvault import FakeKeyVault
from fake_gcp_kms import FakeGCPKMS
from sops.conftest import AgeKey, Run, key_env

pytestmark = pytest.mark.slow

PLAIN = b"apiVersion: v1\nkind: Secret\ndata:\n    password: hunter2\n"
CLOUD = ("GOOGLE_", "SOPS_GCP", "GRPC_DEFAULT_SSL", "IDENTITY_", "MSI_", "AZURE_",
         "REQUESTS_CA_BUNDLE", "NO_GCE_CHECK")


def _clean(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(CLOUD)}


@pytest.fixture
def cloud(sops_env: dict[str, str], fake_gcp_kms: FakeGCPKMS,
          fake_azure_keyvault: FakeKeyVault) -> dict[str, str]:
    """Both fakes reachable (and nothing else: no metadata-server probing)."""
    env = {**_clean(sops_env), **fake_gcp_kms.env(), "NO_GCE_CHECK": "True"}
    env.update({k: v for k, v in fake_azure_keyvault.env().items() if v})
    return env


@pytest.fixture
def no_cloud(sops_env: dict[str, str]) -> dict[str, str]:
    return {**_clean(sops_env), "NO_GCE_CHECK": "True"}


def _src(tmp_path: Path, name: str = "secret.yaml", data: bytes = PLAIN) -> Path:
    f = tmp_path / name
    f.write_bytes(data)
    return f


def _block(text: bytes, field: str) -> bytes:
    """One key-type list of the YAML metadata, e.g. everything under ``    gcp_kms:``."""
    m = re.search(rb"\n(    " + field.encode() + rb":\n(?:        .*\n)+)", text)
    assert m, text.decode()
    return m.group(1)


def test_gcp_and_azure_round_trip_layout_matches_real_sops(
        real_sops: Run, kc: Run, cloud: dict[str, str], no_cloud: dict[str, str],
        fake_gcp_kms: FakeGCPKMS, fake_azure_keyvault: FakeKeyVault,
        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    gid = fake_gcp_kms.create_key()
    name, ver = fake_azure_keyvault.create_key()
    k1 = age_keys["k1"]
    src = _src(tmp_path)
    r = kc("encrypt", "--gcp-kms", gid, "--azure-kv", fake_azure_keyvault.key_url(name, ver),
           "--age", k1.recipient, str(src), env=cloud)
    assert r.returncode == 0, r.stderr
    ours = r.stdout
    assert b"hunter2" not in ours
    # sops' order of key types: kms, gcp_kms, azure_kv, hc_vault, age; fields as stores.go.
    text = ours.decode()
    assert text.index("gcp_kms:") < text.index("azure_kv:") < text.index("age:")
    g = _block(ours, "gcp_kms").decode()
    assert re.fullmatch(
        r"    gcp_kms:\n        - resource_id: " + re.escape(gid) + r"\n"
        r"          created_at: \"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\"\n"
        r"          enc: [A-Za-z0-9+/]+=*\n", g), g
    a = _block(ours, "azure_kv").decode()
    assert re.fullmatch(
        r"    azure_kv:\n        - vault_url: " + re.escape(fake_azure_keyvault.url) + r"\n"
        r"          name: " + name + r"\n          version: " + ver + r"\n"
        r"          created_at: \"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\"\n"
        r"          enc: [A-Za-z0-9_-]+\n", a), a  # base64url, no padding
    # The wrapped keys are what the services returned (standard b64 / raw b64url).
    genc = g.split("enc: ")[1].strip()
    assert base64.b64decode(genc)[:1] == b"\x01"  # the fake's ciphertext version byte
    aenc = a.split("enc: ")[1].strip()
    assert len(base64.urlsafe_b64decode(aenc + "=" * (-len(aenc) % 4))) == 256  # RSA-2048
    enc = tmp_path / "enc.yaml"
    enc.write_bytes(ours)
    # Each cloud key alone opens it (no age identity anywhere).
    for drop in ("gcp_kms", "azure_kv"):
        only = tmp_path / f"only-{drop}.yaml"
        other = "azure_kv" if drop == "gcp_kms" else "gcp_kms"
        only.write_bytes(ours.replace(_block(ours, other), b""))
        calls = len(fake_gcp_kms.calls) + len(fake_azure_keyvault.calls)
        r = kc("decrypt", "--ignore-mac", str(only), env=cloud)
        assert r.returncode == 0 and r.stdout == PLAIN, r.stderr
        assert len(fake_gcp_kms.calls) + len(fake_azure_keyvault.calls) > calls
    assert ("Decrypt", gid) in fake_gcp_kms.calls
    assert ("decrypt", f"{name}/{ver}") in fake_azure_keyvault.calls
    # The real sops reads our metadata (created_at parses, age opens it) and writes it back
    # with its own serialiser: the cloud entries come out byte for byte as we wrote them.
    with_age = key_env(no_cloud, k1.identity_file, tmp=tmp_path)
    assert real_sops("decrypt", str(enc), env=with_age).stdout == PLAIN
    r = real_sops("set", str(enc), '["data"]["user"]', '"bob"', env=with_age)
    assert r.returncode == 0, r.stderr
    theirs = enc.read_bytes()
    assert _block(theirs, "gcp_kms") == _block(ours, "gcp_kms")
    assert _block(theirs, "azure_kv") == _block(ours, "azure_kv")
    # ...and what sops wrote opens here through the cloud keys alone.
    r = kc("decrypt", str(enc), env=cloud)
    assert r.returncode == 0 and b"user: bob" in r.stdout, r.stderr


def test_json_layout_matches_real_sops(real_sops: Run, kc: Run, cloud: dict[str, str],
                                       no_cloud: dict[str, str], fake_gcp_kms: FakeGCPKMS,
                                       fake_azure_keyvault: FakeKeyVault,
                                       age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    gid = fake_gcp_kms.create_key()
    name, ver = fake_azure_keyvault.create_key()
    k1 = age_keys["k1"]
    src = _src(tmp_path, "s.json", b'{"a": "b"}')
    r = kc("encrypt", "--gcp-kms", gid, "--azure-kv", fake_azure_keyvault.key_url(name, ver),
           "--age", k1.recipient, str(src), env=cloud)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)["sops"]
    assert list(doc["gcp_kms"][0]) == ["resource_id", "created_at", "enc"]
    assert list(doc["azure_kv"][0]) == ["vault_url", "name", "version", "created_at", "enc"]
    enc = tmp_path / "enc.json"
    enc.write_bytes(r.stdout)
    with_age = key_env(no_cloud, k1.identity_file, tmp=tmp_path)
    assert real_sops("set", str(enc), '["c"]', '"d"', env=with_age).returncode == 0
    theirs = json.loads(enc.read_bytes())["sops"]
    assert theirs["gcp_kms"] == doc["gcp_kms"] and theirs["azure_kv"] == doc["azure_kv"]
    assert list(theirs) == list(doc)  # same top-level metadata order
    text = enc.read_text()
    assert text.index('"gcp_kms"') < text.index('"azure_kv"') < text.index('"age"')


def test_env_variables_and_wrong_keys(kc: Run, cloud: dict[str, str], fake_gcp_kms: FakeGCPKMS,
                                      fake_azure_keyvault: FakeKeyVault, tmp_path: Path) -> None:
    gid, gid2 = fake_gcp_kms.create_key(), fake_gcp_kms.create_key()
    name, ver = fake_azure_keyvault.create_key()
    src = _src(tmp_path)
    # SOPS_GCP_KMS_IDS / SOPS_AZURE_KEYVAULT_URLS; a URL without a version gets the latest.
    r = kc("encrypt", str(src), env={**cloud, "SOPS_GCP_KMS_IDS": gid,
                                      "SOPS_AZURE_KEYVAULT_URLS":
                                      fake_azure_keyvault.key_url(name)})
    assert r.returncode == 0, r.stderr
    assert f"resource_id: {gid}".encode() in r.stdout and f"version: {ver}".encode() in r.stdout
    made = r.stdout
    gcp_only = made.replace(_block(made, "azure_kv"), b"")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(gcp_only.replace(gid.encode(), gid2.encode()))
    r = kc("decrypt", str(bad), env=cloud)
    assert r.returncode == 128 and b"INVALID_ARGUMENT" in r.stderr, r.stderr
    # An Azure ciphertext under another key version fails in the vault.
    _, ver2 = fake_azure_keyvault.create_key(name)
    az_only = made.replace(_block(made, "gcp_kms"), b"")
    bad.write_bytes(az_only.replace(ver.encode(), ver2.encode()))
    r = kc("decrypt", str(bad), env=cloud)
    assert r.returncode == 128 and b"HTTP 400" in r.stderr, r.stderr
    # Bad names are one sentence, nothing written.
    for args, msg in ((("--gcp-kms", "projects/p/keys/x"), b"is not a GCP KMS key name"),
                      (("--azure-kv", "http://vault/keys/x"), b"is not an Azure Key Vault key URL")):
        r = kc("encrypt", *args, str(src), env=cloud)
        assert r.returncode != 0 and msg in r.stderr and not r.stdout, r.stderr
        assert b"Traceback" not in r.stderr
    # A wrong GCP token: the service refuses, one sentence.
    r = kc("encrypt", "--gcp-kms", gid, str(src),
           env={**cloud, "GOOGLE_OAUTH_ACCESS_TOKEN": "wrong"})
    assert r.returncode != 0 and b"UNAUTHENTICATED" in r.stderr and not r.stdout, r.stderr


def test_sops_yaml_rules_and_key_groups(kc: Run, cloud: dict[str, str], fake_gcp_kms: FakeGCPKMS,
                                        fake_azure_keyvault: FakeKeyVault,
                                        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    g1, g2 = fake_gcp_kms.create_key(), fake_gcp_kms.create_key()
    name, ver = fake_azure_keyvault.create_key()
    url = fake_azure_keyvault.url
    k1 = age_keys["k1"]
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: flat\\.yaml$\n"
        f"    gcp_kms: {g1},{g2}\n"
        f"    azure_keyvault: {fake_azure_keyvault.key_url(name, ver)}\n"
        "  - path_regex: groups\\.yaml$\n"
        "    shamir_threshold: 2\n"
        "    key_groups:\n"
        "      - gcp_kms:\n"
        f"          - resource_id: {g1}\n"
        "      - azure_keyvault:\n"
        f"          - vaultUrl: {url}\n"
        f"            key: {name}\n"  # no version: the latest is fetched
        "      - age:\n"
        f"          - {k1.recipient}\n")
    _src(tmp_path, "flat.yaml")
    r = kc("encrypt", "-i", "flat.yaml", env=cloud, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "flat.yaml").read_bytes()
    assert text.count(b"resource_id:") == 2 and f"version: {ver}".encode() in text
    assert kc("decrypt", "flat.yaml", env=cloud, cwd=tmp_path).stdout == PLAIN
    _src(tmp_path, "groups.yaml")
    r = kc("encrypt", "-i", "groups.yaml", env=cloud, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "groups.yaml").read_bytes()
    assert b"key_groups:" in text and b"shamir_threshold: 2" in text
    assert f"version: {ver}".encode() in text
    # Two of three groups: the two clouds, no age identity.
    assert kc("decrypt", "groups.yaml", env=cloud, cwd=tmp_path).stdout == PLAIN
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - key_groups:\n      - gcp_kms:\n          - {}\n")
    r = kc("encrypt", "flat.yaml", env=cloud, cwd=tmp_path)
    assert r.returncode != 0 and b"needs a resource_id" in r.stderr


def test_rotate_and_updatekeys(real_sops: Run, kc: Run, cloud: dict[str, str],
                               no_cloud: dict[str, str], fake_gcp_kms: FakeGCPKMS,
                               fake_azure_keyvault: FakeKeyVault,
                               age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    gid = fake_gcp_kms.create_key()
    name, ver = fake_azure_keyvault.create_key()
    kurl = fake_azure_keyvault.key_url(name, ver)
    k1 = age_keys["k1"]
    src = _src(tmp_path)
    with_age = key_env(no_cloud, k1.identity_file, tmp=tmp_path)
    src.write_bytes(real_sops("encrypt", "--age", k1.recipient, str(src), env=with_age).stdout)
    env = {**cloud, "SOPS_AGE_KEY_FILE": with_age["SOPS_AGE_KEY_FILE"]}
    r = kc("rotate", "-i", "--add-gcp-kms", gid, "--add-azure-kv", kurl, str(src), env=env)
    assert r.returncode == 0, r.stderr
    text = src.read_bytes()
    assert gid.encode() in text and ver.encode() in text
    assert kc("decrypt", str(src), env=cloud).stdout == PLAIN  # clouds only
    assert real_sops("decrypt", str(src), env=with_age).stdout == PLAIN
    r = kc("rotate", "-i", "--rm-gcp-kms", gid, "--rm-azure-kv", kurl, str(src), env=env)
    assert r.returncode == 0, r.stderr
    text = src.read_bytes()
    assert b"gcp_kms" not in text and b"azure_kv" not in text
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - gcp_kms: {gid}\n    azure_keyvault: {kurl}\n"
        f"    age: {k1.recipient}\n")
    r = kc("updatekeys", "-y", str(src), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"+++ {gid}".encode() in r.stdout and f"+++ {kurl}".encode() in r.stdout
    assert kc("decrypt", str(src), env=cloud).stdout == PLAIN
    r = kc("updatekeys", "-y", str(src), env=env, cwd=tmp_path)
    assert b"already up to date" in r.stderr  # the versioned URL compares equal


def test_unusable_cloud_recipients_stay_untouched(kc: Run, cloud: dict[str, str],
                                                  no_cloud: dict[str, str],
                                                  fake_gcp_kms: FakeGCPKMS,
                                                  fake_azure_keyvault: FakeKeyVault,
                                                  age_keys: dict[str, AgeKey],
                                                  tmp_path: Path) -> None:
    """No GCP or Azure credentials (or library) here: set/unset keep both entries byte for
    byte; rotate and updatekeys refuse without writing anything."""
    gid = fake_gcp_kms.create_key()
    name, ver = fake_azure_keyvault.create_key()
    k1 = age_keys["k1"]
    src = _src(tmp_path)
    made = kc("encrypt", "--gcp-kms", gid, "--azure-kv", fake_azure_keyvault.key_url(name, ver),
              "--age", k1.recipient, str(src), env=cloud).stdout
    src.write_bytes(made)
    env = key_env(no_cloud, k1.identity_file, tmp=tmp_path)
    before = (_block(made, "gcp_kms"), _block(made, "azure_kv"))
    assert kc("set", str(src), '["data"]["user"]', '"bob"', env=env).returncode == 0
    assert kc("unset", str(src), '["data"]["password"]', env=env).returncode == 0
    after = src.read_bytes()
    assert (_block(after, "gcp_kms"), _block(after, "azure_kv")) == before
    r = kc("decrypt", str(src), env=cloud)  # the cloud entries still open it
    assert r.returncode == 0 and b"user: bob" in r.stdout and b"password" not in r.stdout
    r = kc("rotate", "-i", str(src), env=env)
    assert r.returncode != 0 and src.read_bytes() == after
    assert b"GCP KMS" in r.stderr and b"Traceback" not in r.stderr, r.stderr
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - gcp_kms: {gid}\n")
    r = kc("updatekeys", "-y", str(src), env=env, cwd=tmp_path)
    assert r.returncode != 0 and src.read_bytes() == after, r.stderr
