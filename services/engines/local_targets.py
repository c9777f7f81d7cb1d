"""Targets (id, target, done_when, depends_on) for target_analyzer and target_generator: their
JSON Schema, dependency graph checks, the local completion-evidence engine and the local
planner that turns a description into targets."""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from services.engines.local_language import (
    ACTION_VERBS,
    NEGATORS,
    PARTICIPLES,
    StemBag,
    Token,
    content_stems,
    negated_positions,
    participle,
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
from services.registry import ServiceFailure

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


# --- planning -------------------------------------------------------------------------------

_LEAD_INS = re.compile(
    r"^(?:(?:and|also|then|next|afterwards|after that|first(?:ly)?|second(?:ly)?|third(?:ly)?|"
    r"finally|lastly|last|eventually|subsequently|in the end|to start(?: with)?|to begin with|"
    r"once (?:that|this) is done|when (?:that|this) is done|meanwhile|additionally|"
    r"furthermore|plus|so|now|please)\b[,:]?\s*)+",
    re.IGNORECASE,
)
_MODAL = re.compile(
    r"^(?:(?:we|i|you|they|the team|our team|someone|he|she)\s+)?(?:will|shall|must|should|"
    r"need to|needs to|have to|has to|want to|wants to|would like to|'d like to|plan to|"
    r"plans to|are going to|is going to|am going to|'ll|can|could|intend to|aim to|hope to|"
    r"are to|is to)\s+",
    re.IGNORECASE,
)
_POLITE = re.compile(
    r"^(?:let's|let us|make sure (?:to|that we)?|be sure to|remember to|don't forget to|"
    r"it is (?:necessary|important) to|the goal is to|our goal is to|the aim is to|"
    r"the mission is to|our mission is to|we aim to|try to)\s+",
    re.IGNORECASE,
)
_PASSIVE = re.compile(
    r"^(?P<object>.+?)\s+(?:must|should|needs to|has to|have to|will|shall|is to|are to)\s+be\s+"
    r"(?P<verb>[a-z]+)(?P<rest>\b.*)$",
    re.IGNORECASE,
)
_BULLET_LINE = re.compile(r"^\s*(?:[-*•+]|(?P<num>\d+)[.)]|[a-z][.)]|\[[ xX]\])\s+(?P<item>.+)$")
_ORDER_WORDS = re.compile(
    r"^(?:then|next|after(?:wards| that| this)?|once|when|finally|lastly|subsequently|"
    r"eventually|in the end|following that|thereafter)\b",
    re.IGNORECASE,
)
_AFTER_CLAUSE = re.compile(
    r"^(?:after|once|when)\s+(?P<cond>[^,]+?)(?:\s+(?:is|are|has been|have been)\s+\w+)?,\s*"
    r"(?P<rest>.+)$",
    re.IGNORECASE,
)
_FINAL_WORDS = re.compile(r"^(?:finally|lastly|in the end|eventually)\b", re.IGNORECASE)
_SPLIT_ITEMS = re.compile(
    r"\s*;\s*|\s*,?\s+and then\s+|\s*,?\s+then\s+|\s*,\s+after that\s*,?\s*|\s*,\s+and finally\s+"
    r"|\s*,\s+finally\s+",
    re.IGNORECASE,
)
_OBJECT_STARTERS = frozenset(
    """the a an all our their your my its it them this these those new every each some any
    both""".split()  # noqa: SIM905
)
_PREPOSITIONS = frozenset(
    """to on in for with by at into from within across via before after until under over
    through using so that""".split()  # noqa: SIM905
)


@dataclass
class Item:
    text: str
    after_previous: bool = False  # an order word ties it to the item before it
    final: bool = False  # "finally": after everything before it
    condition: str | None = None  # "once the API is deployed, …": what it waits for
    numbered: bool = False
    section: int = 0
    parallel: bool = False  # split off "X and Y": depends on what X depends on
    goal: bool = False  # the opening statement of the whole description
    opening: bool = False  # starts with "First", "To start"
    bullet: bool = False


@dataclass
class Planned:
    target: str
    done_when: str
    item: Item
    depends_on: list[int] = field(default_factory=list)  # indexes of earlier entries


def split_description(content: str) -> list[Item]:
    """Action items of a description: list lines, then sentences, then "; ", "and then",
    "then" inside a sentence. Order words and "once …, …" clauses are kept as dependencies."""
    items: list[Item] = []
    section = 0
    for block in re.split(r"\n\s*\n", content):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        section += 1
        for line in lines:
            bullet = _BULLET_LINE.match(line)
            pieces: list[tuple[str, bool]]
            if bullet:
                pieces = [(bullet.group("item"), bullet.group("num") is not None)]
            else:
                pieces = [(s, False) for s in sentences(line)]
            for piece, numbered in pieces:
                if piece.rstrip().endswith(":") and not bullet:
                    continue  # a heading such as "Plan:" or "Steps:"
                for index, part in enumerate(_SPLIT_ITEMS.split(piece)):
                    part = part.strip(" .;:")
                    if len(part.split()) < 2 and part.lower() not in ACTION_VERBS:
                        continue
                    item = Item(part, numbered=numbered, section=section, bullet=bool(bullet))
                    if index > 0:
                        item.after_previous = True
                    _read_order(item)
                    first, *others = _split_conjoined(item.text)
                    item.text = first
                    items.append(item)
                    for other in others:
                        items.append(
                            Item(
                                other,
                                numbered=numbered,
                                section=section,
                                parallel=True,
                                bullet=bool(bullet),
                            )
                        )
    _resolve_pronouns(items)
    return items


_VERB_ALTERNATIVES = "|".join(sorted(ACTION_VERBS))
_CONJOINED = re.compile(
    rf"(?:,\s+(?:and\s+)?|\s+and\s+)(?:also\s+|then\s+)?(?=(?:{_VERB_ALTERNATIVES})\s)",
    re.IGNORECASE,
)


def _split_conjoined(text: str) -> list[str]:
    """ "Design the mockups and build the frontend", "redesign the onboarding, add offline
    mode, …": one item per verb. Parts shorter than two words stay joined."""
    parts = _CONJOINED.split(text)
    if len(parts) < 2 or any(len(p.split()) < 2 for p in parts):
        return [text]
    return parts


def _object_of(text: str) -> str | None:
    """ "the portal" for "Deploy the portal to production"."""
    _, verb, phrase = imperative(text)
    words = phrase.split()
    cut = next(
        (
            i
            for i, w in enumerate(words)
            if i > 0
            and (
                w.lower() in _PREPOSITIONS
                or (
                    verb in {"get", "have"} and (w.lower().endswith("ed") or w.lower() in IRREGULAR)
                )
            )
        ),
        len(words),
    )
    return " ".join(words[:cut]) if verb and cut else None


def _resolve_pronouns(items: list[Item]) -> None:
    """ "… and announce it" -> "Announce the portal" when the item before deploys the portal."""
    for previous, item in itertools.pairwise(items):
        target, verb, phrase = imperative(item.text)
        match = re.match(r"^(it|them|this|these)\b(.*)$", phrase, re.IGNORECASE)
        if not verb or not match:
            continue
        obj = _object_of(previous.text)
        if obj:
            head = target[: len(target) - len(phrase)].rstrip()
            item.text = f"{head} {obj}{match.group(2)}"
            # it works on what the item before produces: "write the text and get it approved"
            item.parallel, item.after_previous = False, True


def _read_order(item: Item) -> None:
    text = item.text
    item.opening = bool(re.match(r"^(?:first(?:ly)?|to (?:start|begin)(?: with)?)\b", text, re.I))
    if _FINAL_WORDS.match(text):
        item.final = True
    if _ORDER_WORDS.match(text):
        item.after_previous = True
    clause = _AFTER_CLAUSE.match(text)
    if clause:
        item.condition = clause.group("cond")
        item.text = clause.group("rest")
        item.after_previous = True


def imperative(text: str) -> tuple[str, str | None, str]:
    """("Deploy the backend to production", "deploy", "the backend to production") from
    "Then we need to deploy the backend to production" or "The backend should be deployed to
    production". The verb is None when the item does not start with one."""
    text = re.sub(r"^(?:[^\W_]+[ \t]+){0,2}[^\W_]+:\s+(?=\S)", "", text.strip())  # "Step 1: …"
    text = _LEAD_INS.sub("", text).strip()
    before = text
    text = _POLITE.sub("", text)
    text = _MODAL.sub("", text).strip()
    stripped = text != before
    passive = _PASSIVE.match(text)
    if passive:
        verb = _base_form(passive.group("verb"))
        if verb:
            obj = passive.group("object").strip()
            obj = obj[0].lower() + obj[1:] if obj[:2] != obj[:2].upper() else obj
            rest = passive.group("rest").strip()
            phrase = f"{obj} {rest}".strip()
            return f"{verb.capitalize()} {phrase}".strip(), verb, phrase
    words = text.split()
    if not words:
        return text, None, ""
    first = words[0].lower()
    base = first if first in ACTION_VERBS else _base_form(first) if first.endswith("ing") else None
    if base is None and first.endswith("s") and first[:-1] in ACTION_VERBS:
        base = first[:-1]
    if (
        base is None
        and len(words) > 1
        and first.isalpha()
        and first not in STOPWORDS
        and (stripped or words[1].lower() in _OBJECT_STARTERS)
    ):
        base = first  # "we need to screen the CVs", "transform them with Spark"
    if base:
        if words[0].lower() == "set" and len(words) > 1 and words[1].lower() == "up":
            return f"Set up {' '.join(words[2:])}".strip(), "set up", " ".join(words[2:])
        rest = " ".join(words[1:])
        return f"{base.capitalize()} {rest}".strip(), base, rest
    return text[0].upper() + text[1:], None, text


def _base_form(word: str) -> str | None:
    w = word.lower()
    if w in IRREGULAR:
        return IRREGULAR[w]
    for base, part in PARTICIPLES.items():
        if part == w:
            return base
    candidates = []
    if w.endswith("ied"):
        candidates.append(w[:-3] + "y")
    if w.endswith("ed"):
        candidates += [w[:-1], w[:-2], w[:-3] if len(w) > 4 and w[-3] == w[-4] else ""]
    if w.endswith("ing"):
        candidates += [w[:-3], w[:-3] + "e", w[:-4] if len(w) > 5 and w[-4] == w[-5] else ""]
    for candidate in candidates:
        if candidate and candidate in ACTION_VERBS:
            return candidate
    return None


def done_when_for(target: str, verb: str | None, phrase: str) -> str:
    """A verifiable completion condition: "The backend is deployed to production." for
    "Deploy the backend to production", "The job description is approved by HR." for "Get the
    job description approved by HR", "Released to both app stores." for "Release to both app
    stores"."""
    if not verb:
        return f"{target} is complete and documented."
    words = phrase.split()
    verb_done = "set up" if verb == "set up" else participle(verb)
    if verb in {"get", "have"}:
        done_at = next(
            (
                i
                for i, w in enumerate(words)
                if i > 0 and (w.lower().endswith("ed") or w.lower() in IRREGULAR)
            ),
            None,
        )
        if done_at is not None:
            verb_done = words[done_at]
            words = words[:done_at] + words[done_at + 1 :]
    if words and words[0].lower() in _PREPOSITIONS:
        return f"{verb_done.capitalize()} {' '.join(words)}."
    cut = next((i for i, w in enumerate(words) if w.lower() in _PREPOSITIONS and i > 0), len(words))
    obj, rest = " ".join(words[:cut]), " ".join(words[cut:])
    if not obj:
        return f"{target} is complete and its result can be shown."
    head = re.sub(r"[^\w]", "", obj.split()[-1].lower())
    plural = (head.endswith("s") and not head.endswith(("ss", "us", "is", "ics"))) or bool(
        re.match(r"^(?:two|three|four|five|six|\d+|all|both|several|the\s+\w+s\b)", obj.lower())
    )
    sentence = f"{obj} {'are' if plural else 'is'} {verb_done}{(' ' + rest) if rest else ''}"
    return sentence[0].upper() + sentence[1:] + "."


def plan(
    content: str,
    *,
    mode: str,
    existing: list[dict[str, Any]],
    max_targets: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Targets for `content`: one per action item in `target` mode; in `milestone` mode the
    items are grouped into at most `max_targets` milestones (one per paragraph when there are
    several, else runs of consecutive items), chained in order. An opening statement of the
    overall goal ("Launch the portal. First …", "Mission: …") becomes the last target, after
    everything else. Items already covered by an existing target are not generated again (a
    later item may depend on that target). Ids continue after the highest numeric existing
    id; dependencies only point at existing or earlier ids. Returns (targets, notes)."""
    items = split_description(content)
    labelled = bool(items) and bool(_GOAL_LABEL.match(items[0].text))
    structured = (
        len(items) > 1
        and sum(1 for i in items[1:] if i.after_previous or i.final or i.parallel) >= 2
        and not items[1].after_previous
        and not items[1].parallel
        and _is_plain(items[0].text)
    )
    if (
        len(items) >= 2
        and not items[0].bullet
        and not items[0].after_previous
        and (labelled or (len(items) >= 3 and (items[1].opening or items[1].bullet or structured)))
    ):
        # "Launch the portal. First …, then …": the opening sentence is the overall goal,
        # reached after everything else.
        goal = items.pop(0)
        goal.goal = goal.final = True
        items.append(goal)
    notes: dict[str, Any] = {"items_found": len(items), "skipped_existing": []}
    covered: dict[int, Any] = {}  # item index -> id of the existing target that covers it
    existing_terms = [(t, set(_plain_terms(str(t.get("target", ""))))) for t in existing]
    for index, item in enumerate(items):
        terms = set(_plain_terms(imperative(item.text)[0]))
        for target, other in existing_terms:
            if terms and other and len(terms & other) / len(terms | other) >= 0.75:
                covered[index] = target["id"]
                notes["skipped_existing"].append(target["id"])
                break
    if mode == "milestone":
        planned = _milestones([i for n, i in enumerate(items) if n not in covered], max_targets)
        covered = {}
    elif len(items) == 1 and not covered and (steps := decompose(items[0])):
        # One sentence of mission: a plan of the steps that reach it, not the mission again.
        planned = steps
        notes["decomposed"] = True
    else:
        planned = _targets(items)
    next_id = next_free_id(existing)
    used = {key(t["id"]) for t in existing}
    ids: dict[int, Any] = dict(covered)  # planned index -> id (existing or new)
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(planned):
        if index in covered:
            continue
        if len(out) == max_targets:
            notes["truncated"] = len(planned) - len(covered) - max_targets
            break
        while key(next_id) in used:
            next_id += 1
        depends: list[Any] = [ids[ref] for ref in entry.depends_on if ref in ids and ref < index]
        if entry.item.condition:
            # "once the docs are written, …" waits for the target that writes the docs, not
            # simply for the item before it
            match = _best_match(entry.item.condition, [*existing, *out])
            if match is not None:
                depends = [match["id"]]
        out.append(
            {
                "id": next_id,
                "target": entry.target,
                "done_when": entry.done_when,
                "depends_on": list(dict.fromkeys(depends)),
            }
        )
        ids[index] = next_id
        used.add(key(next_id))
        next_id += 1
    return out, notes


_GOAL_LABEL = re.compile(
    r"^\s*(?:[^\W_]+\s+){0,2}(?:mission|goal|objective|vision|aim|purpose)\s*:", re.IGNORECASE
)


def _is_plain(text: str) -> bool:
    """A plain statement of intent ("Hire a frontend developer"), not "we need to …" or
    "… should be …"."""
    text = _LEAD_INS.sub("", text.strip())
    return not (_MODAL.match(text) or _POLITE.match(text) or _PASSIVE.match(text))


def next_free_id(existing: list[dict[str, Any]]) -> int:
    numbers = [int(key(t["id"])) for t in existing if re.fullmatch(r"-?\d+", key(t["id"]))]
    return max([0, *numbers]) + 1


def _plain_terms(text: str) -> list[str]:
    return [s for s in content_stems(text) if s not in GENERIC_TARGET_WORDS]


def _best_match(condition: str, targets: list[dict[str, Any]]) -> dict[str, Any] | None:
    terms = set(_plain_terms(condition))
    best: tuple[float, dict[str, Any] | None] = (0.0, None)
    for target in targets:
        other = set(_plain_terms(f"{target.get('target', '')} {target.get('done_when', '')}"))
        if not terms or not other:
            continue
        overlap = sum(1 for t in terms if any(stems_match(t, o) for o in other)) / len(terms)
        if overlap > best[0]:
            best = (overlap, target)
    return best[1] if best[0] >= 0.5 else None


# --- one-sentence missions -----------------------------------------------------------------

# What a mission's verb sets out to do, as a kind of plan: bring something new into being
# (launch, build, open…), hire, move (migrate), hold an event, or change a measure.
_MISSION_KINDS = {
    "create": """launch start create build set up setup open introduce establish develop
        design make produce publish release roll out found""",
    "hire": "hire recruit staff onboard",
    "migrate": "migrate move switch transfer port replace upgrade",
    "event": "organise organize host hold run plan arrange throw",
    "improve": """improve increase reduce cut lower raise grow boost speed fix double halve
        decrease""",
}
_KIND_OF_VERB = {verb: kind for kind, verbs in _MISSION_KINDS.items() for verb in verbs.split()}
_CADENCE = re.compile(
    r"\b(?P<cadence>daily|weekly|fortnightly|biweekly|monthly|quarterly|yearly|annual)\s+"
    r"(?P<what>[\w' -]+?)(?=\s+(?:about|on|for|with|to|from|in|covering)\b|[,.;]|$)"
    r"(?:\s+(?:about|on|covering)\s+(?P<topic>[^,.;]+))?",
    re.IGNORECASE,
)
_PERIOD_NOUN = {
    "daily": "day",
    "weekly": "week",
    "fortnightly": "fortnight",
    "biweekly": "fortnight",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
    "annual": "year",
}


def _split_mission(phrase: str) -> tuple[str, str]:
    """("a company blog", "weekly posts about our product") from "a company blog with weekly
    posts about our product": the thing, and what comes with it."""
    match = re.search(r"\s+(?:with|including|featuring|that has)\s+", phrase)
    if not match:
        return phrase.strip(), ""
    return phrase[: match.start()].strip(), phrase[match.end() :].strip()


def decompose(item: Item) -> list[Planned] | None:
    """The steps of a one-sentence mission ("Launch a company blog with weekly posts about our
    product"): for something new, define it, set it up, prepare its first content or parts,
    launch it and keep a stated cadence; for a hire, a move, an event or a change of a measure,
    the usual stages of that kind of work. Each step has a verifiable condition; dependencies
    follow the order of the work (a step waits for the ones it needs). None when the verb
    says nothing about the kind of work."""
    target, verb, phrase = imperative(item.text)
    if not verb or not phrase:
        return None
    kind = _KIND_OF_VERB.get(verb.split()[0].lower()) or _KIND_OF_VERB.get(verb.lower())
    if kind is None:
        return None
    thing, extra = _split_mission(phrase.rstrip("."))
    the = re.sub(r"^(?:a|an|the|our|your|some)\s+", "the ", thing, flags=re.IGNORECASE)
    if not the.lower().startswith("the "):
        the = f"the {the}"
    mission = target.rstrip(".")
    steps: list[tuple[str, str, list[int]]]
    if kind == "create":
        cadence = _CADENCE.search(extra) if extra else None
        steps = [
            (
                f"Define the purpose, audience and scope of {the}",
                f"A one-page brief for {the} (purpose, audience, scope, success measure) is "
                "approved.",
                [],
            ),
            (
                f"Set up {the}",
                f"{the[0].upper()}{the[1:]} is set up and reachable by the team, not yet public.",
                [0],
            ),
        ]
        if cadence:
            period = _PERIOD_NOUN[cadence.group("cadence").lower()]
            what = cadence.group("what").strip()
            topic = (cadence.group("topic") or "").strip()
            about = f" about {topic}" if topic else ""
            steps += [
                (
                    f"Plan the first eight {period}s of {what}{about}",
                    f"A calendar with a topic, an owner and a date for each of the next eight "
                    f"{period}s is shared.",
                    [0],
                ),
                (
                    f"Prepare the first three {what}",
                    f"Three {what} are written, reviewed and ready to publish.",
                    [1, 2],
                ),
                (
                    mission,
                    f"{the[0].upper()}{the[1:]} is public with its first {what.rstrip('s')} "
                    "published and announced.",
                    [3],
                ),
                (
                    f"Publish {what} every {period} for the first eight {period}s",
                    f"Eight {what} have been published, one each {period}, and their reach is "
                    "reviewed.",
                    [4],
                ),
            ]
        else:
            with_part = f" with {extra}" if extra else ""
            steps += [
                (
                    f"Prepare the first version of {the}{with_part}",
                    f"The first version of {the}{with_part} is complete and reviewed.",
                    [1],
                ),
                (
                    f"Test {the} with a few users",
                    "At least three people have used it and the problems they found are fixed.",
                    [2],
                ),
                (mission, f"{the[0].upper()}{the[1:]} is live and announced.", [3]),
            ]
    elif kind == "hire":
        steps = [
            (
                f"Write the job description for {the}",
                "The job description is approved by the hiring manager.",
                [],
            ),
            ("Publish the job opening", "The opening is published on at least two channels.", [0]),
            (
                "Interview the shortlisted candidates",
                "At least three shortlisted candidates have been interviewed and scored.",
                [1],
            ),
            ("Make an offer", "A candidate has accepted the offer in writing.", [2]),
            ("Onboard the new hire", "The new hire has finished the first onboarding week.", [3]),
        ]
    elif kind == "migrate":
        steps = [
            (
                "Inventory the systems, data and users the migration touches",
                "A list of every system, data set and user affected is reviewed.",
                [],
            ),
            (
                "Write the migration and rollback plan",
                "The plan, with a rollback path and a date, is approved.",
                [0],
            ),
            (
                "Rehearse the migration on a copy",
                "A trial run on a copy finished and its checks pass.",
                [1],
            ),
            (mission, "The migration is done and the checks pass in production.", [2]),
            (
                "Retire the old setup",
                "The old setup is switched off after a week without problems.",
                [3],
            ),
        ]
    elif kind == "event":
        steps = [
            (
                f"Fix the date, place and budget of {the}",
                "Date, venue and budget are confirmed in writing.",
                [],
            ),
            ("Send the invitations", "Invitations are sent and replies are tracked.", [0]),
            ("Prepare the agenda and materials", "The agenda and materials are final.", [0]),
            (mission, f"{the[0].upper()}{the[1:]} took place as planned.", [1, 2]),
            ("Follow up with the participants", "A summary and next steps are sent.", [3]),
        ]
    else:  # improve
        steps = [
            (
                f"Measure the current state of {the}",
                f"A baseline figure for {the} and how it is measured are written down.",
                [],
            ),
            (
                "Find the main causes",
                "The three largest causes are identified with evidence.",
                [0],
            ),
            ("Put the chosen changes in place", "The changes are live.", [1]),
            (
                "Measure the result",
                f"The new figure for {the} is measured the same way and compared with the "
                "baseline.",
                [2],
            ),
        ]
    return [
        Planned(text, condition, Item(text=text), depends_on=list(depends))
        for text, condition, depends in steps
    ]


def _targets(items: list[Item]) -> list[Planned]:
    out: list[Planned] = []
    numbered_run = sum(1 for i in items if i.numbered) >= 2
    for index, item in enumerate(items):
        target, verb, phrase = imperative(item.text)
        entry = Planned(target.rstrip("."), done_when_for(target.rstrip("."), verb, phrase), item)
        if index > 0:
            if item.final:
                depended = {d for p in out for d in p.depends_on if isinstance(d, int)}
                entry.depends_on = [i for i in range(index) if i not in depended]
            elif item.parallel:
                entry.depends_on = list(out[-1].depends_on)
            elif item.after_previous or (
                numbered_run and item.numbered and items[index - 1].numbered
            ):
                entry.depends_on = [index - 1]
        out.append(entry)
    return out


def _milestones(items: list[Item], max_targets: int) -> list[Planned]:
    if not items:
        return []
    goals = [i for i in items if i.goal]
    items = [i for i in items if not i.goal]
    if not items:
        items, goals = goals, []
    budget = max(1, max_targets - len(goals))
    sections = sorted({i.section for i in items})
    groups: list[list[Item]]
    if 1 < len(sections) <= budget:
        groups = [[i for i in items if i.section == s] for s in sections]
    else:
        size = max(1, math.ceil(len(items) / budget)) if len(items) > budget else 1
        if len(items) >= 6 and size == 1:
            size = 2 if len(items) <= 10 else 3
        groups = [items[i : i + size] for i in range(0, len(items), size)]
    groups += [[goal] for goal in goals]
    out: list[Planned] = []
    for index, group in enumerate(groups):
        parts = [imperative(i.text) for i in group]
        if len(parts) == 1:
            target = parts[0][0].rstrip(".")
            done_when = done_when_for(target, parts[0][1], parts[0][2])
        else:
            target = _join([p[0].rstrip(".") for p in parts])
            conditions = [done_when_for(p[0], p[1], p[2]).rstrip(".") for p in parts]
            done_when = "All of: " + "; ".join(conditions) + "."
        entry = Planned(target, done_when, group[0])
        if index > 0:
            entry.depends_on = [index - 1]
        out.append(entry)
    return out


def _join(parts: list[str]) -> str:
    lowered = [parts[0]] + [
        p[0].lower() + p[1:] if p[:2] != p[:2].upper() else p for p in parts[1:]
    ]
    if len(lowered) == 2:
        return f"{lowered[0]} and {lowered[1]}"
    return ", ".join(lowered[:-1]) + f" and {lowered[-1]}"


def plan_problems(targets: Any, existing: list[dict[str, Any]], max_targets: int) -> list[str]:
    """What is wrong with a model's list of new targets: shape, id clashes with existing or
    repeated ids, dependencies on unknown or later ids, cycles, too many targets."""
    if not isinstance(targets, list):
        return ['the answer must be {"targets": [...]}']
    problems: list[str] = []
    existing_keys = {key(t["id"]) for t in existing}
    seen: list[str] = []
    if len(targets) > max_targets:
        problems.append(f"at most {max_targets} targets are allowed, not {len(targets)}")
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            problems.append(f"targets[{index}] must be an object")
            continue
        tid = target.get("id")
        if not isinstance(tid, (int, str)) or isinstance(tid, bool) or not key(tid):
            problems.append(f"targets[{index}].id must be an integer or a string")
            continue
        for name in ("target", "done_when"):
            if not isinstance(target.get(name), str) or not target[name].strip():
                problems.append(f"targets[{index}].{name} must be a non-empty string")
        if key(tid) in existing_keys:
            problems.append(f"id {tid} is already used by an existing target")
        if key(tid) in seen:
            problems.append(f"id {tid} is used twice")
        depends = target.get("depends_on", [])
        if not isinstance(depends, list):
            problems.append(f"targets[{index}].depends_on must be a list of ids")
        else:
            for dep in depends:
                if key(dep) == key(tid):
                    problems.append(f"target {tid} depends on itself")
                elif key(dep) not in existing_keys and key(dep) not in seen:
                    problems.append(
                        f"target {tid} depends on {dep}, which is neither an existing target nor "
                        "an earlier new one"
                    )
        seen.append(key(tid))
    return problems
