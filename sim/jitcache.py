"""Keeping numba's on-disk cache honest across modules.

numba caches a compiled function under ``__pycache__`` and reuses it while *its own*
source file is unchanged. A kernel of ``engine.py`` that calls a compiled helper of
``ledger.py`` or ``rng.py`` (or a hint of ``prefetch.py``) carries that helper's code in
its cache entry, so after an edit of the helper alone it would load the old helper from
the cache: stale code, silently (this happened while developing: a helper rewritten for
speed kept its old, slow form inside the engine's cached kernels). So the package keeps
a digest of its compiled sources beside the cache and, when the digest changes, drops
the package's cached kernels: numba compiles them again on first use.

Only the default cache location (the package's ``__pycache__``) is looked after; with
``NUMBA_CACHE_DIR`` set, clear that directory yourself after editing a compiled module.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STAMP = "collectsim-jit-sources.sha256"


def sources_digest(package: Path) -> str:
    """Digest of the package's modules that hold compiled code (they mention numba)."""
    h = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            h.update(path.name.encode() + b"\0" + text + b"\0")
    return h.hexdigest()


def drop_stale(package: Path) -> int:
    """Remove the package's cached kernels if its compiled sources changed since they
    were cached; returns how many cache files went. A read-only install, or a cache kept
    elsewhere, is left alone."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return 0
    cache = package / "__pycache__"
    try:
        digest = sources_digest(package)
        stamp = cache / STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return 0
        gone = 0
        for f in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            f.unlink(missing_ok=True)
            gone += 1
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest + "\n")
        return gone
    except OSError:
        return 0
