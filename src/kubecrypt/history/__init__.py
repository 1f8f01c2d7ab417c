"""Leaked-key history audit: every SealedSecret (and every SOPS file) in a Git repository's
whole history that a leaked key opens (or a revoked recipient can open)."""
