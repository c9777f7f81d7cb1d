"""Schema-driven information extraction on the CPU: fills a JSON Schema's properties from text
("key: value" lines, enums with synonyms and fuzzy matching, numbers with units, booleans with
negation, dates and durations, lists, nested objects), and free-form fact extraction. Merging
new facts into known ones and fitting them to the schema is in local_merge.

Over 500 lines because of one class, Extractor (about 830 lines), and the helpers only it
calls (schema view, cue matching, value parsing, about 380 lines): the search for one
property's value runs through Extractor's methods, which share the document's segments,
masks and the values already taken; cut into modules they would pass that state around as
arguments in every call. The word lists it reads are in local_vocabulary, dates in
local_when, merging and schema repair in local_merge."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from jsonschema.validators import validator_for
from rapidfuzz import fuzz

from services.engines.local_language import (
    StemBag,
    Token,
    content_stems,
    negated_positions,
    number_from_word,
    stems_match,
    tokenize,
)
from services.engines.local_vocabulary import (
    ALLERGENS,
    CUE_SYNONYMS,
    CUISINES,
    DISHES,
    ENUM_SYNONYMS,
    LANGUAGES,
    SKILLS,
    SYMPTOMS,
    UNIT_FAMILIES,
    VENUES,
)
from services.engines.local_when import (
    DateHit,
    date_to_iso,
    find_dates,
    find_durations,
)
from services.engines.nlp import STOPWORDS, bare_words, sentences, stem
from services.engines.places import find_places, place_kind

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b")
URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.IGNORECASE)
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d\s()./-]{5,}\d(?!\w)")
POSTCODE = re.compile(
    r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|\d{5}(?:-\d{4})?|\d{4}\s?[A-Z]{2}|\d{4})\b"
)
_PAIR = re.compile(
    r"^\s*(?:[-*•+]\s+|\d+[.)]\s+)?(?P<key>[^\W\d_][\w ()/&'’.-]{0,48}?)\s*(?:[:=]|\s[-–]\s)\s*"
    r"(?P<value>\S.*?)\s*$"
)
_INLINE_PAIR_SPLIT = re.compile(r"\s*[;|]\s*|,\s*(?=[^\W\d_][\w ]{0,30}:\s)")
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|\[[ xX]\])\s+(?P<item>.+?)\s*$")
_NUMBER = re.compile(
    r"(?P<cur>[$€£¥])?\s?(?P<num>[-+]?\d+(?:[.,'\s]\d{3})*(?:[.,]\d+)?)"
    r"(?:\s?(?P<mult>k|m|bn|million|billion|thousand)\b)?"
    r"(?:[\s-]?(?P<unit>%|°\s?[CF]?|[a-zA-Zµ°€$£]+(?:/[a-zA-Z]+)?))?"
)
_WORD_NUMBER = re.compile(
    r"\b(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-(?:one|two|three|four|"
    r"five|six|seven|eight|nine))?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|a dozen|dozen|"
    r"a couple of|a couple|twice|once)\b(?:\s?(?P<unit>[a-zA-Z]+))?",
    re.IGNORECASE,
)
_NAME_WORD = r"[A-ZÀ-Ö][^\W\d_]+"
_PERSON_NAME = re.compile(
    r"\b(?i:my name is|name is|name's|i am|i'm|this is|called|named|signed|regards,|thanks,|"
    r"best,|cheers,|sincerely,|contact:?|spoke with|spoke to|talked to|talked with|met with|"
    rf"meeting with|call with|dear|hi|hello)\s+(?P<name>{_NAME_WORD}(?:[ -]{_NAME_WORD}){{0,3}})"
)
_LIST_AFTER_CUE = re.compile(
    r"\s*(?:\w+\s+){0,2}?(?:include|includes|including|are|is|were|was|:|-|such as|like|with|"
    r"have|has|had)\s+(?P<items>[^.;!?\n]+)",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?i:as an?|is an?|am an?|i'm an?|works as|working as|role:?|position:?|job:?)\s+"
    r"(?P<role>(?:[\w-]+\s+){0,3}?(?i:engineer|developer|manager|designer|analyst|consultant|"
    r"teacher|nurse|doctor|scientist|architect|administrator|lead|director|officer|specialist|"
    r"accountant|lawyer|writer|student|intern|assistant|technician|researcher|programmer|"
    r"editor|owner|founder|ceo|cto|cfo|coordinator|representative|agent|salesperson|"
    r"marketer|recruiter|tester|physician|pharmacist|electrician|plumber|chef|driver))\b"
)
_FULL_NAME = rf"{_NAME_WORD}(?: {_NAME_WORD})?"
_PEOPLE_LIST = re.compile(rf"(?P<list>{_FULL_NAME}(?:, {_FULL_NAME})*,? (?:and|&) {_FULL_NAME})")
_ORG_SUFFIX = re.compile(
    r"\b(?P<org>(?:[A-Z][\w&'’.-]*\s+){0,4}(?:(?:Inc|Ltd|Co|Corp)\.|Inc|Ltd|LLC|GmbH|AG|Corp|"
    r"Corporation|Company|"
    r"Co|plc|SA|BV|Group|Labs|Technologies|Systems|Solutions))(?!\w)"
)
_PLACE = re.compile(
    r"\b(?:in|from|to|at|near|nearby|neighbou?ring|city of|town of|based in|located in|"
    r"live in|lives in|living in|moved to)\s+"
    r"(?P<place>[A-ZÀ-Ö][\w'’-]+(?:[ -][A-ZÀ-Ö][\w'’-]+){0,3})"
)
_STREET = re.compile(
    r"\b\d{1,5}[a-zA-Z]?\s+(?:[A-Z][\w'’-]*\s+){1,4}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|"
    r"Boulevard|Blvd|Drive|Dr|Way|Place|Pl|Court|Ct|Square|Sq)\b\.?"
    r"|\b(?:[A-ZÄÖÜ][\w'’-]*(?:straße|strasse|str\.|weg|gasse|platz|allee))\s+\d{1,5}[a-z]?\b"
)

# Words in a property name that say nothing about what to look for.
GENERIC_NAME_WORDS = frozenset(
    """is has have had was are the of a an number num no nr count total value values info
    information data type level current new id in at on for to by per list details field text
    s do does did can should will whether flag indicator status_of""".split()  # noqa: SIM905
)
# String fields that name when something happens as written (a time range, not one date).
_WHEN_NAME_WORDS = frozenset({"when", "range", "timerange", "timeframe", "window", "timing"})
# Words of a field's name saying it holds a kind of something ("restaurant_type").
_KIND_NAME_WORDS = frozenset({"type", "kind", "category", "style", "sort"})
_VENUE_NAME_WORDS = frozenset(
    {"restaurant", "venue", "place", "establishment", "eatery", "bar", "location"}
)
_TIME_OF_DAY = re.compile(
    r"\b(?:\d{1,2}(?::\d{2})?\s?(?:a\.?m\.?|p\.?m\.?)(?![\w])|\d{1,2}:\d{2}|"
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s?(?:am|pm|o'?clock)\b|"
    r"noon|midnight|(?:right )?now|tonight|this (?:morning|afternoon|evening|weekend)|"
    r"(?:this|next|last) (?:spring|summer|fall|autumn|winter|week|weekend|month|year)|"
    r"(?:in the )?(?:morning|afternoon|evening)|(?:late )?at night|midday|"
    r"(?:(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|zero)"
    r"\s?(?:a\.?m\.?|p\.?m\.?|o'?clock))|(?:next|this|last) (?:january|february|march|april|"
    r"may|june|july|august|september|october|november|december)|"
    r"(?:spring|summer|autumn|winter)(?: of \d{4})?)(?![\w])",
    re.IGNORECASE,
)
_MEAL_TIME = re.compile(r"\b(?:breakfast|brunch|lunch|dinner|supper|tea time)\b", re.IGNORECASE)


_PEOPLE_LEAD = re.compile(
    r"(?:\bfor|\bparty of|\bgroup of|\bbook|\breserve|\breservation for|\bspot for|\bseats? for"
    r"|\btable for|\bwe are|\bwe're|\bthere (?:are|will be))\s+(?:a\s+)?$"
)
_TIME_AFTER_NUMBER = re.compile(
    r"[\w.,]+\s*(?::\d|o'?clock\b|[ap]\.?m\b|hours?\b|hrs?\b|minutes?\b)", re.IGNORECASE
)
_NOT_PEOPLE_UNITS = frozenset(
    [
        "am",
        "pm",
        "a.m",
        "p.m",
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "min",
        "mins",
        "minute",
        "minutes",
        "day",
        "days",
        "night",
        "nights",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "pm.",
        "am.",
        "o'clock",
        "%",
        "$",
        "€",
        "£",
        "dollars",
        "euros",
    ]
)


@lru_cache(maxsize=1)
def _people_stems() -> frozenset[str]:
    return frozenset(
        stem(w)
        for w in [
            "people",
            "persons",
            "person",
            "guests",
            "guest",
            "adults",
            "adult",
            "diners",
            "of",
            "us",
            "friends",
            "kids",
            "children",
        ]
    )


def _counts_people(prop: Prop) -> bool:
    """A count of people (guests, party size, attendees…), by the cues of its name."""
    return any(len(p) == 1 and p[0] in _people_stems() for p, _ in prop.cues)


_SERVED = re.compile(
    r"\b(?:serves|serving|serve|that has|where (?:i|we) can (?:get|have|eat)|with)\s+"
    r"(?:(?:a|an|some|the)\s+)?(?P<dish>[a-z][\w'-]*(?:\s+(?!for\b|in\b|at\b|on\b|near\b|"
    r"and\b|with\b|to\b|from\b|neighbou?ring\b|nearby\b|close\b|within\b)[a-z][\w'-]*){0,2})"
)


def when_span(text: str, reference: date) -> str | None:
    """The first time expression of `text` as written: a date ("next friday", "1/20/2023"), a
    time ("five pm", "20:00"), a part of the day or a season ("tonight", "this spring"),
    joined with the one right after it ("tomorrow at 8 pm")."""
    spans = sorted(
        [(h.start, h.end) for h in find_dates(text, reference)]
        + [m.span() for m in _TIME_OF_DAY.finditer(text)]
    )
    if not spans:
        meal = _MEAL_TIME.search(text)
        return meal.group(0) if meal else None
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        gap = text[end:next_start]
        if next_start <= end or re.fullmatch(r"\s*(?:at|,|on|from|by|around)?\s*", gap, re.I):
            end = max(end, next_end)
        else:
            break
    return text[start:end].strip(" ,")


def names_a_kind(prop: Prop) -> bool:
    return bool(set(split_name(prop.name)) & _KIND_NAME_WORDS)


def scalar_lexicon(prop: Prop) -> tuple[str, ...] | None:
    """For a string field about food or places to eat (cuisine, restaurant_type, dish), the
    words a reader recognises as its values."""
    words = set(split_name(prop.name)) | set(split_name(str(prop.node.get("title", ""))))
    if words & {"cuisine", "cuisines"} or ("food" in words and words & _KIND_NAME_WORDS):
        return CUISINES
    if words & _KIND_NAME_WORDS and words & _VENUE_NAME_WORDS:
        return VENUES
    if words & {"dish", "dishes", "meal", "served"}:
        return DISHES
    return None


def place_kind_of(prop: Prop) -> str | None:
    """ "country", "state" or "city" when the field's name says which kind of place it holds."""
    words = set(split_name(prop.name)) | set(split_name(str(prop.node.get("title", ""))))
    if "country" in words:
        return "country"
    if words & {"state", "province", "county"}:
        return "state"
    if words & {"city", "town"}:
        return "city"
    return None


