"""Loading the local engines' data before the first call (the worker does it at start)."""

from __future__ import annotations


def engines_warm_up() -> None:
    """Load what the local engines otherwise load on their first call (py3langid's model,
    dateparser's language data: about 1.5 s together; the sentence-embedding weights when they
    are installed: 90 MB, 1–2 s), so no customer's first call pays for it. The worker runs this
    once in its main process, before the pool forks (the children share the weights' pages)."""
    from datetime import date

    from services.engines import embeddings, local_email, local_when

    if embeddings.available():
        embeddings.load()

    local_email.detect_language("Vielen Dank für Ihre Nachricht")
    local_when.find_dates("Bis zum 5. März 2026, le 12 mars, el 3 de mayo", date(2026, 1, 1))
