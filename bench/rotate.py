"""A whole at-rest rotation (`kubecrypt rotate atrest`) of N 1 KiB Secrets on a lab with a real
etcd: time per step, and the rewrite's and the proof's objects per second, as a ratio to a plain
create of the same Secrets through the API (the rewrite is one GET-less PUT per object; the
proof reads and decrypts every value from etcd).

    PYTHONPATH=src python3 bench/rotate.py [--secrets 1000]"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubecrypt.rotate.kubeapi import Api

from kubecrypt.etcd.blocking import BlockingEtcdClient
from kubecrypt.etcd.settings import EtcdSettings
from kubecrypt.lab import up as lab_up
from kubecrypt.rotate.atrest import AtRestRotation, Options


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--secrets", type=int, default=1000)
    n = ap.parse_args().secrets
    tmp = Path(tempfile.mkdtemp(prefix="kc-bench-rotate-"))
    try:
        lab = lab_up.up(tmp / "lab", encryption="aesgcm")
        api = Api.from_kubeconfig(str(lab.kubeconfig))
        r = api.resource("secrets")
        data = base64.b64encode(os.urandom(1024)).decode()

        def create(i: int) -> int:
            return api.create(r, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                  "metadata": {"name": f"b-{i}", "namespace": "default"},
                                  "data": {"v": data}})

        t = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(create, range(n))) == {201}
        create_rate = n / (time.perf_counter() - t)
        assert lab.encryption_config
        config = Path(lab.encryption_config)
        stamps: list[tuple[str, float]] = []

        def out(line: str) -> None:
            if line.startswith("step"):
                stamps.append((line.split(":")[0], time.perf_counter()))

        with BlockingEtcdClient(EtcdSettings.resolve({}, endpoints=lab.etcd_endpoints[0])) as etcd:
            start = time.perf_counter()
            AtRestRotation(Options(config, tmp / "state.json", new_key_name="bench"), out).run(api, etcd)
            end = time.perf_counter()
        stamps.append(("end", end))
        print(f"{n} Secrets of 1 KiB, aesgcm; create through the API: {create_rate:,.0f}/s")
        for (name, t0), (_, t1) in itertools.pairwise(stamps):
            extra = ""
            if name.startswith("step 3") or name.startswith("step 4"):
                rate = n / (t1 - t0)
                extra = f"  {rate:,.0f} objects/s ({rate / create_rate:.2f}x create)"
            print(f"  {name:10} {t1 - t0:6.2f} s{extra}")
        print(f"  whole rotation {end - start:.2f} s")
    finally:
        lab_up.down(tmp / "lab", purge=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
