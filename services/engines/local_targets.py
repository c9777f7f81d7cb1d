"""Targets (id, target, done_when, depends_on) for target_analyzer and target_generator: their
JSON Schema, dependency graph checks and the local completion-evidence engine. The local
planner that turns a description into targets is in local_plan."""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from services.catalogue.registry import ServiceFailure
from services.engines.local_language import (
    ACTION_VERBS,
    NEGATORS,
    StemBag,
    Token,
    content_stems,
    negated_positions,
    stems_match,
    tokenize,
)
from services.engines.nlp import (
    IRREGULAR,
    STOPWORDS,
    bare_words,
    document_frequencies,
    sentences,
    stem,
)

MAX_TODO = 200
MAX_DONE = 500

TARGET_ID: dict[str, Any] = {
    "type": ["integer", "string"],
    "description": "The target's id (an integer or a string), unique across todo and done.",
    "minLength": 1,
    "maxLength": 100,
}
TARGET: dict[str, Any] = {
    "type": "object",
    "description": "A target. Other fields are kept as given.",
    "properties": {
        "id": TARGET_ID,
        "target": {
            "type": "string",
            "description": "What is to be achieved.",
            "minLength": 1,
            "maxLength": 1000,
        },
        "done_when": {
            "type": "string",
            "description": "The verifiable condition under which the target is complete.",
            "maxLength": 2000,
        },
        "depends_on": {
            "type": "array",
            "description": "Ids of the targets that must be done first.",
            "items": TARGET_ID,
            "maxItems": 100,
            "default": [],
        },
    },
    "required": ["id", "target"],
}


def target_lists(description: str) -> dict[str, Any]:
    """The {todo, done} schema."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "todo": {
                "type": "array",
                "description": "Targets not yet complete.",
                "items": TARGET,
                "maxItems": MAX_TODO,
                "default": [],
            },
            "done": {
                "type": "array",
                "description": "Targets already complete.",
                "items": TARGET,
                "maxItems": MAX_DONE,
                "default": [],
            },
        },
        "additionalProperties": False,
    }


def key(target_id: Any) -> str:
    """Ids compare as text, so 3 and "3" name the same target."""
    return str(target_id).strip()


def deps(target: dict[str, Any]) -> list[str]:
    return [key(d) for d in target.get("depends_on") or []]


def check_unique(targets: list[dict[str, Any]]) -> None:
    """ServiceFailure naming the first id used twice."""
    seen: set[str] = set()
    for target in targets:
        k = key(target["id"])
        if k in seen:
            raise ServiceFailure(f"Target id {target['id']!r} is used more than once.")
        seen.add(k)


def cycles(targets: list[dict[str, Any]]) -> dict[str, list[str]]:
    """For each target on a dependency cycle, the cycle as a path of ids ("1 -> 2 -> 1")."""
    graph = {key(t["id"]): deps(t) for t in targets}
    on_cycle: dict[str, list[str]] = {}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                loop = [*stack[stack.index(nxt) :], nxt]
                for member in loop[:-1]:
                    on_cycle.setdefault(member, loop)
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node)
    return on_cycle


def topological(targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Targets with each one after the ones it depends on (stable otherwise; cycle members
    keep their place at the end). graphlib.TopologicalSorter says which targets are ready;
    they are placed in passes over the list in its order, a target as soon as everything it
    depends on is placed, so that an order the caller gave survives where the graph allows."""
    by_key = {key(t["id"]): t for t in targets}
    sorter: TopologicalSorter[str] = TopologicalSorter(
        {k: [d for d in deps(t) if d in by_key] for k, t in by_key.items()}
    )
    with contextlib.suppress(CycleError):  # the nodes off every cycle are still handed out
        sorter.prepare()
    ready = set(sorter.get_ready())
    finished: set[str] = set()
    placed: list[dict[str, Any]] = []
    remaining = list(targets)
    while remaining:
        progress = False
        for target in list(remaining):
            k = key(target["id"])
            if k in ready:
                placed.append(target)
                remaining.remove(target)
                progress = True
                if k not in finished:  # an id used twice is one node
                    finished.add(k)
                    sorter.done(k)
                    ready.update(sorter.get_ready())
        if not progress:
            placed.extend(remaining)
            break
    return placed


# --- completion evidence -----------------------------------------------------------------

