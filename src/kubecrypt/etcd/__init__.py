"""etcd: a small async client (TLS and auth like etcdctl, paged ranges, compare-and-swap) and
the proof and recovery tools built on it: ``scan``, ``get`` and ``rewrite``."""
