"""AWS KMS keys in sops files, both ways with the real sops 3.11 binary, against a real
``moto_server`` (KMS and STS) on loopback reached through ``AWS_ENDPOINT_URL_KMS``/``_STS``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from moto_kms import Moto, clean_env
from sops.conftest import AgeKey, Run, key_env

pytestmark = pytest.mark.slow

PLAIN = b"apiVersion: v1\nkind: Secret\ndata:\n    password: hunter2\n"
ROLE = "arn:aws:iam::123456789012:role/sops-test"
_VOLATILE = re.compile(r'(enc|created_at|lastmodified|mac)("?\s*[:=]\s*"?)[^"\n]*')
_AGE_BLOCK = re.compile(r"enc: \|\n(?:.*\n)*?\s*-----END AGE ENCRYPTED FILE-----\n")


def shape(text: bytes) -> str:
    """The file with every random or time-dependent value blanked: what must match sops."""
    t = _AGE_BLOCK.sub("enc: AGE\n", text.decode())
    return _VOLATILE.sub(r"\1\2X", re.sub(r"ENC\[[^\]]*\]", "ENC", t))


@pytest.fixture
def aws(sops_env: dict[str, str], moto: Moto) -> dict[str, str]:
    return {**clean_env(sops_env), **moto.env()}


def _plain(tmp_path: Path, name: str = "secret.yaml", data: bytes = PLAIN) -> Path:
    f = tmp_path / name
    f.write_bytes(data)
    return f


@pytest.mark.parametrize("name,data", [
    ("secret.yaml", PLAIN), ("secret.json", b'{"a": "b", "n": 1}'), ("secret.env", b"A=1\n"),
])
def test_sops_kms_both_ways_same_metadata(real_sops: Run, kc: Run, moto: Moto, aws: dict[str, str],
                                          tmp_path: Path, name: str, data: bytes) -> None:
    arn = moto.create_key()
    src = _plain(tmp_path, name, data)
    args = ("encrypt", "--kms", f"{arn}+{ROLE}", "--encryption-context", "z:1,a:2", str(src))
    theirs, ours = real_sops(*args, env=aws), kc(*args, env=aws)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert shape(ours.stdout) == shape(theirs.stdout)
    assert b"hunter2" not in ours.stdout
    for made in (theirs.stdout, ours.stdout):
        enc = tmp_path / f"enc{src.suffix}"
        enc.write_bytes(made)
        mine, sops = kc("decrypt", str(enc), env=aws), real_sops("decrypt", str(enc), env=aws)
        assert mine.returncode == 0 and sops.returncode == 0, (mine.stderr, sops.stderr)
        assert mine.stdout == sops.stdout


def test_seed_legacy_command_line(real_sops: Run, kc: Run, moto: Moto, aws: dict[str, str],
                                  tmp_path: Path) -> None:
    """The seed's `sops --encrypt --kms ARN secret.yaml > encrypted-secret.yaml`, and -d."""
    arn = moto.create_key()
    src = _plain(tmp_path)
    r = kc("--encrypt", "--kms", arn, str(src), env=aws)
    assert r.returncode == 0, r.stderr
    enc = tmp_path / "encrypted-secret.yaml"
    enc.write_bytes(r.stdout)
    assert real_sops("--decrypt", str(enc), env=aws).stdout == PLAIN
    assert kc("--decrypt", str(enc), env=aws).stdout == PLAIN
    assert kc("-d", str(enc), env=aws).stdout == PLAIN
    # SOPS_KMS_ARN instead of the flag, short -e, sops' own file the other way.
    r = kc("-e", str(src), env={**aws, "SOPS_KMS_ARN": arn})
    assert r.returncode == 0 and f"arn: {arn}".encode() in r.stdout, r.stderr
    theirs = real_sops("--encrypt", "--kms", arn, str(src), env=aws).stdout
    enc.write_bytes(theirs)
    assert kc("--decrypt", str(enc), env=aws).stdout == PLAIN
    r = kc("--encrypt", "--decrypt", str(enc), env=aws)
    assert r.returncode == 8 and b"only one of" in r.stderr


