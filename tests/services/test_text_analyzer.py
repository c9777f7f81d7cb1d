"""The text_analyzer service: statistics of English and non-English text."""

from __future__ import annotations

import pytest

from services.catalog.text_analyzer import SERVICE, analyze_text
from services.catalogue.registry import HandlerOutput

ENGLISH = "The quick brown fox jumps over the lazy dog. The dog sleeps! Does the fox care?"


def _top(stats):
    return {entry["word"]: entry["count"] for entry in stats["top_words"]}


def test_english_text_is_counted():
    stats = analyze_text(ENGLISH)

    assert stats["word_count"] == 16
    assert stats["char_count"] == len(ENGLISH) == 79
    assert stats["char_count_no_spaces"] == 64
    assert stats["sentence_count"] == 3
    assert stats["paragraph_count"] == 1
    assert stats["unique_word_count"] == 11
    assert stats["avg_sentence_length"] == round(16 / 3, 2)
    assert stats["avg_word_length"] == round(61 / 16, 2)
    assert stats["lexical_diversity"] == round(11 / 16, 3)
    assert stats["reading_time_seconds"] == 4


def test_readability_is_a_number_for_english_and_lower_for_harder_text():
    easy = analyze_text("The cat sat. The dog ran. We had fun.")
    hard = analyze_text(
        "Notwithstanding considerable institutional resistance, the administration "
        "implemented comprehensive organisational restructuring initiatives."
    )

    assert isinstance(easy["flesch_reading_ease"], float)
    assert isinstance(hard["flesch_reading_ease"], float)
    assert easy["flesch_reading_ease"] > 90
    assert hard["flesch_reading_ease"] < 30


def test_empty_text_gives_zeros_and_no_readability():
    stats = analyze_text("")

    assert stats["word_count"] == stats["char_count"] == stats["sentence_count"] == 0
    assert stats["paragraph_count"] == stats["unique_word_count"] == 0
    assert stats["avg_word_length"] == stats["avg_sentence_length"] == 0.0
    assert stats["lexical_diversity"] == 0.0
    assert stats["reading_time_seconds"] == 0
    assert stats["flesch_reading_ease"] is None
    assert stats["top_words"] == []


def test_whitespace_only_text_has_characters_but_no_words_or_sentences():
    stats = analyze_text("   \n\n  ")

    assert stats["char_count"] == 7
    assert stats["char_count_no_spaces"] == 0
    assert (stats["word_count"], stats["sentence_count"], stats["paragraph_count"]) == (0, 0, 0)


def test_one_sentence_without_final_punctuation_counts_as_one():
    stats = analyze_text("Hello world")

    assert stats["sentence_count"] == 1
    assert stats["word_count"] == 2
    assert stats["avg_sentence_length"] == 2.0
    assert stats["flesch_reading_ease"] is not None


def test_trailing_text_after_the_last_full_stop_is_a_sentence_too():
    assert analyze_text("One sentence. And another one without a stop")["sentence_count"] == 2


def test_german_words_with_umlauts_and_eszett_stay_whole():
    stats = analyze_text("Die Straße ist schön. Über den Flüssen fliegen Vögel.")

    assert stats["word_count"] == 9
    assert stats["sentence_count"] == 2
    top = _top(stats)
    assert {"straße", "schön", "über", "flüssen", "vögel"} <= set(top)
    assert not {"stra", "sch", "gel", "n"} & set(top)


def test_japanese_sentences_end_at_the_ideographic_full_stop():
    text = "今日は晴れです。明日は雨です。"

    stats = analyze_text(text)

    assert stats["sentence_count"] == 2
    assert stats["char_count"] == stats["char_count_no_spaces"] == 15
    assert stats["word_count"] >= 2
    assert all(entry["word"] in text for entry in stats["top_words"])
    assert all("。" not in entry["word"] for entry in stats["top_words"])


def test_japanese_sentences_without_spaces_between_them_are_all_counted():
    assert analyze_text("晴れです。雨です。雪です")["sentence_count"] == 3


def test_paragraphs_are_split_at_blank_lines_even_with_spaces_on_them():
    stats = analyze_text("First block one.\n\nSecond block.\n  \nThird block here.\nSame block.")

    assert stats["paragraph_count"] == 3
    assert stats["sentence_count"] == 4


def test_single_line_breaks_do_not_start_a_paragraph():
    assert analyze_text("Line one.\nLine two.\nLine three.")["paragraph_count"] == 1


def test_top_words_exclude_stopwords_and_single_letters_and_are_ranked():
    stats = analyze_text("The cat and the cat and a dog. I saw the cat, x marks it.")

    top = stats["top_words"]
    assert top[0] == {"word": "cat", "count": 3}
    words = [entry["word"] for entry in top]
    assert not {"the", "and", "a", "i", "it", "x"} & set(words)
    assert {"dog", "saw", "marks"} <= set(words)
    counts = [entry["count"] for entry in top]
    assert counts == sorted(counts, reverse=True)


def test_top_words_are_case_insensitive():
    assert _top(analyze_text("Apple apple APPLE pear"))["apple"] == 3


def test_top_words_respects_the_requested_number():
    text = "alpha beta gamma delta epsilon zeta eta theta"

    assert len(analyze_text(text, top_n=3)["top_words"]) == 3
    assert analyze_text(text, top_n=0)["top_words"] == []


def test_analyzer_is_deterministic():
    assert analyze_text(ENGLISH) == analyze_text(ENGLISH)


def test_handler_returns_the_statistics_with_metadata():
    handler = SERVICE.endpoints["analyze"].handler

    output = handler({"text": "Hello there. General Kenobi!", "top_words": 1})

    assert isinstance(output, HandlerOutput)
    assert output.result["sentence_count"] == 2
    assert len(output.result["top_words"]) == 1
    assert output.metadata["model"] == "local/text-statistics"
    assert output.metadata["usage"] == {"input_chars": 28}
    assert output.metadata["processing_time"] >= 0


@pytest.mark.parametrize("key", ["word_count", "sentence_count", "flesch_reading_ease"])
def test_the_documented_result_keys_are_all_present(key):
    assert key in analyze_text(ENGLISH)
    assert key in SERVICE.endpoints["analyze"].returns["description"]


def test_reading_ease_is_left_out_for_text_that_is_not_latin_script():
    assert analyze_text("今日は晴れです。明日は雨です。")["flesch_reading_ease"] is None
