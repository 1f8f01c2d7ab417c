"""kube-apiserver's encryption at rest: EncryptionConfiguration, providers and the prefix chain."""
