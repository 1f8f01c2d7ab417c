"""kubecrypt: encrypt Kubernetes Secrets at rest in etcd, in Git and inside applications."""

__version__ = "0.1.0"
