"""The worker loads the engines' data before its first task."""

from __future__ import annotations

import pytest

from services.engines import embeddings, nlp
from services.engines.warm import engines_warm_up


def test_warm_up_loads_the_language_model_before_any_call() -> None:
    nlp._language_identifier.cache_clear()

    engines_warm_up()

    assert nlp._language_identifier.cache_info().currsize == 1


def test_warm_up_loads_the_sentence_embeddings_when_installed(monkeypatch) -> None:
    if not embeddings.available():
        pytest.skip("sentence embeddings not installed (make install installs them)")
    monkeypatch.setattr(embeddings, "_LOADED", [])

    engines_warm_up()

    assert len(embeddings._LOADED) == 1
    assert embeddings.load() is embeddings._LOADED[0]  # loaded once, then reused


def test_the_worker_warms_the_engines_up_when_it_starts() -> None:
    from celery.signals import worker_init

    from breact.celery import _warm_up_engines

    assert any(
        getattr(receiver(), "__name__", None) == _warm_up_engines.__name__
        for _, receiver in worker_init.receivers
    )
