"""The Sealed Secrets controller in the lab: ``kubecrypt sealed controller`` as a managed
process (``lab.extra["sealed-secrets"]``), its Service in kube-system pointing the API server's
service proxy at the controller's local port, and the demo's chapter about it.

Kept apart from ``up.py``/``demo.py``: those call :func:`start_controller` and append
:func:`demo_chapter` and nothing else."""

from __future__ import annotations

import base64
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubecrypt.lab import processes

if TYPE_CHECKING:
    from kubecrypt.lab.demo import Story
    from kubecrypt.lab.up import Lab

NAME = "sealed-secrets"  # the lab.extra key, and the log file's name
SERVICE = "sealed-secrets-controller"
NAMESPACE = "kube-system"
START_TIMEOUT = 60.0  # a 4096-bit key is generated before the certificate is served


def _context(lab: Lab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(lab.dir / "pki" / "ca.crt"))


def _get(url: str, context: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def apply_service(lab: Lab, port: int, metrics_port: int) -> None:
    """The controller's Services, as the upstream manifests name them; ``targetPort`` is the
    local port (the lab's service proxy forwards to 127.0.0.1:<targetPort>)."""
    services = [(SERVICE, "http", 8080, port),
                (f"{SERVICE}-metrics", "metrics", 8081, metrics_port)]
    for name, port_name, svc_port, target in services:
        body = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": NAMESPACE,
                             "labels": {"name": "sealed-secrets-controller"}},
                "spec": {"ports": [{"name": port_name, "port": svc_port, "protocol": "TCP",
                                    "targetPort": target}],
                         "selector": {"name": "sealed-secrets-controller"}}}
        url = (f"{lab.server}/api/v1/namespaces/{NAMESPACE}/services/{name}"
               "?fieldManager=kubecrypt-lab&force=true")
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PATCH",
                                     headers={"Content-Type": "application/apply-patch+yaml",
                                              "Authorization": f"Bearer {lab.token}"})
        with urllib.request.urlopen(req, timeout=10, context=_context(lab)):
            pass


def start_controller(lab: Lab, key_size: int = 4096, extra_args: tuple[str, ...] = ()) -> None:
    """(Re)starts the controller against the lab API server; returns once it serves its
    certificate through the service proxy."""
    from kubecrypt.lab.base import LabError, kubecrypt_env

    old = lab.extra.pop(NAME, None)
    if old is not None:
        processes.stop(old)
    port, metrics_port = processes.free_port(), processes.free_port()
    log = lab.dir / f"{NAME}.log"
    argv = [sys.executable, "-m", "kubecrypt", "sealed", "controller",
            "--kubeconfig", str(lab.kubeconfig), "--namespace", NAMESPACE,
            "--listen-addr", f"127.0.0.1:{port}",
            "--listen-metrics-addr", f"127.0.0.1:{metrics_port}",
            "--key-size", str(key_size), "--identity", "lab", *extra_args]
    proc = processes.spawn(argv, log, kubecrypt_env())
    lab.extra[NAME] = proc
    deadline = time.monotonic() + START_TIMEOUT
    while _get(f"http://127.0.0.1:{port}/v1/cert.pem") != 200:
        if not processes.alive(proc) or time.monotonic() > deadline:
            processes.stop(proc)
            lab.extra.pop(NAME, None)
            tail = log.read_text(errors="replace").strip().splitlines()[-5:] \
                if log.exists() else []
            raise LabError(f"the Sealed Secrets controller did not start (see {log}): "
                           + (" | ".join(tail) or "no output"))
        time.sleep(0.1)
    apply_service(lab, port, metrics_port)


def after_up(lab: Lab, wanted: bool | None, old_port: int) -> None:
    """After ``lab up``: True (re)starts the controller, False stops it; None keeps it, unless
    it died or the API server moved to another port (its kubeconfig is read at start)."""
    if wanted is True:
        start_controller(lab)
    elif wanted is False:
        proc = lab.extra.pop(NAME, None)
        if proc is not None:
            processes.stop(proc)
            # `lab down --purge` removes the files of lab.extra only: these go with it
            for suffix in (".log", ".pid"):
                (lab.dir / f"{NAME}{suffix}").unlink(missing_ok=True)
    elif NAME in lab.extra and (not running(lab) or lab.port != old_port):
        start_controller(lab)
    lab.save()


def running(lab: Lab) -> bool:
    proc = lab.extra.get(NAME)
    return proc is not None and processes.alive(proc)


# --------------------------------------------------------------------------- the demo


def demo_chapter(story: Story) -> None:
    """A SealedSecret becomes a Secret: the controller in the lab, its certificate fetched
    through the API server's service proxy, a SealedSecret applied, the Secret it owns."""
    assert story.lab is not None
    story.title("The Sealed Secrets controller: a SealedSecret becomes a Secret")
    story.echo("$ kubecrypt sealed controller --namespace kube-system ...   "
               "(started by the lab, as a Deployment would)")
    start_controller(story.lab, key_size=story.controller_key_size)
    story.lab.save()
    cert = story.run_kubecrypt("seal", "--fetch-cert", show=False)
    story.echo("$ kubecrypt seal --fetch-cert > cluster.pem   "
               "(through the API server's service proxy)")
    story.echo(f"  {cert.splitlines()[0]}")
    pem: Path = story.dir / "cluster.pem"
    pem.write_text(cert)
    plain = story.kubectl("create", "secret", "generic", "app-db",
                          "--from-literal=password=demo-only-password", "--dry-run=client",
                          "-o", "yaml", show=False)
    sealed = story.run_kubecrypt("seal", "--cert", str(pem), "-o", "yaml", input=plain,
                                 show=False)
    pem.unlink()
    story.echo("$ kubectl create secret generic app-db --from-literal=password=... "
               "--dry-run=client -o yaml | kubecrypt seal -o yaml > app-db.yaml")
    story.kubectl("apply", "-f", "-", input=sealed.encode(), shown="kubectl apply -f app-db.yaml")
    secret: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = story.kubectl("get", "secret", "app-db", "-o", "json", "--ignore-not-found",
                            show=False)
        if out.strip():
            secret = json.loads(out)
            break
        time.sleep(0.2)
    story.check(bool(secret), "the controller did not create the Secret app-db")
    story.kubectl("get", "sealedsecret", "app-db")
    story.kubectl("get", "secret", "app-db")
    owner = (secret["metadata"].get("ownerReferences") or [{}])[0]
    story.check(owner.get("kind") == "SealedSecret" and owner.get("controller") is True,
                "the Secret is not owned by its SealedSecret")
    value = base64.b64decode(secret["data"]["password"])
    story.check(value == b"demo-only-password", "the Secret holds the wrong value")
    story.say(f"The controller opened it: Secret app-db (owner: {owner['kind']} "
              f"{owner['name']}) holds the sealed password, {len(value)} bytes.")