# List fields whose items a reader recognises by meaning, by a word of the field's name.
LEXICONS: dict[str, dict[str, tuple[str, ...]]] = {
    **dict.fromkeys(("symptom", "symptoms"), SYMPTOMS),
    **dict.fromkeys(("allergy", "allergies", "allergen", "allergens"), ALLERGENS),
    **dict.fromkeys(("language", "languages"), LANGUAGES),
    **dict.fromkeys(
        ("skill", "skills", "technology", "technologies", "stack", "tool", "tools"), SKILLS
    ),
}
# Both tables are looked up by the stem of a word of the property's name.
CUE_INDEX = {stem(word): synonyms for word, synonyms in CUE_SYNONYMS.items()}
LEXICON_INDEX = {stem(word): lexicon for word, lexicon in LEXICONS.items()}
_AGE_PATTERN = re.compile(
    r"\b(\d{1,3})\s*(?:-|\s)?(?:years?|yrs?)(?:\s*-\s*|\s+)old\b|\baged?\s+(\d{1,3})\b|"
    r"\b(\d{1,3})-year-old\b|\b(?:i'?m|i am|he is|she is|he's|she's)\s+(\d{1,3})\b",
    re.IGNORECASE,
)
_PEOPLE_WORDS = frozenset(
    """guests travellers travelers passengers attendees participants people persons adults
    members employees staff users customers visitors players students pax headcount""".split()  # noqa: SIM905
)
_PERSON_LIST_WORDS = frozenset(
    """attendees participants members people guests team names invitees speakers authors
    contacts recipients owners assignees reviewers organisers organizers hosts""".split()  # noqa: SIM905
)
_SUMMARY_NAMES = frozenset({"summari", "description", "descript", "note", "comment", "messag"})
_AFFIRMATIVE = frozenset(
    "yes y true 1 ja oui si sí yep yeah correct confirmed positive present".split()  # noqa: SIM905
)
_NEGATIVE = frozenset(
    {"no", "n", "false", "0", "nein", "non", "nope", "none", "negative", "absent", "not"}
)


class ExtractionError(ValueError):
    """The schema cannot drive an extraction (not an object schema, or a bad $ref)."""


