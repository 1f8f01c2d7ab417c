"""``kubecrypt sops`` commands: bad input with sops' exit codes and one sentence, atomic
``--in-place``, ``.sops.yaml`` rules, set/unset (IV reuse), rotate, updatekeys and edit; every
result checked by the real sops binary."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import AgeKey, Run, key_env

PLAIN = b"app:\n  password: hunter2\n  user: svc\n  replicas: 3\nregion: eu\n"


@pytest.fixture
def enc_file(kc: Run, sops_env: dict[str, str], age_keys: dict[str, AgeKey],
             tmp_path: Path) -> Path:
    src = tmp_path / "s.yaml"
    src.write_bytes(PLAIN)
    r = kc("encrypt", "-i", "--age", age_keys["k1"].recipient, str(src), env=sops_env)
    assert r.returncode == 0, r.stderr.decode()
    return src


def _one_sentence(stderr: bytes) -> str:
    text = stderr.decode()
    assert text.startswith("error: "), text
    assert "Traceback" not in text
    return text


def test_unparseable_input_exit_2(kc: Run, sops_env: dict[str, str], tmp_path: Path,
                                  age_keys: dict[str, AgeKey]) -> None:
    for name, body in (("bad.yaml", b"a: [\n"), ("bad.json", b"{"), ("bad.env", b"NOEQUALS\n"),
                       ("list.yaml", b"- a\n- b\n")):
        (tmp_path / name).write_bytes(body)
        r = kc("encrypt", "--age", age_keys["k1"].recipient, str(tmp_path / name), env=sops_env)
        assert r.returncode == 2, (name, r.stderr)
        _one_sentence(r.stderr)


def test_no_key_given_and_no_identity(kc: Run, sops_env: dict[str, str], tmp_path: Path,
                                      enc_file: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    r = kc("encrypt", str(tmp_path / "p.yaml"), env=sops_env, cwd=tmp_path)
    assert r.returncode == 1 and b"no keys provided" in r.stderr  # sops 3.11 exits 1
    r = kc("decrypt", str(enc_file), env=sops_env)
    assert r.returncode == 128
    assert "Failed to get the data key" in _one_sentence(r.stderr)


def test_wrong_recipient_exit_128(kc: Run, sops_env: dict[str, str], enc_file: Path,
                                  age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    env = key_env(sops_env, age_keys["stranger"].identity_file, tmp=tmp_path)
    r = kc("decrypt", str(enc_file), env=env)
    assert r.returncode == 128 and b"identity did not match" in r.stderr


def test_tampering_exit_codes(kc: Run, sops_env: dict[str, str], enc_file: Path,
                              age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    text = enc_file.read_text()
    # A value moved to another key fails authentication (AAD = key path): 25.
    lines = text.splitlines(keepends=True)
    pw = next(i for i, ln in enumerate(lines) if ln.startswith("    password:"))
    us = next(i for i, ln in enumerate(lines) if ln.startswith("    user:"))
    moved = lines.copy()
    moved[pw] = "    password:" + lines[us].split(":", 1)[1]
    (tmp_path / "m.yaml").write_text("".join(moved))
    r = kc("decrypt", str(tmp_path / "m.yaml"), env=env)
    assert r.returncode == 25, r.stderr
    # A changed plaintext value breaks the MAC: 51 (and --ignore-mac accepts it).
    (tmp_path / "q.yaml").write_bytes(PLAIN)
    r = kc("encrypt", "--age", age_keys["k1"].recipient, "--encrypted-regex", "^app$",
           str(tmp_path / "q.yaml"), env=sops_env)
    assert b"region: eu" in r.stdout
    (tmp_path / "p.yaml").write_text(r.stdout.decode().replace("region: eu", "region: us"))
    assert kc("decrypt", str(tmp_path / "p.yaml"), env=env).returncode == 51
    assert kc("decrypt", "--ignore-mac", str(tmp_path / "p.yaml"), env=env).returncode == 0
    # A value that should be encrypted but is plain text: 25.
    (tmp_path / "x.yaml").write_text(text.replace(lines[us].split(": ", 1)[1].strip(), "svc"))
    assert kc("decrypt", str(tmp_path / "x.yaml"), env=env).returncode == 25


def test_already_encrypted_and_missing_file(kc: Run, sops_env: dict[str, str],
                                            enc_file: Path, age_keys: dict[str, AgeKey]) -> None:
    r = kc("encrypt", "--age", age_keys["k1"].recipient, str(enc_file), env=sops_env)
    assert r.returncode == 203
    _one_sentence(r.stderr)
    r = kc("decrypt", str(enc_file.parent / "nope.yaml"), env=sops_env)
    assert r.returncode == 100
    r = kc("decrypt", str(enc_file.parent / "plain.yaml"), env=sops_env)
    assert r.returncode == 100


def test_no_metadata_exit_1(kc: Run, sops_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    r = kc("decrypt", str(tmp_path / "p.yaml"), env=sops_env)
    assert r.returncode == 1 and b"sops metadata not found" in r.stderr


def test_conflicting_selection_rules_exit_8(kc: Run, sops_env: dict[str, str], tmp_path: Path,
                                            age_keys: dict[str, AgeKey]) -> None:
    (tmp_path / "p.yaml").write_bytes(PLAIN)
    r = kc("encrypt", "--age", age_keys["k1"].recipient, "--encrypted-regex", "a",
           "--unencrypted-suffix", "_x", str(tmp_path / "p.yaml"), env=sops_env)
    assert r.returncode == 8
    _one_sentence(r.stderr)


def test_in_place_failure_leaves_file_untouched(kc: Run, sops_env: dict[str, str],
                                                enc_file: Path, age_keys: dict[str, AgeKey],
                                                tmp_path: Path) -> None:
    before = enc_file.read_bytes()
    env = key_env(sops_env, age_keys["stranger"].identity_file, tmp=tmp_path)
    assert kc("decrypt", "-i", str(enc_file), env=env).returncode == 128
    assert kc("rotate", "-i", str(enc_file), env=env).returncode == 128
    assert enc_file.read_bytes() == before
    assert not [p for p in enc_file.parent.iterdir() if p.name.endswith(".tmp")]
    good = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    assert kc("decrypt", "-i", str(enc_file), env=good).returncode == 0
    assert yaml.safe_load(enc_file.read_bytes()) == yaml.safe_load(PLAIN)


def test_creation_rules_first_match(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                    vectors_dir: Path, tmp_path: Path) -> None:
    """The s15 fixture's config with its plaintexts, encrypted by kubecrypt: the first
    matching rule wins, and sops agrees on the result."""
    case = vectors_dir / "sops" / "s15-creation-rules-first-match"
    work = tmp_path / "case"
    shutil.copytree(case, work)
    (work / ".sops.yaml").write_bytes((case / "sops-config.yaml").read_bytes())
    for plain, enc, ident, other in (("secrets/app.yaml", "secrets/a.enc.yaml", "alice", "bob"),
                                     ("other.yaml", "o.enc.yaml", "bob", "alice")):
        r = kc("encrypt", plain, env=sops_env, cwd=work)
        assert r.returncode == 0, r.stderr.decode()
        (work / enc).write_bytes(r.stdout)
        env = key_env(sops_env, work / "identities" / f"{ident}.txt", tmp=tmp_path)
        out = real_sops("decrypt", enc, env=env, cwd=work)
        assert out.returncode == 0, out.stderr.decode()
        assert yaml.safe_load(out.stdout) == yaml.safe_load((work / plain).read_bytes())
        wrong = key_env(sops_env, work / "identities" / f"{other}.txt", tmp=tmp_path)
        assert kc("decrypt", enc, env=wrong, cwd=work).returncode == 128
    assert b"encrypted_regex" in (work / "secrets/a.enc.yaml").read_bytes()
    # No rule matches: sops' sentence, exit 1.
    (work / ".sops.yaml").write_text("creation_rules:\n  - path_regex: nomatch$\n    age: x\n")
    r = kc("encrypt", "other.yaml", env=sops_env, cwd=work)
    assert r.returncode == 1 and b"no matching creation rules" in r.stderr


def test_set_keeps_untouched_ciphertext(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                        enc_file: Path, age_keys: dict[str, AgeKey],
                                        tmp_path: Path) -> None:
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    before = enc_file.read_text().splitlines()
    assert kc("set", str(enc_file), '["app"]["replicas"]', "5", env=env).returncode == 0
    r = kc("set", str(enc_file), '["app"]["password"]', '"new-pass"', env=env)
    assert r.returncode == 0, r.stderr.decode()
    after = enc_file.read_text().splitlines()
    user = [ln for ln in before if ln.startswith("    user:")]
    assert user and user[0] in after  # byte-identical ciphertext (IV reuse)
    assert next(ln for ln in before if ln.startswith("    password:")) not in after
    out = real_sops("decrypt", str(enc_file), env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert yaml.safe_load(out.stdout) == {
        "app": {"password": "new-pass", "user": "svc", "replicas": 5}, "region": "eu"}
    assert kc("unset", str(enc_file), '["app"]["user"]', env=env).returncode == 0
    assert kc("unset", str(enc_file), '["app"]["user"]', env=env).returncode == 1
    assert kc("unset", "--idempotent", str(enc_file), '["app"]["user"]', env=env).returncode == 0
    out = real_sops("decrypt", "--extract", '["app"]', str(enc_file), env=env)
    assert yaml.safe_load(out.stdout) == {"password": "new-pass", "replicas": 5}
    assert kc("set", str(enc_file), '["app"', "1", env=env).returncode == 7  # as sops
    assert kc("set", str(enc_file), '["app"]["x"]', "{bad", env=env).returncode == 7


def test_rotate_and_updatekeys(kc: Run, real_sops: Run, sops_env: dict[str, str],
                               enc_file: Path, age_keys: dict[str, AgeKey],
                               tmp_path: Path) -> None:
    k1, k2, k3 = age_keys["k1"], age_keys["k2"], age_keys["k3"]
    env1 = key_env(sops_env, k1.identity_file, tmp=tmp_path)
    env2 = key_env(sops_env, k2.identity_file, tmp=tmp_path)
    env3 = key_env(sops_env, k3.identity_file, tmp=tmp_path)
    old = enc_file.read_text()
    r = kc("rotate", "-i", "--add-age", k2.recipient, "--rm-age", k1.recipient, str(enc_file),
           env=env1)
    assert r.returncode == 0, r.stderr.decode()
    new = enc_file.read_text()
    assert old.split("password: ")[1][:40] != new.split("password: ")[1][:40]  # new data key
    assert real_sops("decrypt", str(enc_file), env=env1).returncode == 128
    assert real_sops("decrypt", str(enc_file), env=env2).returncode == 0
    # updatekeys: make the file match .sops.yaml (k3 only), same data key and values.
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {k3.recipient}\n")
    r = kc("updatekeys", "-y", "s.yaml", env=env2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    assert f"+++ {k3.recipient}".encode() in r.stdout
    assert f"--- {k2.recipient}".encode() in r.stdout
    again = kc("updatekeys", "-y", "s.yaml", env=env2, cwd=tmp_path)
    assert again.returncode == 0 and b"already up to date" in again.stderr
    updated = enc_file.read_text()
    assert updated.split("password: ")[1][:60] == new.split("password: ")[1][:60]
    out = real_sops("decrypt", str(enc_file), env=env3)
    assert out.returncode == 0 and yaml.safe_load(out.stdout)["app"]["password"] == "hunter2"
    assert real_sops("decrypt", str(enc_file), env=env2).returncode == 128


def _editor(tmp_path: Path, code: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n" + code)
    return f"{sys.executable} {script}"


def test_edit(kc: Run, real_sops: Run, sops_env: dict[str, str], enc_file: Path,
              age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    before = enc_file.read_bytes()
    user_line = next(ln for ln in before.splitlines() if ln.startswith(b"    user:"))
    # Unchanged: exit 200, file untouched.
    env["EDITOR"] = _editor(tmp_path, "assert oct(p.stat().st_mode & 0o777) == '0o600'\n")
    assert kc("edit", str(enc_file), env=env).returncode == 200
    # Broken YAML is refused and nothing is saved.
    env["EDITOR"] = _editor(tmp_path, "p.write_text('a: [\\n')\n")
    r = kc("edit", str(enc_file), env=env)
    assert r.returncode == 2 and b"no longer parses" in r.stderr
    assert enc_file.read_bytes() == before
    # A real change is encrypted; untouched values keep their ciphertext.
    env["EDITOR"] = _editor(tmp_path, "p.write_text(p.read_text().replace('eu', 'us'))\n")
    r = kc("edit", str(enc_file), env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert user_line in enc_file.read_bytes().splitlines()
    out = real_sops("decrypt", str(enc_file), env=env)
    assert yaml.safe_load(out.stdout)["region"] == "us"


def test_stdin_and_output_file(kc: Run, real_sops: Run, sops_env: dict[str, str],
                               age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    r = kc("encrypt", "--age", age_keys["k1"].recipient, "--filename-override", "in.json",
           "--output", str(out), env=sops_env, input=b'{"a": "b"}')
    assert r.returncode == 0, r.stderr.decode()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    assert real_sops("decrypt", str(out), env=env).stdout == b'{\n\t"a": "b"\n}\n'
    r = kc("encrypt", "--age", age_keys["k1"].recipient, "--input-type", "yaml", env=sops_env,
           input=b"a: b\n")
    assert r.returncode == 8  # as sops: stdin needs --filename-override, whatever the type
    st = kc("filestatus", str(out), env=sops_env)
    assert st.stdout.strip() == b'{"encrypted":true}'


def test_identity_sources(kc: Run, sops_env: dict[str, str], enc_file: Path,
                          age_keys: dict[str, AgeKey]) -> None:
    key = age_keys["k1"].identity_file.read_text()
    env = {**sops_env, "SOPS_AGE_KEY": key}
    assert kc("decrypt", str(enc_file), env=env).returncode == 0
    default = Path(sops_env["XDG_CONFIG_HOME"]) / "sops" / "age" / "keys.txt"
    default.parent.mkdir(parents=True)
    default.write_text(key)
    os.chmod(default, 0o600)
    assert kc("decrypt", str(enc_file), env=sops_env).returncode == 0


def test_edit_creates_a_new_file(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                 age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    env = {**sops_env, "EDITOR": _editor(
        tmp_path, "assert 'hello' in p.read_text()\np.write_text('token: abc\\n')\n")}
    new = tmp_path / "new.yaml"
    r = kc("edit", "--age", age_keys["k1"].recipient, str(new), env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert oct(new.stat().st_mode & 0o777) == "0o600"
    kenv = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    out = real_sops("decrypt", str(new), env=kenv)
    assert out.returncode == 0 and out.stdout == b"token: abc\n"


def test_unknown_value_type_and_unknown_format_word(kc: Run, sops_env: dict[str, str],
                                                    enc_file: Path,
                                                    age_keys: dict[str, AgeKey],
                                                    tmp_path: Path) -> None:
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    bad = tmp_path / "t.yaml"
    bad.write_text(enc_file.read_text().replace("type:int]", "type:complex]"))
    r = kc("decrypt", str(bad), env=env)
    assert r.returncode == 25 and b"Unknown datatype" in r.stderr
    r = kc("decrypt", "--input-type", "toml", str(enc_file), env=env)
    assert r.returncode == 0 and b"warning: --input-type 'toml'" in r.stderr


def test_decrypt_path_imports_stay_lean(sops_env: dict[str, str], enc_file: Path,
                                        age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    """No gRPC, etcd or rich on the decrypt path; the CLI module imports its code lazily."""
    import subprocess

    code = (
        "import sys, contextlib, os\n"
        "import kubecrypt.cli.sops\n"
        "lazy = 'kubecrypt.sops.ops' not in sys.modules\n"
        "from kubecrypt.cli import main\n"
        "sys.stdout = open(os.devnull, 'w')\n"
        "with contextlib.suppress(SystemExit):\n"
        f"    main(['sops', 'decrypt', {str(enc_file)!r}])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('grpc', 'etcd3aio', 'rich', 'lightkube', 'hvac', 'prometheus_client'))\n"
        "sys.stderr.write(f'{lazy} {bad}')\n"
    )
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         check=True, timeout=60)
    assert out.stderr.decode().strip() == "True []"


def test_plain_number_where_ciphertext_expected(kc: Run, real_sops: Run,
                                                sops_env: dict[str, str], enc_file: Path,
                                                age_keys: dict[str, AgeKey],
                                                tmp_path: Path) -> None:
    """sops 3.11 crashes with exit 2 on this; we exit 2 as well, with one sentence."""
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    lines = enc_file.read_text().splitlines(keepends=True)
    i = next(n for n, ln in enumerate(lines) if ln.startswith("    replicas:"))
    lines[i] = "    replicas: 3\n"
    (tmp_path / "n.yaml").write_text("".join(lines))
    assert real_sops("decrypt", str(tmp_path / "n.yaml"), env=env).returncode == 2
    r = kc("decrypt", str(tmp_path / "n.yaml"), env=env)
    assert r.returncode == 2 and b"should be encrypted but is a plain int" in r.stderr


def test_indent_and_filename_override(kc: Run, real_sops: Run, sops_env: dict[str, str],
                                      age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    k1 = age_keys["k1"]
    (tmp_path / ".sops.yaml").write_text(
        "stores:\n  yaml:\n    indent: 2\n  json:\n    indent: 3\n"
        f"creation_rules:\n  - path_regex: '^secrets/'\n    age: {k1.recipient}\n"
        "    encrypted_regex: ^data$\n")
    data = b"meta:\n  name: x\ndata:\n  k: v\n"
    r = kc("encrypt", "--filename-override", "secrets/piped.yaml", env=sops_env, cwd=tmp_path,
           input=data)
    assert r.returncode == 0, r.stderr.decode()
    assert b"\nmeta:\n  name: x\n" in b"\n" + r.stdout  # 2-space indent, metadata readable
    assert b"encrypted_regex: ^data$" in r.stdout
    (tmp_path / "o.yaml").write_bytes(r.stdout)
    env = key_env(sops_env, k1.identity_file, tmp=tmp_path)
    assert kc("decrypt", "o.yaml", env=env, cwd=tmp_path).stdout == data
    assert real_sops("decrypt", "o.yaml", env=env, cwd=tmp_path).stdout == data
    j = kc("decrypt", "--output-type", "json", "o.yaml", env=env, cwd=tmp_path)
    assert j.stdout.startswith(b'{\n   "meta": {\n      "name"')
    # sops 3.11 reads --indent only as a global flag of its older form (no sub-command has it)
    for tool in (kc, real_sops):
        four = tool("--indent", "4", "-d", "o.yaml", env=env, cwd=tmp_path)
        assert b"\n    k: v\n" in four.stdout, four.stderr


def test_recipients_from_environment_and_comment_regex_guard(
        kc: Run, sops_env: dict[str, str], age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_bytes(b"# a comment\nk: v\n")
    env = {**sops_env, "SOPS_AGE_RECIPIENTS": age_keys["k1"].recipient}
    r = kc("encrypt", str(tmp_path / "c.yaml"), env=env)
    assert r.returncode == 0 and age_keys["k1"].recipient.encode() in r.stdout
    # A regex that every encrypted comment matches would unmark itself: refused, exit 23.
    r = kc("encrypt", "--unencrypted-comment-regex", "AES256", str(tmp_path / "c.yaml"), env=env)
    assert r.returncode == 23 and b"unencrypted_comment_regex" in r.stderr


def test_exec_env_and_exec_file(kc: Run, sops_env: dict[str, str], enc_file: Path,
                                age_keys: dict[str, AgeKey], tmp_path: Path) -> None:
    env = key_env(sops_env, age_keys["k1"].identity_file, tmp=tmp_path)
    (tmp_path / "e.env").write_bytes(b"DB_PASSWORD=hunter2\nPORT=5432\n")
    r = kc("encrypt", "-i", "--age", age_keys["k1"].recipient, str(tmp_path / "e.env"),
           env=sops_env)
    assert r.returncode == 0, r.stderr.decode()
    r = kc("exec-env", str(tmp_path / "e.env"), 'test "$DB_PASSWORD:$PORT" = hunter2:5432',
           env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert kc("exec-env", str(tmp_path / "e.env"), "exit 7", env=env).returncode == 7
    out = tmp_path / "copy.yaml"
    r = kc("exec-file", str(enc_file), f"stat -c %a {{}} > {tmp_path}/mode; cp {{}} {out}",
           env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "mode").read_text().strip() == "600"
    assert yaml.safe_load(out.read_bytes()) == yaml.safe_load(PLAIN)
