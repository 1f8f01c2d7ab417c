"""Where ../shared lives, for tests that parametrize over vectors at collection time."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KUBECRYPT_SHARED", REPO.parent / "shared"))
VECTORS = SHARED / "vectors"