@dataclass
class Segment:
    """A sentence of the text, tokenised, with the positions a negation covers."""

    text: str
    tokens: list[Token]
    negated: set[int]
    index: int
    line: int
    stems: list[str] = field(default_factory=list)
    bag: StemBag = field(default_factory=lambda: StemBag(set()))
    cue_cache: dict[tuple[str, bool], list[tuple[int, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stems = [t.stem for t in self.tokens]
        self.bag = StemBag(set(self.stems))


@dataclass
class Pair:
    key: str
    key_stems: list[str]
    value: str
    line: int


@dataclass
class Doc:
    text: str
    reference: date
    segments: list[Segment] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, reference: date) -> Doc:
        doc = cls(text=text, reference=reference, lines=text.splitlines())
        for line_no, line in enumerate(doc.lines):
            if not line.strip():
                continue
            line_sentences = sentences(line)
            if ":" in line or "=" in line:
                pieces = [p for s in line_sentences for p in _INLINE_PAIR_SPLIT.split(s)]
                for piece in pieces:
                    match = _PAIR.match(piece)
                    if (
                        match
                        and len(match.group("key").split()) <= 5
                        and not URL.match(piece.strip())
                    ):
                        key = match.group("key").strip()
                        value = match.group("value").strip().rstrip(".;,")
                        doc.pairs.append(Pair(key, stems_of_name(key), value, line_no))
            for sentence in line_sentences:
                tokens = tokenize(sentence)
                doc.segments.append(
                    Segment(sentence, tokens, negated_positions(tokens), len(doc.segments), line_no)
                )
        return doc


@dataclass
class Prop:
    name: str
    path: str
    node: dict[str, Any]
    kind: str
    nullable: bool
    cues: list[tuple[tuple[str, ...], float]]
    unit_family: str | None
    unit_factor: float
    name_stems: list[str]


@dataclass
class Extraction:
    data: dict[str, Any]
    found: list[str] = field(default_factory=list)  # paths of the values read from the text


# --- schema helpers -----------------------------------------------------------------------


class SchemaView:
    """Follows local $refs and flattens allOf/anyOf/oneOf so that each property has one kind."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        cls = validator_for(root)
        self._validator = cls(root)

    def resolve(self, node: Any, depth: int = 0) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {} if node is True or node is None else {"not": {}}
        if depth > 20:
            raise ExtractionError("The schema's $ref chain is too deep or circular.")
        node = dict(node)
        ref = node.pop("$ref", None)
        if isinstance(ref, str):
            if not ref.startswith("#"):
                raise ExtractionError(f"Only local $refs are supported, not {ref!r}.")
            target: Any = self.root
            for part in ref.lstrip("#/").split("/") if ref != "#" else []:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    raise ExtractionError(f"The schema's $ref {ref!r} points nowhere.")
                target = target[part]
            node = {**self.resolve(target, depth + 1), **node}
        for sub in node.pop("allOf", []) or []:
            resolved = self.resolve(sub, depth + 1)
            merged_props = {**resolved.get("properties", {}), **node.get("properties", {})}
            required = [*resolved.get("required", []), *node.get("required", [])]
            node = {**resolved, **node}
            if merged_props:
                node["properties"] = merged_props
            if required:
                node["required"] = list(dict.fromkeys(required))
        for key in ("anyOf", "oneOf"):
            options = node.pop(key, None)
            if options:
                resolved_options = [self.resolve(option, depth + 1) for option in options]
                non_null = [o for o in resolved_options if o.get("type") != "null"]
                if len(non_null) < len(resolved_options):
                    node["_nullable"] = True
                if non_null:
                    node = {**non_null[0], **node}
        return node

    def is_valid(self, node: dict[str, Any], value: Any) -> bool:
        clean = {k: v for k, v in node.items() if k != "_nullable"}
        return bool(self._validator.evolve(schema=clean).is_valid(value))


def kind_of_node(node: dict[str, Any]) -> tuple[str, bool]:
    """(kind, nullable): kind is enum, const, boolean, integer, number, string, array, object
    or any."""
    nullable = bool(node.get("_nullable"))
    declared = node.get("type")
    if isinstance(declared, list):
        nullable = nullable or "null" in declared
        non_null = [t for t in declared if t != "null"]
        declared = non_null[0] if non_null else "null"
    if "const" in node:
        return "const", nullable
    if "enum" in node:
        values = [v for v in node["enum"] if v is not None]
        nullable = nullable or None in node["enum"]
        if values and all(isinstance(v, bool) for v in values):
            return "boolean", nullable
        return "enum", nullable
    if declared in {"boolean", "integer", "number", "string", "array", "object"}:
        return str(declared), nullable
    if "properties" in node:
        return "object", nullable
    if "items" in node:
        return "array", nullable
    return "any", nullable


def split_name(name: str) -> list[str]:
    """ "onsetDate", "onset_date", "Onset date" -> ["onset", "date"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w.lower() for w in re.split(r"[\s_\-./]+", spaced) if w]


def stems_of_name(name: str) -> list[str]:
    words = split_name(name)
    kept = [w for w in words if w not in GENERIC_NAME_WORDS and w not in STOPWORDS] or words
    return [stem(w) for w in kept]


def _unit_hint(words: list[str]) -> tuple[str | None, float]:
    """The unit a property asks for; a word after "per" is a rate, not the unit."""
    for index, word in enumerate(words):
        if index and words[index - 1] in {"per", "a", "each", "every"}:
            continue
        for family, units in UNIT_FAMILIES.items():
            if word in units and word not in {"m", "f", "c", "g", "h", "°"}:
                return family, units[word]
    return None, 1.0


_DESCRIPTION_UNIT = re.compile(r"\b(?:in|as|of)\s+([^\W\d_]+|[%°$€£])|\(([^()\s]+)\)")


def make_prop(view: SchemaView, name: str, raw: Any, path: str) -> Prop:
    node = view.resolve(raw)
    kind, nullable = kind_of_node(node)
    words = split_name(name)
    title_words = split_name(str(node.get("title", "")))
    unit_family, unit_factor = _unit_hint(words)
    if "year" in words and not set(words) & {"age", "duration", "experience", "tenure", "period"}:
        unit_family, unit_factor = None, 1.0  # model_year, birth_year: a calendar year
    if unit_family is None:
        stated = [
            (m.group(1) or m.group(2)).lower()
            for m in _DESCRIPTION_UNIT.finditer(str(node.get("description", "")))
        ]
        unit_family, unit_factor = _unit_hint(stated)
    if unit_family is None and kind == "integer" and set(words) & _PEOPLE_WORDS:
        unit_family, unit_factor = "people", 1.0
    stems = stems_of_name(name)
    cues: list[tuple[tuple[str, ...], float]] = [((s,), 1.0) for s in stems]
    if len(stems) > 1:
        cues.append((tuple(stems), 1.5))
    for s in stems_of_name(str(node.get("title", ""))) if title_words else []:
        cues.append(((s,), 1.0))
    for s in [*stems, *(stem(w) for w in title_words)]:
        for synonym in CUE_INDEX.get(s, ()):
            phrase = tuple(stem(w) for w in bare_words(synonym))
            weight = 0.3 if synonym in STOPWORDS else 0.8
            cues.append((phrase, weight))
    for s in content_stems(str(node.get("description", ""))):
        if s not in stems and len(s) > 3:
            cues.append(((s,), 0.35))
    unique: dict[tuple[str, ...], float] = {}
    for phrase, weight in cues:
        if phrase and unique.get(phrase, 0) < weight:
            unique[phrase] = weight
    return Prop(
        name=name,
        path=path,
        node=node,
        kind=kind,
        nullable=nullable,
        cues=list(unique.items()),
        unit_family=unit_family,
        unit_factor=unit_factor,
        name_stems=stems,
    )


# --- cue matching ---------------------------------------------------------------------------


def cue_hits(prop: Prop, segment: Segment, strong_only: bool = False) -> list[tuple[int, float]]:
    """(token index, weight) of every cue of `prop` in `segment` (cached on the segment)."""
    cached = segment.cue_cache.get((prop.path, strong_only))
    if cached is not None:
        return cached
    hits: list[tuple[int, float]] = []
    stems_ = segment.stems
    for phrase, weight in prop.cues:
        if (strong_only and weight < 0.8) or any(p not in segment.bag for p in phrase):
            continue
        n = len(phrase)
        for i in range(len(stems_) - n + 1):
            if all(stems_match(stems_[i + k], phrase[k]) for k in range(n)):
                hits.append((i, weight))
    segment.cue_cache[(prop.path, strong_only)] = hits
    return hits


def cue_strength(prop: Prop, segment: Segment) -> float:
    return max((w for _, w in cue_hits(prop, segment)), default=0.0)


def _token_at(segment: Segment, char: int) -> int:
    for i, token in enumerate(segment.tokens):
        if token.end > char:
            return i
    return max(len(segment.tokens) - 1, 0)


def _proximity(prop: Prop, segment: Segment, char_start: int) -> float:
    """How strongly a value at `char_start` belongs to `prop`: the cue weight, decaying with
    the number of words between them; values after their cue score a little higher."""
    position = _token_at(segment, char_start)
    best = 0.0
    for index, weight in cue_hits(prop, segment):
        distance = abs(position - index)
        score = weight / (1 + 0.25 * distance)
        if position > index:
            score *= 1.15
        best = max(best, score)
    return best


# --- value helpers ----------------------------------------------------------------------------


def _compact(value: str) -> str:
    """ "T-shirt size", "tshirt_size" and "TShirtSize" -> "tshirtsize"."""
    return re.sub(r"[\W_]+", "", value.lower())


def _normalise_enum(value: Any) -> str:
    return re.sub(r"[\s_\-]+", " ", str(value).strip().lower())


def _variants(value: Any) -> list[tuple[tuple[str, ...], float]]:
    """The stem sequences that name an enum value: itself (1.0) and its synonyms (0.85)."""
    return _variants_of(_normalise_enum(value))


@lru_cache(maxsize=4096)
def _variants_of(normalised: str) -> list[tuple[tuple[str, ...], float]]:
    out: list[tuple[tuple[str, ...], float]] = [
        (tuple(stem(w) for w in bare_words(normalised)), 1.0)
    ]
    for synonym in ENUM_SYNONYMS.get(normalised, ()):
        out.append((tuple(stem(w) for w in bare_words(synonym)), 0.85))
    return [(phrase, weight) for phrase, weight in out if phrase]


@lru_cache(maxsize=65536)
def _close_spelling(a: str, b: str) -> bool:
    """A typo of each other ("sever" for "severe"): both 5+ letters, 85% alike."""
    if len(a) < 5 or len(b) < 5 or 2 * min(len(a), len(b)) / (len(a) + len(b)) < 0.85:
        return False
    return fuzz.ratio(a, b) >= 85


def match_enum(raw: str, options: list[Any]) -> Any:
    """The enum option `raw` names: exact (case/underscore-insensitive), a synonym, or a close
    spelling; None when none fits."""
    norm = _normalise_enum(raw)
    for option in options:
        if _normalise_enum(option) == norm:
            return option
    raw_stems = tuple(stem(w) for w in bare_words(norm))
    best: tuple[float, Any] = (0.0, None)
    for option in options:
        for phrase, weight in _variants(option):
            if phrase == raw_stems or (len(phrase) == 1 and phrase[0] in raw_stems):
                score = weight + (0.1 if phrase == raw_stems else 0)
            else:
                ratio = fuzz.ratio(" ".join(phrase), " ".join(raw_stems)) / 100
                score = ratio * weight * 0.9 if ratio >= 0.8 else 0.0
            if score > best[0]:
                best = (score, option)
    return best[1]


def parse_number(raw: str) -> float | None:
    text = raw.strip().replace("\u00a0", " ")
    match = _NUMBER.search(text)
    if match:
        return _number_value(match)
    words = re.findall(r"[^\W_]+(?:-[^\W_]+)?", text.lower())
    for word in words:
        value = number_from_word(word)
        if value is not None:
            return value
    return None


def _number_value(match: re.Match[str]) -> float | None:
    raw = match.group("num").replace(" ", "").replace("'", "")
    if "," in raw and "." in raw:
        raw = (
            raw.replace(",", "")
            if raw.rfind(".") > raw.rfind(",")
            else raw.replace(".", "").replace(",", ".")
        )
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = (
            raw.replace(",", "") if len(tail) == 3 and head.lstrip("+-") else raw.replace(",", ".")
        )
    elif raw.count(".") > 1:
        raw = raw.replace(".", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    mult = (match.group("mult") or "").lower()
    value *= {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}.get(
        mult, 1
    )
    return value


def parse_bool(raw: str) -> bool | None:
    words = bare_words(raw.lower())
    if not words:
        return None
    if words[0] in _AFFIRMATIVE:
        return True
    if words[0] in _NEGATIVE:
        return False
    return None


def split_items(raw: str) -> list[str]:
    """ "headache, fever and nausea" -> ["headache", "fever", "nausea"]."""
    parts = re.split(r"\s*(?:[,;/•|]|\band\b|\bor\b|\bas well as\b|\bplus\b|&)\s*", raw.strip())
    out = []
    for part in parts:
        item = re.sub(
            r"^(?:a|an|the|some|my|his|her|their|our|also|etc)\s+",
            "",
            part.strip(),
            flags=re.IGNORECASE,
        )
        item = item.strip(" .!?:\"'()[]")
        if item and item.lower() not in {"etc", "and", "or"} and len(item.split()) <= 8:
            out.append(item)
    return out


def _clip(text: str, node: dict[str, Any]) -> str:
    limit = node.get("maxLength")
    if isinstance(limit, int) and len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
        return cut.rstrip(" ,;:")
    return text


_BE_OR_DO = frozenset(
    """is are was were be been has have had does do did will would can could should""".split()  # noqa: SIM905
)


def _negated_after(segment: Segment, index: int) -> bool:
    """ "The check engine light is not on", "the box wasn't damaged": a verb right after the
    cue, then a negation, in the same clause."""
    seen_verb = False
    for token in segment.tokens[index + 1 : index + 6]:
        if not token.is_word:
            return False
        if token.lower in {"not", "never", "no"} and seen_verb:
            return True
        if token.lower.endswith("n't") or token.lower in {"isnt", "wasnt", "arent", "doesnt"}:
            return True
        if token.lower in _BE_OR_DO:
            seen_verb = True
    return False


_ABSENCE = frozenset(
    """gone absent resolved over cleared disappeared stopped subsided away cured healed
    ended""".split()  # noqa: SIM905
)


def _absent_after(segment: Segment, index: int) -> bool:
    """ "The fever is gone", "the cough has stopped": the thing named is no longer there."""
    for token in segment.tokens[index + 1 : index + 5]:
        if not token.is_word:
            return False
        if token.lower in _ABSENCE:
            return True
    return False


def _masks(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in EMAIL.finditer(text)]
    spans += [m.span() for m in URL.finditer(text)]
    spans += [m.span() for m in re.finditer(r"\b\d{1,2}:\d{2}\b", text)]
    return spans


def _in_mask(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in spans)


# --- the extractor --------------------------------------------------------------------------


class Extractor:
    """Reads the values of an object schema's properties from a parsed text."""

    def __init__(self, doc: Doc, schema: dict[str, Any]) -> None:
        self.doc = doc
        self.view = SchemaView(schema)
        self.found: list[str] = []

    # Object level -------------------------------------------------------------------------

    def extract_object(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        properties = node.get("properties") or {}
        props = [
            make_prop(self.view, name, raw, f"{path}.{name}" if path else name)
            for name, raw in properties.items()
        ]
        pair_owner = self._assign_pairs(props)
        out: dict[str, Any] = {}
        for prop in props:
            value = self._from_pair(prop, pair_owner)
            if value is None:
                value = self._search(prop, props)
            if (
                value is not None
                and prop.kind != "object"
                and not self.view.is_valid(prop.node, value)
            ):
                value = None
            if value is not None:
                out[prop.name] = value
                if prop.kind != "object":
                    self.found.append(prop.path)
            elif prop.kind == "const":
                out[prop.name] = prop.node["const"]
        return out

    def _assign_pairs(self, props: list[Prop]) -> dict[str, Pair]:
        """Each "key: value" line goes to the property whose name it matches best."""
        owner: dict[str, tuple[float, Pair]] = {}
        for pair in self.doc.pairs:
            best: tuple[float, Prop | None] = (0.0, None)
            for prop in props:
                score = self._key_score(prop, pair)
                if score > best[0]:
                    best = (score, prop)
            chosen = best[1]
            if chosen is not None and best[0] >= 0.5:
                current = owner.get(chosen.name)
                if current is None or best[0] > current[0]:
                    owner[chosen.name] = (best[0], pair)
        return {name: pair for name, (_, pair) in owner.items()}

    def _key_score(self, prop: Prop, pair: Pair) -> float:
        if not pair.key_stems:
            return 0.0
        key_norm = _compact(pair.key)
        if key_norm in {_compact(prop.name), _compact(str(prop.node.get("title", "")))}:
            score = 2.0
        else:
            matched = sum(
                1 for s in prop.name_stems if any(stems_match(s, k) for k in pair.key_stems)
            )
            synonym = any(
                len(phrase) <= len(pair.key_stems)
                and all(any(stems_match(p, k) for k in pair.key_stems) for p in phrase)
                for phrase, weight in prop.cues
                if weight >= 0.8
            )
            if matched:
                score = matched / len(prop.name_stems) * (0.5 + 0.5 * matched / len(pair.key_stems))
            else:
                score = 0.55 if synonym else 0.0
        value = pair.value
        affinity = {
            "email": bool(EMAIL.search(value)),
            "phone": bool(PHONE.search(value)) and not EMAIL.search(value),
        }
        for word, hit in affinity.items():
            if word in split_name(prop.name):
                score += 0.3 if hit else -0.3
            elif hit and word in [w for k in pair.key_stems for w in (k,)]:
                score -= 0.2
        return score

    def _from_pair(self, prop: Prop, owner: dict[str, Pair]) -> Any:
        pair = owner.get(prop.name)
        if pair is None:
            return None
        raw = pair.value
        kind = prop.kind
        if kind == "enum":
            return match_enum(raw, [v for v in prop.node["enum"] if v is not None])
        if kind == "boolean":
            return parse_bool(raw)
        if kind in {"integer", "number"}:
            return self._number_from_text(prop, raw)
        if kind == "array":
            return self._array_from_items(prop, split_items(raw))
        if kind == "string":
            return self._string_from_value(prop, raw)
        if kind == "any":
            return raw.strip()
        return None

    # Search by kind ---------------------------------------------------------------------

    def _search(self, prop: Prop, siblings: list[Prop]) -> Any:
        kind = prop.kind
        if kind == "enum":
            return self._search_enum(prop, siblings)
        if kind == "boolean":
            return self._search_bool(prop)
        if kind in {"integer", "number"}:
            return self._search_number(prop)
        if kind == "string":
            return self._search_string(prop, siblings)
        if kind == "array":
            return self._search_array(prop, siblings)
        if kind == "object":
            child = self.extract_object(prop.node, prop.path)
            return child or None
        return None

    def _segments_with_cue(self, prop: Prop, strong_only: bool = True) -> Iterator[Segment]:
        for segment in self.doc.segments:
            if cue_hits(prop, segment, strong_only=strong_only):
                yield segment

    def _search_enum(self, prop: Prop, siblings: list[Prop]) -> Any:
        options = [v for v in prop.node["enum"] if v is not None]
        if all(isinstance(v, (int, float)) for v in options):
            number = self._search_number(prop)
            return number if number in options else None
        changed = self._from_to(prop, options)
        if changed is not None:
            return changed
        scores: dict[int, float] = {}
        first_seen: dict[int, int] = {}
        # Sibling enums with the same values (severity and priority both low/medium/high)
        # compete: a value in a sentence naming the other one belongs to the other one.
        own_values = {_normalise_enum(v) for v in options}
        others = [
            p
            for p in siblings
            if p is not prop
            and p.kind == "enum"
            and own_values & {_normalise_enum(v) for v in p.node["enum"] if v is not None}
        ]
        for segment in self.doc.segments:
            own = cue_strength(prop, segment)
            rival = max((cue_strength(o, segment) for o in others), default=0.0)
            factor = 3.0 if own >= 0.8 else (1.5 if own > 0 else 1.0)
            if rival >= 0.8 and own < 0.8:
                factor *= 0.3
            stems_ = segment.stems
            present = set(stems_)
            for index, option in enumerate(options):
                for phrase, weight in _variants(option):
                    if len(phrase) == 1 and (phrase[0] in STOPWORDS or len(phrase[0]) < 2):
                        continue
                    # typos are looked for only for the value itself, not its synonyms
                    typo_ok = len(phrase) == 1 and weight == 1.0 and len(phrase[0]) >= 5
                    if phrase[0] not in present and not typo_ok:
                        continue
                    n = len(phrase)
                    for i in range(len(stems_) - n + 1):
                        exact = all(stems_[i + k] == phrase[k] for k in range(n))
                        fuzzy = not exact and typo_ok and _close_spelling(stems_[i], phrase[0])
                        if not (exact or fuzzy) or i in segment.negated:
                            continue
                        score = weight * factor * (1.0 if exact else 0.6)
                        scores[index] = scores.get(index, 0.0) + score
                        first_seen.setdefault(index, segment.index * 1000 + i)
        if not scores:
            return None
        best = max(scores, key=lambda k: (scores[k], -first_seen[k]))
        return options[best]

    def _from_to(self, prop: Prop, options: list[Any]) -> Any:
        """For a property named as the old or the new side of a change (current_plan,
        new_plan, previous_status…), the option after "from" or after "to" in "from X to Y"."""
        words = set(split_name(prop.name))
        side = (
            "old"
            if words & {"current", "old", "previous", "from", "existing", "original", "prior"}
            else "new"
            if words & {"new", "target", "desired", "next", "to", "future", "requested", "updated"}
            else None
        )
        if side is None:
            return None
        names = sorted(
            {re.escape(v) for o in options for v in (str(o), _normalise_enum(o))},
            key=len,
            reverse=True,
        )
        alternatives = "|".join(names)
        pattern = re.compile(
            rf"\bfrom\s+(?:the\s+)?({alternatives})\b.{{0,30}}?\b(?:to|into)\s+(?:the\s+)?"
            rf"({alternatives})\b",
            re.IGNORECASE,
        )
        match = pattern.search(self.doc.text)
        if match is None:
            return None
        return match_enum(match.group(1 if side == "old" else 2), options)

    def _search_bool(self, prop: Prop) -> bool | None:
        """True when a sentence names the property, False when that mention is negated ("no
        fever", "doesn't smoke", "not willing to relocate"); None when nothing names it."""
        best: tuple[float, bool | None] = (0.0, None)
        segments = self.doc.segments
        for position, segment in enumerate(segments):
            hits = [(i, w) for i, w in cue_hits(prop, segment) if w >= 0.8]
            if not hits:
                continue
            # "no fever", "the fever is gone" and "the light is not on" say False; "the fever
            # isn't gone" says True.
            polarity = not any(
                (i in segment.negated or _negated_after(segment, i)) != _absent_after(segment, i)
                for i, _ in hits
            )
            if segment.text.rstrip().endswith("?") and position + 1 < len(segments):
                answer = parse_bool(segments[position + 1].text)
                if answer is not None:
                    polarity = answer
            weight = max(w for _, w in hits)
            if weight > best[0]:
                best = (weight, polarity)
        return best[1]

    def _number_candidates(self, prop: Prop, segment: Segment) -> list[tuple[float, float, str]]:
        """(value, score, unit) for each number in `segment`."""
        out: list[tuple[float, float, str]] = []
        masks = _masks(segment.text)
        date_spans = [
            (h.start, h.end) for h in find_dates(segment.text, self.doc.reference) if h.explicit
        ]
        wants_year = "year" in split_name(prop.name) and prop.unit_family != "time"
        if wants_year:
            for match in re.finditer(r"\b(19\d{2}|20\d{2})\b", segment.text):
                out.append(
                    (float(match.group(1)), 0.3 + _proximity(prop, segment, match.start()), "")
                )
        for match in _NUMBER.finditer(segment.text):
            start, end = match.span("num")
            if _in_mask(masks, start, end) or (not wants_year and _in_mask(date_spans, start, end)):
                continue
            if segment.text[end : end + 2].lower() in {"st", "nd", "rd", "th"}:
                continue
            value = _number_value(match)
            if value is None:
                continue
            unit = (match.group("unit") or match.group("cur") or "").lower().replace(" ", "")
            out.append(self._score_number(prop, segment, start, value, unit))
        for match in _WORD_NUMBER.finditer(segment.text):
            value = parse_number(
                match.group(0).split()[-1]
                if match.group(0).lower().startswith("a ")
                else match.group(0)
            )
            if value is None:
                continue
            unit = (match.group("unit") or "").lower()
            out.append(self._score_number(prop, segment, match.start(), value, unit))
        return [c for c in out if c[1] > 0]

    def _score_number(
        self, prop: Prop, segment: Segment, start: int, value: float, unit: str
    ) -> tuple[float, float, str]:
        score = _proximity(prop, segment, start)
        if _counts_people(prop):
            # A head count is the number bound to people: "for 7", "party of six", "book
            # seven"; a number bound to another noun ("5 pm", "3 nights") is not one.
            before = segment.text[max(0, start - 24) : start].lower()
            after = segment.text[start : start + 24]
            noun = "" if unit.lower() in STOPWORDS or unit.lower() in {"at", "in"} else unit
            if noun.lower() in _NOT_PEOPLE_UNITS or _TIME_AFTER_NUMBER.match(after):
                score -= 1.0
            elif _PEOPLE_LEAD.search(before):
                score += 0.6 if not noun or stem(noun) in _people_stems() else -0.5
        family = next((f for f, units in UNIT_FAMILIES.items() if unit in units), None)
        if prop.unit_family and family == prop.unit_family:
            score += 1.0
            if prop.unit_family != "temperature":
                value = value * UNIT_FAMILIES[family][unit] / prop.unit_factor
        elif (prop.unit_family and family and family != prop.unit_family) or (
            family and "age" in prop.name_stems and family != "time"
        ):
            score -= 1.0  # "80 kg" is not an age, "3 days" not a weight
        if unit.isalpha() and len(unit) > 2:
            unit_stem = stem(unit)
            if any(len(p) == 1 and w >= 0.8 and stems_match(p[0], unit_stem) for p, w in prop.cues):
                score += 1.0  # "2 adults" for travellers, "3-bedroom" for bedrooms
        return value, score, unit

    def _number_from_text(self, prop: Prop, raw: str) -> float | int | None:
        segment = Segment(raw, tokenize(raw), set(), -1, -1)
        candidates = []
        for match in _NUMBER.finditer(raw):
            value = _number_value(match)
            if value is None:
                continue
            unit = (match.group("unit") or match.group("cur") or "").lower().replace(" ", "")
            value, score, _ = self._score_number(prop, segment, match.start(), value, unit)
            candidates.append((score, value))
        if not candidates:
            value = parse_number(raw)
            return self._as_kind(prop, value) if value is not None else None
        candidates.sort(key=lambda c: -c[0])
        return self._as_kind(prop, candidates[0][1])

    def _as_kind(self, prop: Prop, value: float) -> float | int | None:
        if prop.kind == "integer":
            if abs(value - round(value)) > 1e-9:
                return None
            return round(value)
        return int(value) if value == int(value) and abs(value) < 1e15 else round(value, 6)

    def _search_number(self, prop: Prop) -> float | int | None:
        if "age" in prop.name_stems:
            for segment in self.doc.segments:
                match = _AGE_PATTERN.search(segment.text)
                if match:
                    raw = next(g for g in match.groups() if g)
                    return self._as_kind(prop, float(raw))
        if prop.unit_family == "time" or any(s.startswith("durat") for s in prop.name_stems):
            for hit in find_durations(self.doc.text, self.doc.reference):
                if prop.unit_family == "time" or hit.strength >= 2:
                    return self._as_kind(prop, round(hit.days / prop.unit_factor, 6))
        best: tuple[float, float | None] = (0.0, None)
        for segment in self.doc.segments:
            for value, score, _ in self._number_candidates(prop, segment):
                if score > best[0] and self.view.is_valid(prop.node, self._as_kind(prop, value)):
                    best = (score, value)
        if best[1] is None or best[0] < 0.2:
            return None
        return self._as_kind(prop, best[1])

    def _wants(self, prop: Prop) -> str:
        """What a string property holds: email, uri, phone, date, datetime, time, duration,
        name, organisation, place, street, postcode, summary or text."""
        fmt = str(prop.node.get("format", "")).lower()
        words = set(split_name(prop.name)) | set(split_name(str(prop.node.get("title", ""))))
        description = str(prop.node.get("description", "")).lower()
        if fmt in {"email", "idn-email"} or words & {"email", "mail"}:
            return "email"
        if fmt in {"uri", "url", "iri"} or words & {"url", "website", "link", "homepage", "uri"}:
            return "uri"
        if fmt == "date-time" or words & {"datetime", "timestamp"}:
            return "datetime"
        if not fmt and words & _WHEN_NAME_WORDS:
            return "when"
        if (
            fmt == "date"
            or words & {"date", "birthday", "dob", "deadline", "day"}
            or "date" in description
        ):
            return "date"
        if (
            fmt == "duration"
            or words & {"duration", "length", "period"}
            or "how long" in description
        ):
            return "duration"
        if fmt == "time" or words & {"time"}:
            return "time"
        if words & {"phone", "telephone", "mobile", "tel", "fax", "cell"}:
            return "phone"
        if words & {"zip", "postcode", "postal", "plz"}:
            return "postcode"
        if words & {"street"}:
            return "street"
        if words & {
            "city",
            "town",
            "location",
            "country",
            "place",
            "destination",
            "origin",
            "region",
            "state",
        }:
            return "place"
        if words & {"company", "employer", "organisation", "organization", "firm", "business"}:
            return "organisation"
        if words & {"role", "job", "position", "occupation", "profession", "jobtitle"}:
            return "role"
        if "name" in words:
            return "name"
        if any(s in _SUMMARY_NAMES for s in prop.name_stems):
            return "summary"
        return "text"

    def _search_string(self, prop: Prop, siblings: list[Prop]) -> str | None:
        wants = self._wants(prop)
        text = self.doc.text
        pattern = prop.node.get("pattern")
        if wants == "email":
            return self._closest(prop, [m for m in EMAIL.finditer(text)])
        if wants == "uri":
            return self._closest(prop, [m for m in URL.finditer(text)], strip=".,;")
        if wants == "phone":
            candidates = [
                m for m in PHONE.finditer(text) if sum(c.isdigit() for c in m.group(0)) >= 7
            ]
            candidates = [
                m for m in candidates if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", m.group(0).strip())
            ]
            return self._closest(prop, candidates)
        if wants in {"date", "datetime"}:
            return self._search_date(prop, siblings, with_time=wants == "datetime")
        if wants == "when":
            found_when = when_span(text, self.doc.reference)
            return _clip(found_when, prop.node) if found_when else None
        lexicon = scalar_lexicon(prop)
        if lexicon is DISHES and (served := _SERVED.search(text)):
            return _clip(served.group("dish"), prop.node)
        if lexicon is not None:
            found_item = self._first_lexicon_form(lexicon)
            return _clip(found_item, prop.node) if found_item else None
        if wants == "place" and (kind := place_kind_of(prop)) is not None:
            found_place = self._search_place_of_kind(prop, kind)
            return _clip(found_place, prop.node) if found_place else None
        if wants == "time":
            hits = [h for h in find_dates(text, self.doc.reference) if h.moment]
            return hits[0].moment.strftime("%H:%M:%S") if hits and hits[0].moment else None
        if wants == "duration":
            durations = find_durations(text, self.doc.reference)
            return durations[0].iso if durations else None
        if isinstance(pattern, str):
            found = self._search_pattern(pattern)
            if found is not None:
                return found
        if wants == "postcode":
            return self._closest(prop, list(POSTCODE.finditer(text)))
        if wants == "street":
            return self._closest(prop, list(_STREET.finditer(text)))
        if wants == "name":
            match = _PERSON_NAME.search(text)
            if match and (
                "person" in prop.name.lower()
                or prop.name_stems in (["name"], [])
                or any(
                    s
                    in {
                        "customer",
                        "patient",
                        "client",
                        "user",
                        "contact",
                        "sender",
                        "author",
                        "full",
                        "first",
                        "last",
                    }
                    for s in split_name(prop.name)
                )
            ):
                name = match.group("name")
                words = name.split()
                if "first" in split_name(prop.name):
                    return words[0]
                if "last" in split_name(prop.name) and len(words) > 1:
                    return words[-1]
                return _clip(name, prop.node)
        if wants == "role":
            match = _ROLE.search(text)
            if match:
                return _clip(match.group("role"), prop.node)
        if wants == "organisation":
            match = _ORG_SUFFIX.search(text)
            if match:
                return _clip(match.group("org").strip(), prop.node)
            work = re.search(
                r"\b(?:work|works|working|employed)\s+(?:at|for)\s+(?P<org>[A-Z][\w&'’.-]*(?:\s+[A-Z][\w&'’.-]*){0,3})",
                text,
            )
            if work:
                return _clip(work.group("org"), prop.node)
        if wants == "place":
            best: tuple[float, str | None] = (0.0, None)
            for segment in self.doc.segments:
                for match in _PLACE.finditer(segment.text):
                    score = 0.3 + _proximity(prop, segment, match.start("place"))
                    if score > best[0]:
                        best = (score, match.group("place"))
            if best[1]:
                return _clip(best[1], prop.node)
        phrase = self._phrase_after_cue(prop, whole_sentence=not names_a_kind(prop))
        if phrase is not None:
            return _clip(phrase, prop.node)
        if wants == "summary" and self.doc.segments:
            return _clip(self.doc.segments[0].text, prop.node)
        return None

    def _first_lexicon_form(self, forms: tuple[str, ...]) -> str | None:
        """The first of `forms` the text contains (longest first at one place, not negated), as
        the text writes it."""
        best: tuple[int, int, str] | None = None
        for form in forms:
            for match in re.finditer(
                r"(?<![\w-])" + re.escape(form) + r"(?![\w-])", self.doc.text, re.IGNORECASE
            ):
                surface = match.group(0)
                before = self.doc.text[: match.start()].rstrip()
                if surface[0].isupper() and before and before[-1] not in ".!?:":
                    continue  # "Top Pot Doughnuts": part of a name, not the thing itself
                key = (match.start(), -len(form))
                if best is None or key < best[:2]:
                    best = (match.start(), -len(form), match.group(0))
                break
        return best[2] if best else None

    def _search_place_of_kind(self, prop: Prop, kind: str) -> str | None:
        """A country or a state only where the text names one (a gazetteer, see places.py); a
        city is a capitalised place after "in", "near", "from" or "to" (or, weaker, "at") that
        is neither, cut before a state or country that follows it ("Concord MN")."""
        text = self.doc.text
        hits = find_places(text)
        if kind in {"country", "state"}:
            own = [h for h in hits if h.kind == kind]
            return own[0].text if own else None
        best: tuple[float, str | None] = (0.0, None)
        for match in _PLACE.finditer(text):
            start, end = match.span("place")
            inside = [h for h in hits if start <= h.start < end]
            if inside:
                end = inside[0].start
            phrase = text[start:end].strip(" ,-")
            if not phrase or place_kind(phrase) is not None:
                continue
            opener = match.group(0)[: match.start("place") - match.start()].strip().lower()
            if opener == "at":
                continue  # "at Cliff House": a venue far more often than a town
            score = 1.0
            if score > best[0]:
                best = (score, phrase)
        return best[1]

    def _closest(self, prop: Prop, matches: list[re.Match[str]], strip: str = "") -> str | None:
        if not matches:
            return None
        best: tuple[float, str] = (-1.0, "")
        for match in matches:
            score = 0.0
            for segment in self.doc.segments:
                offset = self.doc.text.find(segment.text)
                if offset <= match.start() < offset + len(segment.text) + 1:
                    score = _proximity(prop, segment, match.start() - offset)
                    break
            if score > best[0]:
                best = (score, match.group(0).strip().rstrip(strip))
        return _clip(best[1], prop.node) if best[1] else None

    def _search_date(self, prop: Prop, siblings: list[Prop], with_time: bool) -> str | None:
        """The date nearest this property's cues; a date nearer another date property's cues
        (next_meeting vs meeting_date) is left to that one."""
        rivals = [
            p
            for p in siblings
            if p is not prop and p.kind == "string" and self._wants(p) in {"date", "datetime"}
        ]
        best: tuple[float, DateHit | None] = (-1.0, None)
        for segment in self.doc.segments:
            for hit in find_dates(segment.text, self.doc.reference):
                own = _proximity(prop, segment, hit.start)
                if own > 0 and any(_proximity(r, segment, hit.start) > own for r in rivals):
                    continue
                score = own + (0.1 if hit.explicit else 0)
                if score > best[0]:
                    best = (score, hit)
        if best[1] is None:
            return None
        if (
            best[0] <= 0.1
            and sum(1 for s in self.doc.segments if find_dates(s.text, self.doc.reference)) > 1
        ):
            # several dates and none near this property's cues: pick none rather than guess
            return None
        return date_to_iso(best[1], with_time)

    def _search_pattern(self, pattern: str) -> str | None:
        try:
            unanchored = re.compile(pattern.removeprefix("^").removesuffix("$"))
            anchored = re.compile(pattern)
        except re.error:
            return None
        for match in unanchored.finditer(self.doc.text):
            if match.group(0) and anchored.search(match.group(0)):
                return match.group(0)
        return None

    def _phrase_after_cue(self, prop: Prop, whole_sentence: bool = True) -> str | None:
        """In the first sentence naming the property, the words after "<cue> is/was/:/of…", or
        the sentence itself (unless `whole_sentence` is false: a field naming a kind of thing
        is not filled with a whole sentence that merely mentions the thing)."""
        for segment in self._segments_with_cue(prop):
            hits = sorted(h for h in cue_hits(prop, segment, strong_only=True))
            for index, _ in hits:
                token = segment.tokens[index]
                rest = segment.text[token.end :]
                match = re.match(
                    r"\s*(?:\w+\s+){0,1}?(?:is|are|was|were|will be|:|=|-|of|being|called|named)\s+"
                    r"(?P<value>[^.;!?\n]+)",
                    rest,
                    re.IGNORECASE,
                )
                if match:
                    value = re.split(
                        r",\s+(?:and|but|which|so)\b|\s+(?:but|because|so)\s", match.group("value")
                    )[0]
                    value = value.strip(" ,\"'")
                    if 0 < len(value.split()) <= 12:
                        return value
            if whole_sentence:
                return segment.text.strip()
        return None

    def _string_from_value(self, prop: Prop, raw: str) -> str | None:
        wants = self._wants(prop)
        raw = raw.strip()
        if wants in {"date", "datetime"}:
            hits = find_dates(raw, self.doc.reference)
            return date_to_iso(hits[0], wants == "datetime") if hits else None
        if wants == "duration":
            durations = find_durations(raw, self.doc.reference)
            return durations[0].iso if durations else None
        if wants == "email":
            match = EMAIL.search(raw)
            return match.group(0) if match else None
        if wants in {"name", "place", "organisation", "role"}:
            raw = re.split(r"\s*[,;(]\s*|\s+-\s+", raw)[0]
        return _clip(raw.rstrip("."), prop.node)

    # Arrays --------------------------------------------------------------------------------

    def _items_prop(self, prop: Prop) -> Prop:
        return make_prop(self.view, prop.name, prop.node.get("items", {}), prop.path + "[]")

    def _array_from_items(self, prop: Prop, raw_items: list[str]) -> list[Any] | None:
        item_prop = self._items_prop(prop)
        values: list[Any] = []
        for raw in raw_items:
            value: Any
            if item_prop.kind == "enum":
                value = match_enum(raw, [v for v in item_prop.node["enum"] if v is not None])
            elif item_prop.kind in {"integer", "number"}:
                value = self._number_from_text(item_prop, raw)
            elif item_prop.kind == "boolean":
                value = parse_bool(raw)
            elif item_prop.kind in {"string", "any"}:
                value = (
                    self._string_from_value(item_prop, raw) if item_prop.kind == "string" else raw
                )
            else:
                value = None
            if (
                value is not None
                and self.view.is_valid(item_prop.node, value)
                and value not in values
            ):
                values.append(value)
        return self._fit_array(prop, values)

    def _fit_array(self, prop: Prop, values: list[Any]) -> list[Any] | None:
        if not values:
            return None
        limit = prop.node.get("maxItems")
        if isinstance(limit, int):
            values = values[:limit]
        minimum = prop.node.get("minItems")
        if isinstance(minimum, int) and len(values) < minimum:
            return None
        return values

    def _search_array(self, prop: Prop, siblings: list[Prop]) -> list[Any] | None:
        item_prop = self._items_prop(prop)
        if item_prop.kind == "enum":
            return self._search_enum_items(prop, item_prop)
        if item_prop.kind == "object":
            return self._search_object_items(prop, item_prop)
        if item_prop.kind in {"integer", "number"}:
            values = []
            for segment in self._segments_with_cue(prop):
                for value, _, _ in self._number_candidates(prop, segment):
                    kind_value = self._as_kind(item_prop, value)
                    if kind_value is not None and kind_value not in values:
                        values.append(kind_value)
            return self._fit_array(prop, values)
        wants = self._wants(item_prop) if item_prop.kind == "string" else "text"
        if wants in {"email", "uri", "phone"} or any(
            s in {"email", "url", "link", "phone"} for s in prop.name_stems
        ):
            source = {"email": EMAIL, "uri": URL, "phone": PHONE}.get(wants)
            if source is None:
                source = (
                    EMAIL
                    if "email" in prop.name_stems
                    else (URL if any(s in {"url", "link"} for s in prop.name_stems) else PHONE)
                )
            return self._fit_array(
                prop,
                list(dict.fromkeys(m.group(0).strip() for m in source.finditer(self.doc.text))),
            )
        if wants in {"date", "datetime"}:
            dates = [
                date_to_iso(h, wants == "datetime")
                for h in find_dates(self.doc.text, self.doc.reference)
            ]
            return self._fit_array(prop, list(dict.fromkeys(dates)))
        bullets = self._bullets_under_cue(prop)
        if bullets:
            return self._array_from_items(prop, bullets)
        if set(split_name(prop.name)) & _PERSON_LIST_WORDS:
            best: tuple[float, list[str]] = (-1.0, [])
            for segment in self.doc.segments:
                for match in _PEOPLE_LIST.finditer(segment.text):
                    score = _proximity(prop, segment, match.start())
                    if score > best[0]:
                        best = (score, split_items(match.group("list")))
            if best[1]:
                return self._array_from_items(prop, best[1])
        lexicon = next((LEXICON_INDEX[s] for s in prop.name_stems if s in LEXICON_INDEX), None)
        if lexicon is None:
            lexicon = next(
                (
                    LEXICON_INDEX[s]
                    for s in content_stems(str(prop.node.get("description", "")))
                    if s in LEXICON_INDEX
                ),
                None,
            )
        if lexicon is not None:
            found = self._lexicon_items(lexicon)
            if "program" in prop.name_stems and lexicon is LANGUAGES:
                found = self._lexicon_items(SKILLS)
            if found:
                return self._array_from_items(prop, found)
        for segment in self._segments_with_cue(prop):
            for index, _ in cue_hits(prop, segment, strong_only=True):
                rest = segment.text[segment.tokens[index].end :]
                listed = _LIST_AFTER_CUE.match(rest)
                if listed:
                    items = split_items(listed.group("items"))
                    if items:
                        return self._array_from_items(prop, items)
        return None

    def _bullets_under_cue(self, prop: Prop) -> list[str]:
        """List items on the lines after a heading line that names the property."""
        lines = self.doc.lines
        for line_no, line in enumerate(lines):
            if _BULLET.match(line) or not line.strip():
                continue
            tokens = tokenize(line)
            heading = Segment(line, tokens, set(), -1, line_no)
            if not cue_hits(prop, heading, strong_only=True) or len(tokens) > 10:
                continue
            items: list[str] = []
            for following in lines[line_no + 1 :]:
                match = _BULLET.match(following)
                if not match:
                    if items or following.strip():
                        break
                    continue
                items.append(match.group("item"))
            if items:
                return items
        return []

    def _lexicon_items(self, lexicon: dict[str, tuple[str, ...]]) -> list[str]:
        found: list[tuple[int, str]] = []
        for segment in self.doc.segments:
            lowered = [t.lower for t in segment.tokens]
            for canonical, forms in lexicon.items():
                for form in forms:
                    words = re.findall(r"[^\W_]+(?:['’][^\W_]+)*|[+#]+", form.lower())
                    n = len(words)
                    for i in range(len(lowered) - n + 1):
                        if lowered[i : i + n] == words and i not in segment.negated:
                            found.append((segment.index * 1000 + i, canonical))
                            break
        found.sort()
        return list(dict.fromkeys(name for _, name in found))

    def _search_enum_items(self, prop: Prop, item_prop: Prop) -> list[Any] | None:
        options = [v for v in item_prop.node["enum"] if v is not None]
        hits: list[tuple[int, Any]] = []
        for segment in self.doc.segments:
            stems_ = [t.stem for t in segment.tokens]
            for option in options:
                for phrase, _ in _variants(option):
                    if len(phrase) == 1 and phrase[0] in STOPWORDS:
                        continue
                    n = len(phrase)
                    for i in range(len(stems_) - n + 1):
                        if tuple(stems_[i : i + n]) == phrase and i not in segment.negated:
                            hits.append((segment.index * 1000 + i, option))
        hits.sort(key=lambda h: h[0])
        return self._fit_array(prop, list(dict.fromkeys(option for _, option in hits)))

    def _search_object_items(self, prop: Prop, item_prop: Prop) -> list[Any] | None:
        """One object per list item (or per sentence naming the list) that yields every
        required field."""
        bullets = self._bullets_under_cue(prop) or [
            m.group("item") for line in self.doc.lines if (m := _BULLET.match(line))
        ]
        chunks = bullets or [s.text for s in self._segments_with_cue(prop)]
        required = item_prop.node.get("required", [])
        values = []
        for chunk in chunks:
            sub = Extractor(Doc.parse(chunk, self.doc.reference), self.view.root)
            sub.view = self.view
            obj = sub.extract_object(item_prop.node, item_prop.path)
            if (
                obj
                and all(name in obj for name in required)
                and self.view.is_valid(item_prop.node, obj)
            ):
                values.append(obj)
        return self._fit_array(prop, values)


def extract(text: str, schema: dict[str, Any], reference: date) -> Extraction:
    """Fill `schema` (an object schema) from `text`. Values that fail their property's schema
    are left out; nothing is invented. Missing required fields are reported, not filled."""
    view = SchemaView(schema)
    root = view.resolve(schema)
    if kind_of_node(root)[0] not in {"object", "any"}:
        raise ExtractionError('The schema must describe an object ("type": "object").')
    doc = Doc.parse(text, reference)
    extractor = Extractor(doc, schema)
    if root.get("properties"):
        data = extractor.extract_object(root, "")
    else:
        data = extract_free(text, reference)
    return Extraction(data=data, found=extractor.found)


# --- free-form ----------------------------------------------------------------------------------

_AMOUNT = re.compile(
    r"(?P<cur>[$€£¥])\s?(?P<num>\d+(?:[.,']\d{3})*(?:[.,]\d{1,2})?)\s?(?P<mult>k|m|million|billion)?\b"
    r"|(?P<num2>\d+(?:[.,']\d{3})*(?:[.,]\d{1,2})?)\s?(?P<mult2>k|m|million|billion)?\s?"
    r"(?P<cur2>EUR|USD|GBP|CHF|JPY|euros?|dollars?|pounds?)\b",
    re.IGNORECASE,
)
_CURRENCY = {
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "pound": "GBP",
    "pounds": "GBP",
}


def snake_key(key: str) -> str:
    words = bare_words(key.lower())
    return "_".join(words)[:64]


def _typed(value: str) -> Any:
    raw = value.strip().rstrip(".")
    if re.fullmatch(r"[-+]?\d+", raw):
        return int(raw)
    if re.fullmatch(r"[-+]?\d+\.\d+", raw):
        return float(raw)
    lowered = raw.lower()
    if lowered in {"yes", "true"}:
        return True
    if lowered in {"no", "false"}:
        return False
    if "," in raw and len(raw) < 200 and not re.search(r"\d{1,3},\d{3}", raw):
        items = split_items(raw)
        if len(items) > 1:
            return items
    return raw


def extract_free(text: str, reference: date) -> dict[str, Any]:
    """Facts without a schema: every "key: value" line (keys in snake_case, values typed),
    plus the emails, phone numbers, URLs, dates (ISO), durations and money amounts found."""
    doc = Doc.parse(text, reference)
    out: dict[str, Any] = {}
    for pair in doc.pairs:
        key = snake_key(pair.key)
        if key and key not in out and not URL.match(pair.value):
            out[key] = _typed(pair.value)
    emails = list(dict.fromkeys(m.group(0) for m in EMAIL.finditer(text)))
    urls = list(dict.fromkeys(m.group(0).rstrip(".,;") for m in URL.finditer(text)))
    masked = EMAIL.sub(" ", URL.sub(" ", text))
    date_hits = find_dates(masked, reference)
    date_spans = [(h.start, h.end) for h in date_hits]
    phones = list(
        dict.fromkeys(
            m.group(0).strip()
            for m in PHONE.finditer(masked)
            if sum(c.isdigit() for c in m.group(0)) >= 7 and not _in_mask(date_spans, *m.span())
        )
    )
    dates = list(dict.fromkeys(date_to_iso(h, h.moment is not None) for h in date_hits))
    durations = list(
        dict.fromkeys(h.iso for h in find_durations(masked, reference) if h.strength >= 2)
    )
    amounts = []
    for m in _AMOUNT.finditer(masked):
        number = m.group("num") or m.group("num2")
        mult = m.group("mult") or m.group("mult2")
        value = parse_number(number + (" " + mult if mult else ""))
        currency_raw = (m.group("cur") or m.group("cur2") or "").lower()
        currency = _CURRENCY.get(currency_raw, currency_raw.upper())
        if value is not None:
            if mult and mult.lower() in {"k", "m", "million", "billion"}:
                value *= {"k": 1e3, "m": 1e6, "million": 1e6, "billion": 1e9}[mult.lower()]
            amounts.append(
                {
                    "amount": int(value) if value == int(value) else value,
                    "currency": currency,
                    "text": m.group(0).strip(),
                }
            )
    for key, values in (
        ("emails", emails),
        ("phone_numbers", phones),
        ("urls", urls),
        ("dates", dates),
        ("durations", durations),
        ("amounts", amounts),
    ):
        if values and key not in out:
            out[key] = values
    return out