def test_mixed_age_and_kms(real_sops: Run, kc: Run, moto: Moto, aws: dict[str, str],
                           age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    arn = moto.create_key()
    src = _plain(tmp_path)
    k1 = age_keys["k1"]
    no_aws = {**clean_env(aws), "AWS_EC2_METADATA_DISABLED": "true"}
    with_age = key_env(no_aws, k1.identity_file, tmp=tmp_path)
    for maker, reader in ((real_sops, kc), (kc, real_sops)):
        r = maker("encrypt", "--kms", arn, "--age", k1.recipient, str(src), env=aws)
        assert r.returncode == 0, r.stderr
        enc = tmp_path / "mixed.yaml"
        enc.write_bytes(r.stdout)
        assert reader("decrypt", str(enc), env=aws).stdout == PLAIN  # through KMS only
        assert reader("decrypt", str(enc), env=with_age).stdout == PLAIN  # age, no AWS at all
        r = reader("decrypt", str(enc), env=no_aws)
        assert r.returncode == 128 and b"Group 0: FAILED" in r.stderr


def test_wrong_encryption_context_fails_in_both(real_sops: Run, kc: Run, moto: Moto,
                                                aws: dict[str, str], tmp_path: Path) -> None:
    arn = moto.create_key()
    src = _plain(tmp_path)
    for maker in (real_sops, kc):
        made = maker("encrypt", "--kms", arn, "--encryption-context", "app:web,env:prod",
                     str(src), env=aws).stdout
        assert b"app: web" in made
        bad = tmp_path / "bad.yaml"
        bad.write_bytes(made.replace(b"env: prod", b"env: dev"))
        for reader in (real_sops, kc):
            r = reader("decrypt", str(bad), env=aws)
            assert r.returncode == 128, (maker, reader, r.stderr)
            assert b"InvalidCiphertextException" in r.stderr
    for tool in (kc, real_sops):
        r = tool("encrypt", "--kms", arn, "--encryption-context", "no-colon", str(src), env=aws)
        assert r.returncode == 6 and not r.stdout, r.stderr


def test_role_is_assumed_through_sts(real_sops: Run, kc: Run, moto: Moto, aws: dict[str, str],
                                     tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    arn = moto.create_key()
    src = _plain(tmp_path)
    no_sts = {**aws, "AWS_ENDPOINT_URL_STS": dead, "AWS_MAX_ATTEMPTS": "1"}
    for maker in (real_sops, kc):
        made = maker("encrypt", "--kms", f"{arn}+{ROLE}", str(src), env=aws)
        assert made.returncode == 0 and f"role: {ROLE}".encode() in made.stdout, made.stderr
        enc = tmp_path / "role.yaml"
        enc.write_bytes(made.stdout)
        for reader in (real_sops, kc):
            assert reader("decrypt", str(enc), env=aws).stdout == PLAIN
            # Without STS the role cannot be assumed, so neither reaches KMS.
            r = reader("decrypt", str(enc), env=no_sts)
            assert r.returncode == 128 and b"assume role" in r.stderr, r.stderr


def test_aws_profile(real_sops: Run, kc: Run, moto: Moto, aws: dict[str, str],
                     tmp_path: Path) -> None:
    arn = moto.create_key()
    src = _plain(tmp_path)
    Path(aws["AWS_CONFIG_FILE"]).write_text("[profile team]\nregion = us-east-1\n")
    Path(aws["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
        "[team]\naws_access_key_id = team\naws_secret_access_key = team\n")
    for maker, reader in ((real_sops, kc), (kc, real_sops)):
        made = maker("encrypt", "--kms", arn, "--aws-profile", "team", str(src), env=aws)
        assert made.returncode == 0 and b"aws_profile: team" in made.stdout, made.stderr
        enc = tmp_path / "p.yaml"
        enc.write_bytes(made.stdout)
        assert reader("decrypt", str(enc), env=aws).stdout == PLAIN
        enc.write_bytes(made.stdout.replace(b"aws_profile: team", b"aws_profile: nobody"))
        for r in (reader("decrypt", str(enc), env=aws), maker("decrypt", str(enc), env=aws)):
            assert r.returncode == 128


def test_sops_yaml_rules_and_key_groups(real_sops: Run, kc: Run, moto: Moto, aws: dict[str, str],
                                        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    a1, a2 = moto.create_key(), moto.create_key()
    k1 = age_keys["k1"]
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: flat\\.yaml$\n"
        f"    kms: {a1},{a2}+{ROLE}\n"
        "  - path_regex: groups\\.yaml$\n"
        "    shamir_threshold: 2\n"
        "    key_groups:\n"
        "      - kms:\n"
        f"          - arn: {a1}\n"
        "            context: {team: infra}\n"
        f"          - arn: {a2}\n"
        f"            role: {ROLE}\n"
        "      - age:\n"
        f"          - {k1.recipient}\n")
    # sops 3.11 ignores --encryption-context for keys from .sops.yaml (it only applies to --kms).
    for name in ("flat.yaml", "groups.yaml"):
        src = _plain(tmp_path, name)
        args = ("encrypt", "--encryption-context", "a:b", name)
        theirs = real_sops(*args, env=aws, cwd=tmp_path)
        ours = kc(*args, env=aws, cwd=tmp_path)
        assert theirs.returncode == 0 and ours.returncode == 0, (theirs.stderr, ours.stderr)
        assert shape(ours.stdout) == shape(theirs.stdout)
        src.write_bytes(ours.stdout)
        env = key_env(aws, k1.identity_file, tmp=tmp_path)
        assert real_sops("decrypt", name, env=env, cwd=tmp_path).stdout == PLAIN
        assert b"a: b" not in ours.stdout


def test_rotate_and_updatekeys_add_and_remove_kms(real_sops: Run, kc: Run, moto: Moto,
                                                  aws: dict[str, str],
                                                  age_keys: dict[str, AgeKey],
                                                  tmp_path: Path) -> None:
    a1, a2 = moto.create_key(), moto.create_key()
    k1 = age_keys["k1"]
    src = _plain(tmp_path)
    src.write_bytes(real_sops("encrypt", "--age", k1.recipient, str(src), env=aws).stdout)
    env = key_env(aws, k1.identity_file, tmp=tmp_path)
    r = kc("rotate", "-i", "--add-kms", a1, "--encryption-context", "k:v", str(src), env=env)
    assert r.returncode == 0, r.stderr
    text = src.read_bytes()
    assert f"arn: {a1}".encode() in text and b"k: v" in text
    no_age = aws  # only KMS can open it now
    assert real_sops("decrypt", str(src), env=no_age).stdout == PLAIN
    # --rm-kms matches sops' key string (ARN|context), so the context must be given too.
    r = kc("rotate", "-i", "--rm-kms", a1, "--encryption-context", "k:v", str(src), env=env)
    assert r.returncode == 0, r.stderr
    assert a1.encode() not in src.read_bytes()
    # updatekeys: the rule now names a2 (and the age key); a2 is added, nothing else changes.
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - kms: {a2}\n    age: {k1.recipient}\n")
    # The change list is on stdout, as the real sops prints it for a copy of the same file.
    theirs = tmp_path / "theirs.yaml"
    theirs.write_bytes(src.read_bytes())
    r = kc("updatekeys", "-y", str(src), env=env, cwd=tmp_path)
    assert r.returncode == 0 and f"+++ {a2}".encode() in r.stdout, r.stderr
    assert r.stdout == real_sops("updatekeys", "-y", str(theirs), env=env, cwd=tmp_path).stdout
    assert real_sops("decrypt", str(src), env=no_age).stdout == PLAIN
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {k1.recipient}\n")
    r = kc("updatekeys", "-y", str(src), env=env, cwd=tmp_path)
    assert r.returncode == 0 and f"--- {a2}".encode() in r.stdout, r.stderr
    assert r.stdout == real_sops("updatekeys", "-y", str(theirs), env=env, cwd=tmp_path).stdout
    assert a2.encode() not in src.read_bytes()


FOREIGN = (b"    gcp_kms:\n"
           b"        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k\n"
           b"          created_at: \"2026-01-01T00:00:00Z\"\n"
           b"          enc: CiQAfakefakefake\n")


def test_unusable_recipients_stay_untouched(real_sops: Run, kc: Run, moto: Moto,
                                            aws: dict[str, str], age_keys: dict[str, AgeKey],
                                            tmp_path: Path) -> None:
    """A file with a KMS key we have no credentials for and a GCP key kubecrypt cannot use:
    set/unset keep both entries byte for byte; rotate/updatekeys refuse without writing."""
    arn = moto.create_key()
    k1 = age_keys["k1"]
    src = _plain(tmp_path)
    made = real_sops("encrypt", "--kms", arn, "--age", k1.recipient, str(src), env=aws).stdout
    made = made.replace(b"    age:\n", FOREIGN + b"    age:\n")  # sops' order: kms, gcp_kms, age
    src.write_bytes(made)
    no_aws = key_env({**clean_env(aws), "AWS_EC2_METADATA_DISABLED": "true"}, k1.identity_file,
                     tmp=tmp_path)

    def cloud_entries(text: bytes) -> bytes:
        return text.split(b"    age:")[0].split(b"sops:\n")[1]

    before = cloud_entries(made)
    assert kc("set", str(src), '["data"]["user"]', '"bob"', env=no_aws).returncode == 0
    assert kc("unset", str(src), '["data"]["password"]', env=no_aws).returncode == 0
    after = src.read_bytes()
    assert cloud_entries(after) == before
    r = real_sops("decrypt", str(src), env=aws)  # the KMS entry still opens it
    assert r.returncode == 0 and b"user: bob" in r.stdout and b"password" not in r.stdout
    r = kc("rotate", "-i", str(src), env=no_aws)
    assert r.returncode != 0 and src.read_bytes() == after
    assert b"gcp_kms" in r.stderr or b"AWS" in r.stderr
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - kms: {arn}\n"
                                         f"    age: {k1.recipient}\n")
    r = kc("updatekeys", "-y", str(src), env=no_aws, cwd=tmp_path)
    assert r.returncode != 0 and src.read_bytes() == after