COMPLETION_WORDS = frozenset(
    """done finished complete completed ready live merged deployed shipped released published
    delivered sent submitted resolved fixed closed approved signed accomplished achieved passed
    passing green launched installed configured implemented tested documented written built
    created uploaded booked paid hired migrated integrated reviewed finalised finalized wrapped
    ticked checked sorted handled settled agreed confirmed received obtained secured set
    verified validated""".split()  # noqa: SIM905
)
INCOMPLETE_WORDS = frozenset(
    """still almost nearly partially partly working pending waiting blocked starting started
    begun halfway ongoing trying attempting planning plan planned will going tomorrow soon
    later next remaining todo scheduled hopefully expect expected needs need must should
    unfinished incomplete underway progress draft drafting""".split()  # noqa: SIM905
)
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;,]\s*(?:but|however|although|though|while|whereas)?|\s+(?:but|however|although|"
    r"though|whereas)\s+|\s+-\s+|\s+—\s+)\s*",
    re.IGNORECASE,
)
_COMPLETION_PHRASES = re.compile(
    r"\b(?:went out|went live|rolled out|signed off|handed over|is out now|are out now|"
    r"is now live|are now live|crossed off|all set)\b",
    re.IGNORECASE,
)
_CHECKED = re.compile(r"\[[xX✓✔]\]|✅|✔️?|☑")
_UNCHECKED = re.compile(r"\[\s\]|☐|⬜")
_ID_MENTION = re.compile(r"(?:#|\b(?:target|task|item|step|ticket|milestone)\s*#?)\s*(\w+)", re.I)
GENERIC_TARGET_WORDS = frozenset(
    """task target goal item step done complete completed finish finished ready when project
    work make sure ensure get""".split()  # noqa: SIM905
)


@dataclass
class Unit:
    """A clause or a whole sentence of the content, with its position."""

    text: str
    tokens: list[Token]
    stems: StemBag
    position: int
    sentence: str


@dataclass
class Assessment:
    status: str  # done | in_progress | blocked | todo
    reason: str
    confidence: float
    evidence: str | None = None
    complete: bool = False


def _units(content: str) -> list[Unit]:
    units: list[Unit] = []
    position = 0
    for line in content.splitlines():
        for sentence in sentences(line):
            clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c and c.strip()]
            for clause in clauses:
                tokens = tokenize(clause)
                units.append(Unit(clause, tokens, _bag(tokens), position, sentence))
                position += 1
            if len(clauses) > 1:
                tokens = tokenize(sentence)
                units.append(Unit(sentence, tokens, _bag(tokens), position - 1, sentence))
    return units


def _bag(tokens: list[Token]) -> StemBag:
    return StemBag({t.stem for t in tokens if t.is_word})


def _target_terms(target: dict[str, Any]) -> tuple[list[str], list[str]]:
    def clean(text: str) -> list[str]:
        return [
            s
            for s in dict.fromkeys(content_stems(text))
            if s not in GENERIC_TARGET_WORDS and not s.isdigit()
        ]

    return clean(str(target.get("target", ""))), clean(str(target.get("done_when", "")))


def _coverage(terms: list[str], present: set[str], weights: dict[str, float]) -> float:
    """The weighted share of `terms` that are `present`."""
    if not terms:
        return 0.0
    total = sum(weights.get(t, 1.0) for t in terms)
    hit = sum(weights.get(t, 1.0) for t in terms if t in present)
    return hit / total if total else 0.0


def _signal(unit: Unit, verb_stems: set[str]) -> str | None:
    """ "complete", "incomplete" or None for one clause or sentence: a completion word ("done",
    "merged", the past tense of the target's own verb, a ticked box) not inside a negation's
    scope and without a sign of work still going on ("almost", "still", "will", "working on")."""
    tokens = unit.tokens
    if _UNCHECKED.search(unit.text):
        return "incomplete"
    negated = negated_positions(tokens)
    lowered = [t.lower for t in tokens]
    progress = any(w in INCOMPLETE_WORDS for w in lowered) or "in progress" in unit.text.lower()
    if "yet" in lowered and any(w in NEGATORS or w.endswith("n't") for w in lowered):
        return "incomplete"
    cues = [
        i
        for i, t in enumerate(tokens)
        if t.lower in COMPLETION_WORDS
        or (
            (t.lower.endswith("ed") or t.lower in IRREGULAR)
            and any(stems_match(t.stem, v) for v in verb_stems)
        )
    ]
    if _CHECKED.search(unit.text) or _COMPLETION_PHRASES.search(unit.text):
        return "incomplete" if progress or negated else "complete"
    if cues:
        if progress or all(i in negated for i in cues):
            return "incomplete"
        return "complete"
    progressive = any(
        t.lower.endswith("ing") and any(stems_match(t.stem, v) for v in verb_stems) for t in tokens
    )
    if progressive or progress:
        return "incomplete"
    return None


def _verb_stems(target: dict[str, Any]) -> set[str]:
    """Stems of the verbs in a target and its done_when ("Write the docs" / "The docs are
    published" -> writ, publish), whose past tense in the content is completion evidence."""
    out: set[str] = set()
    for field_name in ("target", "done_when"):
        words = bare_words(str(target.get(field_name, "")))
        for index, word in enumerate(words):
            lower = word.lower()
            if (
                (index == 0 and field_name == "target")
                or lower in ACTION_VERBS
                or lower in IRREGULAR
                or (lower.endswith("ed") and len(lower) > 4)
            ) and lower not in STOPWORDS:
                out.add(stem(lower))
    return out


