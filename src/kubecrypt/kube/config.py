"""Where to connect and as whom: kubeconfig files (merged as kubectl merges ``$KUBECONFIG``),
the in-cluster service account, and kubectl's override flags, resolved into one
:class:`ClusterConfig`.

Entries are parsed with lightkube's own kubeconfig models (``lightkube.config.models``), so a
malformed entry fails the way lightkube reports it. What lightkube's ``KubeConfig`` does not do is
done here by hand: merging several files with per-file relative paths, ``proxy-url``,
``tls-server-name``, ``disable-compression``, impersonation (``as``, ``as-groups``, ``as-uid``),
kubectl's override flags and kubectl's fallback to the in-cluster config when there is no
kubeconfig at all (lightkube tries in-cluster first, kubectl last)."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from lightkube.config.models import Cluster, Context, User

from kubecrypt import safeparse
from kubecrypt.kube.cluster import ClusterConfig
from kubecrypt.kube.errors import KubeConfigError
from kubecrypt.kube.exec import ExecConfig
from kubecrypt.kube.incluster import in_cluster_available, in_cluster_config


@dataclass(frozen=True)
class Overrides:
    """kubectl's (and kubeseal's) connection flags; each set one wins over the kubeconfig."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    server: str | None = None
    tls_server_name: str | None = None
    certificate_authority: str | None = None
    insecure_skip_tls_verify: bool = False
    proxy_url: str | None = None
    disable_compression: bool = False
    token: str | None = None
    username: str | None = None
    password: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    impersonate: str | None = None
    impersonate_groups: tuple[str, ...] = ()
    impersonate_uid: str | None = None
    request_timeout: float | None = None


@dataclass
class _Entry:
    value: dict[str, Any]
    base: Path  # relative paths in this entry are relative to the file it came from


