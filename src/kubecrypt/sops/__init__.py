"""SOPS-compatible file encryption (format level of sops 3.11.0).

Layers, each pointing down: ``values``/``cipher`` (one value) <- ``tree`` (walk, select, MAC)
<- ``metadata`` and ``keysources`` (the data key) <- ``stores`` (file formats) <- ``ops``
(encrypt/decrypt/rotate/... of whole files) <- ``kubecrypt.cli.sops``."""

SOPS_VERSION = "3.11.0"