def assess(
    content: str, todo: list[dict[str, Any]], done: list[dict[str, Any]]
) -> dict[str, Assessment]:
    """Evidence, target by target, that a todo target is complete, ignoring dependencies: the
    content's clauses that cover most of the target's weighted terms (its words, or its
    done_when) or name its id, and say it is done ("merged", "deployed", "[x]", or the past
    tense of the target's own verb) without a negation or a sign of work still going on
    ("not done yet", "still", "working on", "will"). The latest relevant statement wins."""
    units = _units(content)
    all_targets = [*todo, *done]
    documents = [[*a, *b] for a, b in (_target_terms(t) for t in all_targets)]
    n = len(documents)
    df = document_frequencies(documents)
    weights = {term: 1.0 + math.log(1 + n / count) for term, count in df.items()}
    out: dict[str, Assessment] = {}
    for target in todo:
        target_terms, when_terms = _target_terms(target)
        verbs = _verb_stems(target)
        all_terms = set(target_terms) | set(when_terms)
        scored: list[tuple[float, Unit, str | None]] = []
        for unit in units:
            present = {t for t in all_terms if t in unit.stems}
            relevance = (
                max(
                    _coverage(target_terms, present, weights),
                    _coverage(when_terms, present, weights),
                    _coverage([*target_terms, *when_terms], present, weights),
                )
                if present
                else 0.0
            )
            mentioned = any(
                key(m.group(1)) == key(target["id"]) for m in _ID_MENTION.finditer(unit.text)
            )
            if mentioned:
                relevance = max(relevance, 1.0)
            if relevance >= 0.5:
                scored.append((relevance, unit, _signal(unit, verbs)))
        out[key(target["id"])] = _decide(scored)
    return out


def _quote(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _decide(scored: list[tuple[float, Unit, str | None]]) -> Assessment:
    with_signal = [s for s in scored if s[2] is not None]
    if with_signal:
        top = max(s[0] for s in with_signal)
        close = [s for s in with_signal if s[0] >= top * 0.75]
        relevance, unit, signal = max(close, key=lambda s: (s[1].position, s[0]))
        confidence = round(min(0.95, 0.55 + 0.4 * min(relevance, 1.0)), 2)
        quote = _quote(unit.sentence)
        if signal == "complete":
            return Assessment("done", f'Completed: "{quote}"', confidence, quote, complete=True)
        return Assessment("in_progress", f'Not complete yet: "{quote}"', confidence, quote)
    if scored:
        relevance, unit, _ = max(scored, key=lambda s: (s[0], -s[1].position))
        quote = _quote(unit.sentence)
        return Assessment(
            "todo", f'Mentioned, but nothing says it is complete: "{quote}"', 0.6, quote
        )
    return Assessment("todo", "No evidence of completion in the content.", 0.7)


def resolve(
    todo: list[dict[str, Any]],
    done: list[dict[str, Any]],
    evidence: dict[str, Assessment],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    """Apply the evidence in dependency order: a target moves to done only when everything it
    depends on is done (before or earlier in this pass); targets on a dependency cycle, or
    depending on an unknown target, stay todo with the reason. Done targets stay done.
    Returns (todo, done, ids newly done)."""
    check_unique([*todo, *done])
    by_key = {key(t["id"]): t for t in [*todo, *done]}
    names = {k: str(t.get("target", "")) for k, t in by_key.items()}
    done_keys = {key(t["id"]) for t in done}
    loops = cycles(todo)
    decided: dict[str, dict[str, Any]] = {}
    newly: list[Any] = []
    for target in topological(todo):
        k = key(target["id"])
        found = evidence.get(k) or Assessment("todo", "No evidence of completion.", 0.7)
        status, reason, confidence = found.status, found.reason, found.confidence
        if k in loops:
            path = " -> ".join(loops[k])
            status, confidence = "blocked", 1.0
            reason = f"Circular dependency ({path}); it cannot be completed as defined."
        else:
            unknown = [d for d in deps(target) if d not in by_key]
            pending = [d for d in deps(target) if d in by_key and d not in done_keys]
            if unknown:
                status = "blocked"
                reason = f"Depends on unknown target(s) {', '.join(unknown)}. " + reason
            elif pending and found.complete:
                status = "blocked"
                listed = ", ".join(f'{d} ("{names[d]}")' for d in pending)
                reason = f"{reason} But it depends on {listed}, not done yet."
            elif pending and status == "todo":
                listed = ", ".join(f'{d} ("{names[d]}")' for d in pending)
                reason = f"{reason} Waiting for {listed}."
            elif found.complete:
                done_keys.add(k)
                newly.append(target["id"])
        decided[k] = {
            **target,
            "status": "done" if k in done_keys else status,
            "reason": reason,
            "confidence": confidence,
            "evidence": found.evidence,
        }
    new_todo = [decided[key(t["id"])] for t in todo if key(t["id"]) not in done_keys]
    old_done = [
        {
            **t,
            "status": "done",
            "reason": t.get("reason") or "Already done.",
            "confidence": 1.0,
            "evidence": t.get("evidence"),
        }
        for t in done
    ]
    new_done = [decided[key(t["id"])] for t in topological(todo) if key(t["id"]) in done_keys]
    return new_todo, [*old_done, *new_done], newly
