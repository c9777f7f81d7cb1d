"""The local planner of target_generator: a description (a list, steps in prose, or a
one-sentence mission) becomes targets with a verifiable done_when and their dependencies.

Over 500 lines (about 730) because a fifth of it is decompose(), which writes out the usual
stages of each kind of work (create, hire, move, event, improve) with their conditions as
data, and the planner's steps (split, read order, imperative, done_when, plan) call each
other in both directions with decompose(); a further cut would be an import cycle."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from services.engines.local_language import (
    ACTION_VERBS,
    PARTICIPLES,
    content_stems,
    participle,
    stems_match,
)
from services.engines.local_targets import GENERIC_TARGET_WORDS, key
from services.engines.nlp import (
    IRREGULAR,
    STOPWORDS,
    sentences,
)

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
