"""classifier: sorts a text into the caller's classes by lexical matching, or with a model."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from services.catalog._schema import required_text
from services.catalogue.registry import EndpointDefinition, HandlerOutput, ServiceDefinition
from services.engines import local_or_model, run_metadata
from services.engines.label_lexicon import (
    CATCH_ALL_LABELS,
    CONCEPTS,
    GENERIC_LABEL_WORDS,
    TOPIC_FIRST,
)
from services.engines.llm import chat_json, route_for
from services.engines.nlp import STOPWORDS, WORD, stem

MAX_CONTENT_CHARS = 100_000
MAX_CLASSES = 100
DEFAULT_MODEL = "mistral-large-2411"
LOCAL_ENGINE = "local/lexical-classifier"

# Weights of the words that stand for a class: its own label words count most.
_LABEL_WEIGHT = 3.0
_CONCEPT_NAME_WEIGHT = 2.0
_RELATED_WEIGHT = 1.0
_WEAK_WEIGHT = 0.7
# Label words common in texts of any topic ("world record", "world cup"): weigh as related.
_BROAD_LABEL_WORDS = frozenset({"world", "global", "general", "life", "people"})
_BROAD_LABEL_WEIGHT = 1.0
_PHRASE_BONUS = 1.5  # a multi-word match ("credit card") is more specific than one word
_FUZZY_FACTOR = 0.7  # "cancelled" for "cancel": a shared stem prefix, not an exact stem
_CATCH_ALL_PRIOR = 0.75
# A class with many related words matches some of any text: past the reference size its
# score is divided by its relative size to this power.
_SIZE_POWER = 0.15
_SIZE_REFERENCE = 100  # score of an "other" class: it wins only when little else matches
# Calibration: softmax sharpness and the evidence at which the softmax is trusted halfway
# (chosen on the labelled test texts for a low Brier score; held-out tickets stay slightly
# under-confident, which suits texts less tidy than the fixtures).
_SOFTMAX_BETA = 2.0
_EVIDENCE_HALF = 0.5
# multiClass: a class's own confidence is s / (s + this); kept from 0.5 and 40% of the best.
_MULTI_HALF = 1.5
_MULTI_RELATIVE = 0.4

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[_\-/&+.,:;|]+")


def label_words(label: str) -> list[str]:
    """The words of a class label: "techSupport" → tech, support; "late_delivery" → late,
    delivery; "Billing & Payments" → billing, payments (lower-cased)."""
    spaced = _SEPARATORS.sub(" ", _CAMEL.sub(" ", label))
    return [w.lower() for w in WORD.findall(spaced)]


def _stem_phrase(text: str) -> str:
    return " ".join(stem(w) for w in WORD.findall(text.lower()))


def _entries(listing: str) -> set[str]:
    return {stemmed for item in listing.split(",") if (stemmed := _stem_phrase(item))}


@cache
def _concept_index() -> tuple[dict[str, list[int]], list[tuple[set[str], set[str], set[str]]]]:
    """Stemmed concept names → concept numbers, and each concept's (names, related terms,
    weak terms)."""
    by_name: dict[str, list[int]] = {}
    concepts: list[tuple[set[str], set[str], set[str]]] = []
    for number, (names, related, *weak) in enumerate(CONCEPTS):
        stemmed_names = _entries(names)
        for name in stemmed_names:
            by_name.setdefault(name, []).append(number)
        concepts.append((stemmed_names, _entries(related), _entries(weak[0]) if weak else set()))
    return by_name, concepts


@dataclass
class ClassProfile:
    """The weighted terms (stems and stemmed phrases) that speak for one class."""

    label: str
    terms: dict[str, float] = field(default_factory=dict)
    catch_all: bool = False


_TOPICAL = re.compile(
    r"news|article|topic|story|stories|headline|blog|post|content|press|media|genre", re.I
)


def is_topical(classification_type: str | None) -> bool:
    """A classification of texts by topic (news, articles, posts), not of support requests."""
    return bool(classification_type and _TOPICAL.search(classification_type))


@cache
def class_profile(label: str, topical: bool = False) -> ClassProfile:
    """A class's terms: its own label words, the names and related words of every concept a
    label word (or the whole label) names. For a topical classification a word that names a
    news topic ("tech", "business") brings that topic, not the support concept of the name."""
    profile = ClassProfile(label=label)
    if label.strip().lower().replace(" ", "_") in CATCH_ALL_LABELS:
        profile.catch_all = True
        return profile
    by_name, concepts = _concept_index()
    lowered = label_words(label)
    whole = _stem_phrase(" ".join(lowered))

    def add(term: str, weight: float) -> None:
        if term in STOPWORDS:  # "it" names a concept (IT) but is a pronoun in a text
            return
        if term and weight > profile.terms.get(term, 0.0):
            profile.terms[term] = weight

    matched: set[int] = set(by_name.get(whole, []))
    for word in lowered:
        if word in GENERIC_LABEL_WORDS:
            continue
        s = stem(word)
        add(s, _BROAD_LABEL_WEIGHT if word in _BROAD_LABEL_WORDS else _LABEL_WEIGHT)
        matched.update(by_name.get(s, []))
    if not profile.terms and lowered:  # a label made only of generic words still matches them
        for word in lowered:
            add(stem(word), _LABEL_WEIGHT)
    if topical and any(number >= TOPIC_FIRST for number in matched):
        matched = {number for number in matched if number >= TOPIC_FIRST}
    for number in matched:
        names, related, weak = concepts[number]
        for name in names:
            add(name, _CONCEPT_NAME_WEIGHT * (_PHRASE_BONUS if " " in name else 1.0))
        for term in related:
            add(term, _RELATED_WEIGHT * (_PHRASE_BONUS if " " in term else 1.0))
        for term in weak:
            add(term, _WEAK_WEIGHT)
    return profile


@dataclass
class Evidence:
    scores: dict[str, float]
    matches: dict[str, list[str]]  # label → the words of the text that matched it


def _content_grams(content: str) -> tuple[Counter[str], dict[str, str]]:
    """Stemmed words, bigrams and trigrams of the content, counted, and a surface form of each."""
    surface_words = WORD.findall(content)
    stemmed = [stem(w) for w in surface_words]
    grams: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for size in (1, 2, 3):
        for i in range(len(stemmed) - size + 1):
            gram = " ".join(stemmed[i : i + size])
            grams[gram] += 1
            surface.setdefault(gram, " ".join(surface_words[i : i + size]).lower())
    return grams, surface


def _fuzzy(a: str, b: str) -> bool:
    """Same word, other inflection: one stem is a prefix (5+ letters) of the other."""
    if " " in a or " " in b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 5 and len(long_) - len(short) <= 3 and long_.startswith(short)


def score_classes(
    content: str, labels: list[str], classification_type: str | None = None
) -> Evidence:
    """Each class's score: the weights of its terms found in the content (1 + log of the count),
    each term's weight divided by the number of classes sharing it, so that shared words do
    not decide."""
    topical = is_topical(classification_type)
    profiles = [class_profile(label, topical) for label in labels]
    sharing = Counter(t for p in profiles for t in p.terms)
    grams, surface = _content_grams(content)
    singles_by_prefix: dict[str, list[str]] = {}
    for gram in grams:
        if " " not in gram and len(gram) >= 5:
            singles_by_prefix.setdefault(gram[:5], []).append(gram)

    scores: dict[str, float] = {}
    matches: dict[str, list[str]] = {}
    for profile in profiles:
        total = 0.0
        found: list[str] = []
        for term, weight in profile.terms.items():
            count = grams.get(term, 0)
            factor = 1.0
            hit = term
            if not count and len(term) >= 5 and " " not in term:
                near = [g for g in singles_by_prefix.get(term[:5], []) if _fuzzy(term, g)]
                if near:
                    hit = near[0]
                    count = sum(grams[g] for g in near)
                    factor = _FUZZY_FACTOR
            if count:
                total += weight * factor * (1 + math.log(count)) / sharing[term]
                found.append(surface.get(hit, hit))
        if len(profile.terms) > _SIZE_REFERENCE:
            total /= (len(profile.terms) / _SIZE_REFERENCE) ** _SIZE_POWER
        if profile.catch_all:
            total = _CATCH_ALL_PRIOR
        scores[profile.label] = total
        matches[profile.label] = sorted(set(found), key=found.index)
    return Evidence(scores=scores, matches=matches)


def single_confidences(scores: dict[str, float]) -> dict[str, float]:
    """A probability per class: the softmax of the scores, shrunk towards uniform when the
    evidence (the best score) is weak."""
    labels = list(scores)
    k = len(labels)
    top = max(scores.values(), default=0.0)
    exps = {c: math.exp(_SOFTMAX_BETA * (s - top)) for c, s in scores.items()}
    norm = sum(exps.values())
    trust = top / (top + _EVIDENCE_HALF) if top > 0 else 0.0
    return {c: trust * exps[c] / norm + (1 - trust) / k for c in labels}


def classify_locally(
    content: str, labels: list[str], multi: bool, classification_type: str | None
) -> dict[str, Any]:
    evidence = score_classes(content, labels, classification_type)
    order = {label: i for i, label in enumerate(labels)}
    ranked = sorted(labels, key=lambda c: (-evidence.scores[c], order[c]))
    domain = f" ({classification_type})" if classification_type else ""

    def why(label: str) -> str:
        found = evidence.matches[label]
        if found:
            return f"'{label}' (words: " + ", ".join(f"'{w}'" for w in found[:6]) + ")"
        if evidence.scores[label] > 0:
            return f"'{label}' (the catch-all class: no other class matched enough words)"
        return f"'{label}' (no matching words)"

    if not multi:
        confidences = single_confidences(evidence.scores)
        best = ranked[0]
        if evidence.scores[best] <= 0:
            explanation = (
                f"No word of the text matched any class{domain}; '{best}' is a guess "
                "with the uniform confidence."
            )
        else:
            explanation = f"Classified{domain} as {why(best)}."
            if len(ranked) > 1 and evidence.scores[ranked[1]] > 0:
                runner = ranked[1]
                explanation += f" Runner-up: {why(runner)}, confidence {confidences[runner]:.2f}."
        return {
            "class": best,
            "confidence": round(confidences[best], 4),
            "explanation": explanation,
        }

    own = {c: s / (s + _MULTI_HALF) for c, s in evidence.scores.items()}
    top = evidence.scores[ranked[0]]
    kept = [ranked[0]] + [
        c
        for c in ranked[1:]
        if own[c] >= 0.5 and evidence.scores[c] >= _MULTI_RELATIVE * top and top > 0
    ]
    if top <= 0:
        explanation = f"No word of the text matched any class{domain}; '{ranked[0]}' is a guess."
    else:
        explanation = f"Classified{domain}: " + "; ".join(why(c) for c in kept) + "."
    return {
        "classifications": [{"class": c, "confidence": round(own[c], 4)} for c in kept],
        "explanation": explanation,
    }


# --- a model provider -------------------------------------------------------------------------


def _canonical(value: Any, labels: list[str]) -> str | None:
    """The allowed class a model's answer names (exact, else ignoring case and spacing)."""
    if not isinstance(value, str):
        return None
    if value in labels:
        return value
    folded = {" ".join(label.lower().split()): label for label in labels}
    return folded.get(" ".join(value.lower().split()))


