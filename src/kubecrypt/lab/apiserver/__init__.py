"""A small server that speaks the Kubernetes API for Secrets, Namespaces, SealedSecrets and Leases
and stores them in etcd where and how kube-apiserver does (docs/lab.md).

Modules, outside in: ``http`` (HTTP/1.1 over TLS, h11), ``app`` (authentication, routing,
negotiation, Status errors), ``discovery``, ``rest`` (the verbs), ``watch``, ``table``,
``strategy`` and ``validation`` (what kube-apiserver does to an object before storing it),
``patch``, ``selectors``, ``controllers`` (namespace finalizer, garbage collector), ``objects``
(etcd keys, codec, encryption, the no-op/stale rule), ``encryption`` (the configuration and its
reload), ``server`` (wiring)."""
