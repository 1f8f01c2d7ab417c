"""Key rotation workflows with proof: one module per workflow (``atrest``, ``kms``, ``sops_dir``,
``sealed``), each resumable or idempotent, each ending with a check that nothing still needs the
old key."""