def _confidence_ok(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _check_answer(labels: list[str], multi: bool) -> Any:
    allowed = ", ".join(repr(label) for label in labels)

    def check(data: Any) -> list[str]:
        if not isinstance(data, dict):
            return ["the answer must be a JSON object"]
        problems: list[str] = []
        if multi:
            items = data.get("classifications")
            if not isinstance(items, list) or not items:
                return ['"classifications" must be a non-empty list']
            for item in items:
                if not isinstance(item, dict) or _canonical(item.get("class"), labels) is None:
                    problems.append(f"every class must be one of {allowed}")
                    break
            for item in items:
                if isinstance(item, dict) and not _confidence_ok(item.get("confidence")):
                    problems.append('every "confidence" must be a number from 0 to 1')
                    break
        else:
            if _canonical(data.get("class"), labels) is None:
                problems.append(f'"class" must be one of {allowed}, not {data.get("class")!r}')
            if not _confidence_ok(data.get("confidence")):
                problems.append('"confidence" must be a number from 0 to 1')
        if "explanation" in data and not isinstance(data["explanation"], str):
            problems.append('"explanation" must be a string')
        return problems

    return check


def classify_with_model(
    route: Any,
    content: str,
    labels: list[str],
    multi: bool,
    classification_type: str | None,
    temperature: float,
    max_tokens: int | None,
) -> tuple[dict[str, Any], dict[str, int]]:
    shape = (
        '{"classifications": [{"class": string, "confidence": number}, ...], '
        '"explanation": string}: every class that applies, most likely first'
        if multi
        else '{"class": string, "confidence": number, "explanation": string}'
    )
    domain = f" The classification is about: {classification_type}." if classification_type else ""
    system = (
        "You classify texts. Use only these classes, spelled exactly as given: "
        + ", ".join(f'"{label}"' for label in labels)
        + f".{domain} Confidence is a probability from 0 to 1. The explanation is one or two "
        f"sentences naming what in the text decided. Reply with JSON only: {shape}."
    )
    answer = chat_json(
        route,
        system=system,
        user=content,
        check=_check_answer(labels, multi),
        temperature=temperature,
        max_tokens=max_tokens,
    )
    data = answer.data
    explanation = data.get("explanation") or ""
    if multi:
        seen: dict[str, float] = {}
        for item in data["classifications"]:
            label = _canonical(item["class"], labels)
            if label is not None and label not in seen:
                seen[label] = float(item["confidence"])
        ordered = sorted(seen.items(), key=lambda kv: -kv[1])
        result: dict[str, Any] = {
            "classifications": [{"class": c, "confidence": v} for c, v in ordered],
            "explanation": explanation,
        }
    else:
        result = {
            "class": _canonical(data["class"], labels),
            "confidence": float(data["confidence"]),
            "explanation": explanation,
        }
    return result, answer.usage.as_dict()


def process(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    content: str = params["content"]
    context = params["context"]
    config = params.get("config") or {}
    labels: list[str] = context["allowedClasses"]
    multi = bool(context.get("multiClass", False))
    classification_type = context.get("classificationType") or None
    requested = config.get("modelId") or DEFAULT_MODEL

    result, model, usage = local_or_model(
        route_for(requested),
        engine=LOCAL_ENGINE,
        local=lambda: (
            classify_locally(content, labels, multi, classification_type),
            {"input_chars": len(content)},
        ),
        model=lambda route: classify_with_model(
            route,
            content,
            labels,
            multi,
            classification_type,
            float(config.get("temperature", 0.1)),
            config.get("maxTokens"),
        ),
    )
    return HandlerOutput(
        result=result,
        metadata=run_metadata(
            model=model,
            requested_model=requested,
            started=started,
            usage=usage,
            classification_type=classification_type,
        ),
    )


SERVICE = ServiceDefinition(
    id="classifier",
    name="Classifier",
    description="Sorts a text into the classes you allow, one or several, with a confidence and "
    "an explanation. The local engine matches the text against each class label and the words "
    "related to it; a configured model reads the text itself.",
    config={"default_model": DEFAULT_MODEL, "max_input_length": MAX_CONTENT_CHARS},
    endpoints={
        "process": EndpointDefinition(
            name="process",
            description="Classify `content` into one of `context.allowedClasses` (or several, "
            "with `multiClass`). The answer always names allowed classes; a model's answer "
            "naming another class is sent back for one correction and then refused.",
            price=1,
            input_schema={
                "type": "object",
                "properties": {
                    "content": required_text("The text to classify.", max_length=MAX_CONTENT_CHARS),
                    "context": {
                        "type": "object",
                        "description": "classificationType (the domain, e.g. 'support "
                        "ticket'), allowedClasses (the valid classes) and multiClass.",
                        "properties": {
                            "classificationType": {"type": "string", "maxLength": 200},
                            "allowedClasses": {
                                "type": "array",
                                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                                "minItems": 1,
                                "maxItems": MAX_CLASSES,
                                "uniqueItems": True,
                            },
                            "multiClass": {"type": "boolean", "default": False},
                        },
                        "required": ["allowedClasses"],
                        "additionalProperties": False,
                    },
                    "config": {
                        "type": "object",
                        "description": "modelId (default mistral-large-2411; the local engine "
                        "answers when no provider serves it), temperature, maxTokens.",
                        "properties": {
                            "modelId": {"type": "string", "default": DEFAULT_MODEL},
                            "temperature": {
                                "type": "number",
                                "minimum": 0,
                                "maximum": 1,
                                "default": 0.1,
                            },
                            "maxTokens": {"type": "integer", "minimum": 1, "maximum": 32000},
                        },
                        "additionalProperties": False,
                    },
                },
                "required": ["content", "context"],
                "additionalProperties": False,
            },
            returns={
                "type": "object",
                "description": "{class, confidence (0..1), explanation}; with multiClass "
                "{classifications: [{class, confidence}, ...] (most likely first), "
                "explanation}. Classes are always from allowedClasses. metadata: model, "
                "requested_model, classification_type, processing_time, usage.",
            },
            handler=process,
            example={
                "content": "I was charged twice for my subscription this month.",
                "context": {
                    "classificationType": "support ticket",
                    "allowedClasses": ["billing", "technical", "account", "shipping"],
                },
            },
            model_path=("config", "modelId"),
        )
    },
)
