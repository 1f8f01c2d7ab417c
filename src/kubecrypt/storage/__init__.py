"""Kubernetes storage encodings: the protobuf envelope, JSON, and etcd key layout."""
