"""A small server that speaks the Kubernetes API for the kinds Secrets touch and stores them in
etcd where and how kube-apiserver does (docs/lab.md).

Modules, outside in: ``http`` (HTTP/1.1 over TLS, h11), ``app`` (authentication, routing,
negotiation, Status errors), ``discovery``, ``rest`` (the verbs), ``watch``, ``table``,
``registry`` (the served resources: ``kinds/*`` plus CRDs), ``kinds`` (one strategy module per
kind: defaults, validation, server-set fields, columns, field selectors), ``strategy`` (the
generic create/update preparation that calls them), ``validation``, ``patch``, ``selectors``,
``controllers`` (namespace finalizer, garbage collector), ``objects`` (etcd keys, codec,
encryption, the no-op/stale rule), ``etcdstore`` (the shared etcd client and its watch),
``encryption`` (the configuration and its reload), ``server`` (wiring)."""
