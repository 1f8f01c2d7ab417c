"""Sealed Secrets, compatible with bitnami-labs/sealed-secrets: the hybrid format and scopes
(``crypto``, ``scope``), keys and backups (``keys``), kubeseal's sealing (``seal``), unsealing as
the controller does (``unseal``), and kubeseal's exact JSON/YAML output (``render``)."""