@dataclass
class KubeconfigFiles:
    """``$KUBECONFIG``'s files merged as client-go merges them: the first file to name a
    cluster, user or context, or to set ``current-context``, wins."""

    paths: list[Path]
    current_context: str | None = None
    clusters: dict[str, _Entry] = field(default_factory=dict)
    users: dict[str, _Entry] = field(default_factory=dict)
    contexts: dict[str, _Entry] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return "kubeconfig " + os.pathsep.join(str(p) for p in self.paths)


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    """``--kubeconfig`` (must exist), else ``$KUBECONFIG``'s existing files, else
    ``~/.kube/config`` if it exists; empty when there is none."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise KubeConfigError(f"kubeconfig {explicit} does not exist; fix --kubeconfig")
        return [path]
    env = os.environ.get("KUBECONFIG")
    if env:
        seen: list[Path] = []
        for part in env.split(os.pathsep):
            p = Path(part).expanduser() if part else None
            if p is not None and p.is_file() and p not in seen:
                seen.append(p)
        return seen
    default = Path.home() / ".kube" / "config"
    return [default] if default.is_file() else []


def load_files(paths: list[Path]) -> KubeconfigFiles:
    files = KubeconfigFiles(paths)
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KubeConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
        doc = safeparse.load_yaml(raw, f"kubeconfig {path}", error=KubeConfigError)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise KubeConfigError(f"kubeconfig {path} is not a kubeconfig (a YAML mapping)")
        if files.current_context is None and doc.get("current-context"):
            files.current_context = str(doc["current-context"])
        for section, target in (("clusters", files.clusters), ("users", files.users),
                                ("contexts", files.contexts)):
            for item in doc.get(section) or []:
                key = section[:-1]
                if not isinstance(item, dict) or not item.get("name"):
                    raise KubeConfigError(f"kubeconfig {path}: an entry of {section} has no "
                                          "name; give every entry a name")
                value = item.get(key) or {}
                if not isinstance(value, dict):
                    raise KubeConfigError(f'kubeconfig {path}: {key} "{item["name"]}" is not a '
                                          "mapping")
                target.setdefault(str(item["name"]), _Entry(value, path.parent))
    return files


def _typed(entry: _Entry, model: type[Any], what: str, files: KubeconfigFiles) -> Any:
    try:
        return msgspec.convert(entry.value, model)
    except msgspec.ValidationError as exc:
        raise KubeConfigError(f"{files.where}: {what} is invalid ({exc}); fix the entry") \
            from None


def _read(path: str | Path, base: Path, what: str) -> bytes:
    full = Path(path).expanduser()
    full = full if full.is_absolute() else base / full
    try:
        return full.read_bytes()
    except OSError as exc:
        raise KubeConfigError(f"cannot read {what} {full}: {exc.strerror}") from None


def _data(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KubeConfigError(f"{what} is not valid base64") from None


def _file_or_data(path: str | None, data: str | None, base: Path, what: str) -> bytes | None:
    # client-go: the -data field wins over the file.
    if data:
        return _data(data, f"{what}-data")
    if path:
        return _read(path, base, what)
    return None


# --- resolution ------------------------------------------------------------------------------

def load(o: Overrides | None = None) -> ClusterConfig:
    """The connection kubectl would use with these flags: a kubeconfig if there is one (or
    ``--server``), else the in-cluster service account."""
    o = o or Overrides()
    paths = kubeconfig_paths(o.kubeconfig)
    if paths:
        cfg = _from_files(load_files(paths), o)
    elif o.server:
        cfg = ClusterConfig(server=o.server, source="--server")
    elif in_cluster_available():
        cfg = in_cluster_config()
    else:
        raise KubeConfigError(
            "no kubeconfig found (looked at --kubeconfig, $KUBECONFIG and ~/.kube/config) and not "
            "running in a cluster; give --kubeconfig or --server")
    return _apply(cfg, o)


def context_namespace(o: Overrides | None = None) -> str:
    """The namespace of the context (``--namespace`` first), ``default`` when there is none.
    No kubeconfig at all is fine: offline sealing must not need one."""
    o = o or Overrides()
    if o.namespace:
        return o.namespace
    paths = kubeconfig_paths(o.kubeconfig)
    if not paths:
        if in_cluster_available():
            return in_cluster_config().namespace
        return "default"
    files = load_files(paths)
    name = o.context or files.current_context
    entry = files.contexts.get(name or "")
    return str((entry.value if entry else {}).get("namespace") or "default")


def _from_files(files: KubeconfigFiles, o: Overrides) -> ClusterConfig:
    context_name = o.context or files.current_context or ""
    ctx_entry = files.contexts.get(context_name)
    if ctx_entry is None and (o.context or context_name):
        raise KubeConfigError(f'context "{context_name}" not found in {files.where}; pick one of: '
                              f'{", ".join(sorted(files.contexts)) or "(none)"}')
    if ctx_entry is None:
        # kubectl with no current-context: only the flags say where to go.
        ctx = Context(cluster=o.cluster or "", user=o.user)
    else:
        ctx = _typed(ctx_entry, Context, f'context "{context_name}"', files)
    cluster_name = o.cluster or ctx.cluster
    cl_entry = files.clusters.get(cluster_name or "")
    if cl_entry is None and not o.server:
        if cluster_name:
            raise KubeConfigError(f'cluster "{cluster_name}" not found in {files.where}; fix the '
                                  "context or give --cluster")
        raise KubeConfigError(f"no current-context in {files.where}; give --context or "
                              "--server")
    cluster: Cluster = (_typed(cl_entry, Cluster, f'cluster "{cluster_name}"', files)
                        if cl_entry else Cluster(server=o.server or ""))
    cl_raw = cl_entry.value if cl_entry else {}
    if cl_entry is not None and not cl_raw.get("server") and not o.server:
        raise KubeConfigError(f'cluster "{cluster_name}" in {files.where} has no server; add '
                              "one or give --server")
    cl_base = cl_entry.base if cl_entry else Path.cwd()
    user_name = o.user or ctx.user or ""
    us_entry = files.users.get(user_name)
    if us_entry is None and o.user:
        raise KubeConfigError(f'user "{user_name}" not found in {files.where}; fix --user')
    cfg = ClusterConfig(
        server=cluster.server,
        namespace=ctx.namespace or "default",
        context_name=context_name,
        user_name=user_name,
        source=files.where,
        ca_pem=_file_or_data(cluster.certificate_auth, cluster.certificate_auth_data, cl_base,
                             "certificate-authority"),
        insecure=cluster.insecure,
        tls_server_name=cl_raw.get("tls-server-name") or None,
        proxy_url=cl_raw.get("proxy-url") or None,
        disable_compression=bool(cl_raw.get("disable-compression")),
    )
    if us_entry is not None:
        user: User = _typed(us_entry, User, f'user "{user_name}"', files)
        _apply_user(cfg, user, us_entry, files)
    return cfg


def _apply_user(cfg: ClusterConfig, user: User, entry: _Entry, files: KubeconfigFiles) -> None:
    raw, base = entry.value, entry.base
    cfg.token = user.token or None
    if user.token_file:
        path = Path(user.token_file).expanduser()
        cfg.token_file = path if path.is_absolute() else base / path
    cfg.username, cfg.password = user.username, user.password
    cfg.client_cert_pem = _file_or_data(user.client_cert, user.client_cert_data, base,
                                        "client-certificate")
    cfg.client_key_pem = _file_or_data(user.client_key, user.client_key_data, base, "client-key")
    if bool(cfg.client_cert_pem) != bool(cfg.client_key_pem):
        raise KubeConfigError(f"user \"{cfg.user_name}\" in {files.where} has a client "
                              "certificate without its key (or a key without certificate)")
    if raw.get("exec"):
        cfg.exec = ExecConfig.parse(raw["exec"], base, f'user "{cfg.user_name}" in {files.where}')
    if user.auth_provider and not (cfg.token or cfg.token_file or cfg.exec):
        name = (user.auth_provider or {}).get("name", "")
        raise KubeConfigError(
            f'user "{cfg.user_name}" uses the auth-provider "{name}", which kubectl no longer '
            "supports either; switch the user to its exec plugin (gke-gcloud-auth-plugin, "
            "kubelogin, ...)")
    cfg.impersonate = raw.get("as") or None
    cfg.impersonate_groups = tuple(str(g) for g in raw.get("as-groups") or ())
    cfg.impersonate_uid = raw.get("as-uid") or None
    extra = raw.get("as-user-extra") or {}
    cfg.impersonate_extra = {str(k): [str(x) for x in v] for k, v in extra.items()}


def _apply(cfg: ClusterConfig, o: Overrides) -> ClusterConfig:
    here = Path.cwd()
    if o.server:
        cfg.server = o.server
    if o.namespace:
        cfg.namespace = o.namespace
    if o.tls_server_name:
        cfg.tls_server_name = o.tls_server_name
    if o.certificate_authority:
        cfg.ca_pem = _read(o.certificate_authority, here, "--certificate-authority")
    if o.insecure_skip_tls_verify:
        cfg.insecure, cfg.ca_pem = True, None
    if o.proxy_url:
        cfg.proxy_url = o.proxy_url
    if o.disable_compression:
        cfg.disable_compression = True
    if o.token or (o.username is not None) or o.client_certificate:
        # An explicit credential replaces the kubeconfig user's ones (exec plugins included).
        cfg.token, cfg.token_file, cfg.exec = None, None, None
        cfg.username = cfg.password = None
        if o.client_certificate or o.client_key:
            cfg.client_cert_pem = cfg.client_key_pem = None
    if o.token:
        cfg.token = o.token
    if o.username is not None:
        cfg.username, cfg.password = o.username, o.password or ""
    if o.client_certificate:
        cfg.client_cert_pem = _read(o.client_certificate, here, "--client-certificate")
    if o.client_key:
        cfg.client_key_pem = _read(o.client_key, here, "--client-key")
    if bool(cfg.client_cert_pem) != bool(cfg.client_key_pem):
        raise KubeConfigError("--client-certificate and --client-key go together; give both")
    if o.impersonate:
        cfg.impersonate = o.impersonate
    if o.impersonate_groups:
        cfg.impersonate_groups = tuple(o.impersonate_groups)
    if o.impersonate_uid:
        cfg.impersonate_uid = o.impersonate_uid
    if (cfg.impersonate_groups or cfg.impersonate_uid) and not cfg.impersonate:
        raise KubeConfigError("--as-group and --as-uid need --as (the user to impersonate)")
    if o.request_timeout is not None:
        cfg.timeout = o.request_timeout
    if cfg.insecure and cfg.ca_pem:
        # As client-go: "specifying a root certificates file with the insecure flag is not allowed".
        raise KubeConfigError(f"{cfg.source}: insecure-skip-tls-verify and a certificate "
                              "authority cannot both be set; drop one")
    if not cfg.server.startswith(("https://", "http://")):
        cfg.server = "https://" + cfg.server if cfg.server else cfg.server
    if not cfg.server:
        raise KubeConfigError(f"{cfg.source or 'the configuration'} gives no API server; "
                              "give --server")
    cfg.server = cfg.server.rstrip("/")
    return cfg
