"""Short human sentences for JSON Schema errors, for the API envelope and the console forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError

from breact.params import NOT_BLANK_PATTERN


@dataclass(frozen=True)
class PatternWords:
    sentence: str  # what an error says: "must start with http:// or https://"
    words: str  # what the docs say a valid value is: "an http:// or https:// URL"


_NOT_BLANK = PatternWords("must not be empty or only spaces", "not blank")
# A pattern names a format a person knows; matched on the pattern's text, most specific first.
# Anything else gets the generic words: a regular expression is never shown, in an error message
# or on a service page.
_PATTERN_WORDS: list[tuple[re.Pattern[str], PatternWords]] = [
    (
        re.compile(r"\[Hh\]\[Tt\]\[Tt\]\[Pp\]|\^https?", re.I),
        PatternWords("must start with http:// or https://", "an http:// or https:// URL"),
    ),
    (
        re.compile(r"@"),
        PatternWords(
            "must be an email address, or several separated by commas",
            "an email address, or several separated by commas",
        ),
    ),
    (
        re.compile(r"\^kb_"),
        PatternWords("must be a knowledge-base id (kb_…)", "a knowledge-base id (kb_…)"),
    ),
    (
        re.compile(r"\[0-9\]\{4\}-\[0-9\]\{2\}-\[0-9\]\{2\}"),
        PatternWords("must be a date as YYYY-MM-DD", "a date as YYYY-MM-DD"),
    ),
    (re.compile(f"^{re.escape(NOT_BLANK_PATTERN)}$"), _NOT_BLANK),
]
_OTHER_PATTERN = PatternWords("is not in the expected format", "in a fixed format")
_FORMAT_SENTENCES = {
    "date": "must be a date as YYYY-MM-DD",
    "email": "must be an email address",
    "uri": "must be a URL",
}
_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
SHOWN_VALUE_CHARS = 40


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _value(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def _type_sentence(expected: Any) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    return "must be " + " or ".join(_TYPE_NAMES.get(name, name) for name in names)


def pattern_words(pattern: str) -> PatternWords:
    """How to say, without the regular expression, what a value matching `pattern` is."""
    for probe, words in _PATTERN_WORDS:
        if probe.search(pattern):
            return words
    return _OTHER_PATTERN


def pattern_sentence(pattern: str) -> str:
    """Why a value does not match `pattern`, in words."""
    return pattern_words(pattern).sentence


def human_message(error: ValidationError) -> str:
    """One short sentence (no regular expression, no schema) for one JSON Schema error; the
    caller puts the parameter's path in front of it."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        return _type_sentence(expected)
    if kind == "pattern":
        if isinstance(value, str) and not value.strip():
            return _NOT_BLANK.sentence
        return pattern_sentence(str(expected))
    if kind == "format":
        return _FORMAT_SENTENCES.get(str(expected), f"must be a valid {expected}")
    if kind == "enum":
        options = ", ".join(_value(option) for option in expected[:10])
        return f"must be one of {options}" + (" …" if len(expected) > 10 else "")
    if kind == "const":
        return f"must be {_value(expected)}"
    if kind == "minLength":
        if expected == 1:
            return "must not be empty"
        return f"must be at least {_plural(expected, 'character')} long"
    if kind == "maxLength":
        return f"must be at most {_plural(expected, 'character')} long"
    if kind == "minItems":
        return "must not be empty" if expected == 1 else f"needs at least {expected} items"
    if kind == "maxItems":
        return f"takes at most {_plural(expected, 'item')}"
    if kind == "uniqueItems":
        return "must not repeat an item"
    if kind == "minimum":
        return f"must be {expected} or more"
    if kind == "maximum":
        return f"must be {expected} or less"
    if kind == "exclusiveMinimum":
        return f"must be more than {expected}"
    if kind == "exclusiveMaximum":
        return f"must be less than {expected}"
    if kind == "multipleOf":
        return f"must be a multiple of {expected}"
    if kind == "minProperties":
        return "must not be empty" if expected == 1 else f"needs at least {expected} entries"
    if kind == "maxProperties":
        return f"takes at most {_plural(expected, 'entry')}"
    if kind in ("anyOf", "oneOf"):
        return "does not match any of the accepted forms"
    if kind == "not":
        return "is not allowed here"
    if kind == "dependentRequired":
        return "needs its companion parameters"
    return "is not valid"
