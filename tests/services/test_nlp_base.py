"""The engines' NLP base: dates in several languages (dateparser reads the span local_when
finds), language detection of short texts (py3langid), both without the network."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime

import pytest

from services.engines import local_email, nlp
from services.engines.local_when import calendar_date, find_dates

REFERENCE = date(2025, 3, 5)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("Der Termin ist am 5. März 2026 um 10:00.", "5. März 2026", date(2026, 3, 5)),
        ("Lieferung bis 14. Juli, bitte.", "14. Juli", date(2025, 7, 14)),
        ("Rendez-vous le 12 mars 2025 à Lyon.", "12 mars 2025", date(2025, 3, 12)),
        ("Livraison prévue le 3 décembre.", "3 décembre", date(2025, 12, 3)),
        ("La reunión es el 3 de mayo de 2025.", "3 de mayo de 2025", date(2025, 5, 3)),
        ("Pago antes del 20 de septiembre.", "20 de septiembre", date(2025, 9, 20)),
        ("Invoice dated 1st of March, 2024.", "1st of March, 2024", date(2024, 3, 1)),
        ("Starts March 1st.", "March 1st", date(2025, 3, 1)),
        ("Published in October 2023.", "October 2023", date(2023, 10, 1)),
    ],
)
def test_dates_in_german_french_spanish_and_english_are_found_and_read(text, span, expected):
    hits = find_dates(text, REFERENCE)

    assert [(h.text, h.value) for h in hits if h.explicit] == [(span, expected)]


def test_a_time_beside_a_german_date_is_attached_to_it():
    (hit,) = find_dates("Der Termin ist am 5. März 2026 um 10:30.", REFERENCE)

    assert (hit.value, hit.moment.isoformat()) == (date(2026, 3, 5), "10:30:00")


def test_a_day_the_month_lacks_is_no_date():
    assert find_dates("Due 31 February, or 30 févr.", REFERENCE) == ()
    assert calendar_date("31 February", REFERENCE) is None


def test_numeric_dates_keep_the_products_day_first_and_us_rules():
    dotted, slashed = find_dates("Am 01.03.2025 oder 3/1/2025", REFERENCE)

    assert (dotted.value, slashed.value) == (date(2025, 3, 1), date(2025, 3, 1))


@pytest.mark.parametrize(
    ("unit", "due"),
    [
        ("Bitte schicken Sie die Unterlagen bis zum 10. März.", date(2025, 3, 10)),
        ("Merci de répondre avant le 7 mars.", date(2025, 3, 7)),
        ("Necesitamos la respuesta antes del 2 de abril.", date(2025, 4, 2)),
        ("Please reply by 2 January.", date(2026, 1, 2)),  # long past: next year's
        ("Please reply by 2025-03-20 or March 9.", date(2025, 3, 20)),  # ISO first
        ("Bitte bis Freitag antworten.", date(2025, 3, 7)),  # next weekday named
    ],
)
def test_an_email_deadline_is_read_in_four_languages(unit, due):
    sent = datetime(2025, 3, 5, 9, 0, tzinfo=UTC)

    assert local_email.due_date(unit, sent) == due


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Vielen Dank für Ihre Nachricht", "de"),
        ("Kannst du mir helfen?", "de"),
        ("Merci beaucoup", "fr"),
        ("Pouvez-vous m'envoyer la facture ?", "fr"),
        ("¿Puede enviarme la factura?", "es"),
        ("Gracias", "es"),
        ("Thanks, see you", "en"),
    ],
)
def test_short_texts_are_told_apart(text, language):
    assert local_email.detect_language(text) == language


@pytest.mark.parametrize("text", ["", "12345", "ok", "Hola"])
def test_a_text_too_short_to_tell_keeps_the_default(text):
    assert nlp.detect_language(text, among=("en", "de", "fr", "es"), default="en") == "en"


def test_dates_and_languages_are_read_without_the_network(monkeypatch):
    calendar_date.cache_clear()
    nlp._language_identifier.cache_clear()

    def no_network(*args, **kwargs):
        raise AssertionError("the NLP base opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)

    assert calendar_date("12 mars 2025", REFERENCE) == date(2025, 3, 12)
    assert nlp.detect_language("Vielen Dank", among=("en", "de"), default="en") == "de"
