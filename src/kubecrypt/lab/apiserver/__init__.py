"""A small server that speaks the Kubernetes API for Secrets, Namespaces, SealedSecrets and Leases
and stores them in etcd where and how kube-apiserver does (see /work/shared/specs/lab-apiserver.md).
"""
