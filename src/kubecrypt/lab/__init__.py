"""The lab: a Kubernetes-API server on etcd (``apiserver/``), the processes ``kubecrypt lab up``
starts (``up.py``) and the end-to-end story ``kubecrypt demo`` tells (``demo.py``)."""
