"""``kubecrypt lab up --authorization-mode RBAC``: every request is authorized by the cluster's
RBAC objects (the admin token keeps system:masters); ``kubectl auth can-i`` (a
SelfSubjectAccessReview, here with ``--as`` impersonation) answers per the bindings, and a denied
request gets kube-apiserver's 403 text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubecrypt.lab import up as lab_up

from .conftest import LabHandle


@pytest.fixture(scope="module")
def rbac_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    directory = tmp_path_factory.mktemp("rbac") / "lab"
    handle = LabHandle(lab_up.up(directory, sealed_secrets=False, authorization_mode="RBAC"),
                       directory)
    try:
        yield handle
    finally:
        lab_up.down(directory, purge=True)


@pytest.mark.slow
def test_can_i_and_forbidden_per_bindings(rbac_lab: LabHandle) -> None:
    lab = rbac_lab
    assert lab_up.Lab.load(lab.dir).authorization_mode == "RBAC"  # type: ignore[union-attr]
    lab.kubectl("create", "ns", "team-a")
    lab.kubectl("create", "sa", "app", "-n", "team-a")
    as_app = "--as=system:serviceaccount:team-a:app"

    def can_i(*args: str) -> str:
        p = lab.kubectl("auth", "can-i", *args, as_app, check=False)
        return p.stdout.strip()

    assert can_i("get", "secrets", "-n", "team-a") == "no"
    lab.kubectl("create", "role", "secret-reader", "-n", "team-a", "--verb=get,list",
                "--resource=secrets")
    lab.kubectl("create", "rolebinding", "app-reads", "-n", "team-a", "--role=secret-reader",
                "--serviceaccount=team-a:app")
    assert can_i("get", "secrets", "-n", "team-a") == "yes"
    assert can_i("get", "secrets", "-n", "default") == "no"
    assert can_i("delete", "secrets", "-n", "team-a") == "no"
    token = lab.kubectl("create", "token", "app", "-n", "team-a").stdout
    assert lab.kubectl("--token", token, "get", "secrets", "-n", "team-a").returncode == 0
    denied = lab.kubectl("--token", token, "get", "secrets", "-n", "default", check=False)
    assert denied.returncode != 0
    assert denied.stderr.strip() == (
        'Error from server (Forbidden): secrets is forbidden: User '
        '"system:serviceaccount:team-a:app" cannot list resource "secrets" in API group "" in '
        'the namespace "default"')
    # A ClusterRoleBinding to the default "view" role (aggregated) grants configmaps everywhere.
    assert can_i("list", "configmaps", "-n", "default") == "no"
    lab.kubectl("create", "clusterrolebinding", "app-view", "--clusterrole=view",
                "--serviceaccount=team-a:app")
    assert can_i("list", "configmaps", "-n", "default") == "yes"
    assert can_i("list", "secrets", "-n", "default") == "no"  # view does not read Secrets
    # Removing the binding takes the right away again.
    lab.kubectl("delete", "rolebinding", "app-reads", "-n", "team-a")
    assert can_i("get", "secrets", "-n", "team-a") == "no"
    # Every authenticated user may ask about itself and read discovery.
    who = lab.kubectl("--token", token, "auth", "whoami").stdout
    assert "system:serviceaccount:team-a:app" in who
    assert lab.kubectl("--token", token, "api-resources").returncode == 0
    # The admin token is system:masters.
    assert lab.kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"
