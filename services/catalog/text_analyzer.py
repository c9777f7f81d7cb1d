"""text_analyzer: counts, readability and frequent words of a text, computed locally."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

from services.catalog._schema import required_text
from services.catalogue.registry import EndpointDefinition, HandlerOutput, ServiceDefinition
from services.engines.nlp import PARAGRAPH_BREAK, SENTENCE_END, WORD, terms

MAX_TEXT_CHARS = 200_000
WORDS_PER_MINUTE = 238

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def _syllables(word: str) -> int:
    """English syllable estimate: vowel groups, minus a silent final e; at least one."""
    lowered = word.lower()
    count = len(_VOWEL_GROUPS.findall(lowered))
    if lowered.endswith("e") and not lowered.endswith(("le", "ee")) and count > 1:
        count -= 1
    return max(count, 1)


def analyze_text(text: str, top_n: int = 10) -> dict[str, Any]:
    """Statistics of `text`; pure and deterministic."""
    words = WORD.findall(text)
    word_count = len(words)
    stripped = text.strip()
    sentence_count = len(SENTENCE_END.findall(stripped)) if stripped else 0
    if stripped and not SENTENCE_END.search(stripped[-1:]):
        sentence_count += 1  # trailing text without final punctuation is a sentence too
    paragraphs = [p for p in PARAGRAPH_BREAK.split(stripped) if p.strip()] if stripped else []
    lowered = [w.lower() for w in words]
    unique = set(lowered)
    letters = sum(len(w) for w in words)
    syllables = sum(_syllables(w) for w in words)
    frequent = Counter(terms(text))

    avg_word_length = round(letters / word_count, 2) if word_count else 0.0
    avg_sentence_length = round(word_count / sentence_count, 2) if sentence_count else 0.0
    # Flesch reading ease is defined for English: None for text that is mostly not Latin script.
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    alphabetic = sum(1 for c in text if c.isalpha())
    flesch = (
        round(206.835 - 1.015 * (word_count / sentence_count) - 84.6 * (syllables / word_count), 1)
        if word_count and sentence_count and latin >= 0.9 * alphabetic
        else None
    )
    return {
        "word_count": word_count,
        "char_count": len(text),
        "char_count_no_spaces": sum(1 for c in text if not c.isspace()),
        "avg_word_length": avg_word_length,
        "sentence_count": sentence_count,
        "paragraph_count": len(paragraphs),
        "avg_sentence_length": avg_sentence_length,
        "unique_word_count": len(unique),
        "lexical_diversity": round(len(unique) / word_count, 3) if word_count else 0.0,
        "reading_time_seconds": round(word_count * 60 / WORDS_PER_MINUTE),
        "flesch_reading_ease": flesch,
        "top_words": [{"word": w, "count": c} for w, c in frequent.most_common(top_n)],
    }


def analyze(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    # JSON Schema counts 5.0 as an integer, so the validated value may still be a float.
    stats = analyze_text(params["text"], top_n=int(params.get("top_words", 10)))
    return HandlerOutput(
        result=stats,
        metadata={
            "model": "local/text-statistics",
            "processing_time": round(time.perf_counter() - started, 6),
            "usage": {"input_chars": len(params["text"])},
        },
    )


SERVICE = ServiceDefinition(
    id="text_analyzer",
    name="Text Analyzer",
    description="Counts words, characters, sentences and paragraphs, estimates reading time and "
    "readability, and lists the most frequent words of a text.",
    endpoints={
        "analyze": EndpointDefinition(
            name="analyze",
            description="Analyse a text: word, character, sentence and paragraph counts, average "
            "word and sentence length, lexical diversity, reading time, Flesch reading ease "
            "(English) and the most frequent words.",
            price=1,
            input_schema={
                "type": "object",
                "properties": {
                    "text": required_text("The text to analyse.", max_length=MAX_TEXT_CHARS),
                    "top_words": {
                        "type": "integer",
                        "description": "How many frequent words to list.",
                        "minimum": 0,
                        "maximum": 100,
                        "default": 10,
                    },
                },
                "required": ["text"],
                "additionalProperties": False,
            },
            returns={
                "type": "object",
                "description": "word_count, char_count, char_count_no_spaces, avg_word_length, "
                "sentence_count, paragraph_count, avg_sentence_length, unique_word_count, "
                "lexical_diversity, reading_time_seconds, flesch_reading_ease, top_words.",
            },
            handler=analyze,
            example={"text": "Hello world. This is BReact."},
        )
    },
)
