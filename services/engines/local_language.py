"""Small English language helpers for the local engines: stems, tokens with positions, negation
scope, number words and verb forms. Deterministic, no downloads."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.engines.nlp import STOPWORDS, stem

# Words and the punctuation that bounds a clause, in order.
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[.,;:!?()\[\]]|—|–")
_CLAUSE_BREAK = frozenset(".;:!?()[]—–")


NEGATORS = frozenset(
    """no not never without none neither nor cannot denies denied deny lacks lacking
    don't doesn't didn't isn't wasn't aren't weren't haven't hasn't hadn't won't can't
    couldn't shouldn't wouldn't mustn't needn't ain't dont doesnt didnt isnt wasnt arent
    werent havent hasnt hadnt wont cant couldnt shouldnt""".split()  # noqa: SIM905
)
# Words a negation carries over ("no fever, cough or nausea"); anything else after a few
# words, "and"/"but" or clause punctuation ends its scope.
_SCOPE_BREAKERS = frozenset(
    {"and", "but", "however", "although", "though", "yet", "whereas", "rather", "instead"}
)
NEGATION_WINDOW = 6

NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
    "couple": 2,
    "single": 1,
    "once": 1,
    "twice": 2,
}


@dataclass(frozen=True)
class Token:
    text: str
    lower: str
    stem: str
    start: int
    end: int

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()


def normalise_apostrophes(text: str) -> str:
    return text.replace("’", "'")


def stems_match(a: str, b: str) -> bool:
    """Equal stems, or one a prefix of the other (at least 4 letters, at most 4 more)."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 4


class StemBag:
    """The stems of a text, answering "does any stem match this one?" (stems_match) with a few
    set lookups instead of a scan."""

    def __init__(self, stems: set[str]) -> None:
        self.stems = stems
        self.prefixes = {
            s[:k] for s in stems for k in range(max(4, len(s) - 4), len(s)) if len(s) > 4
        }

    def __contains__(self, term: str) -> bool:
        if term in self.stems:
            return True
        if len(term) < 4:
            return False
        if term in self.prefixes:
            return True  # the term is a prefix of a longer stem
        return any(term[:k] in self.stems for k in range(max(4, len(term) - 4), len(term)))


def tokenize(text: str) -> list[Token]:
    """Words and clause punctuation with character offsets."""
    out = []
    for match in _TOKEN.finditer(text):
        raw = match.group(0)
        lower = normalise_apostrophes(raw.lower())
        out.append(Token(raw, lower, stem(lower) if raw[0].isalnum() else raw, *match.span()))
    return out


def content_stems(text: str) -> list[str]:
    """Stems of the content words of `text` (no stopwords, no one-letter words), in order."""
    return [
        t.stem
        for t in tokenize(text)
        if t.is_word and t.lower not in STOPWORDS and len(t.lower) > 1
    ]


def negated_positions(tokens: list[Token]) -> set[int]:
    """Indexes of the tokens inside a negation's scope: up to NEGATION_WINDOW words after "no",
    "not", "never", "without", "n't"…, carried over commas and "or", ended by "and", "but" or
    clause punctuation ("no fever, cough or nausea" negates all three; "no fever and a cough"
    only the fever)."""
    negated: set[int] = set()
    for i, token in enumerate(tokens):
        if token.lower not in NEGATORS and not token.lower.endswith("n't"):
            continue
        words = 0
        for j in range(i + 1, len(tokens)):
            nxt = tokens[j]
            if nxt.text in _CLAUSE_BREAK or nxt.lower in _SCOPE_BREAKERS:
                break
            if nxt.is_word:
                words += 1
                if words > NEGATION_WINDOW:
                    break
                negated.add(j)
    return negated


def number_from_word(word: str) -> float | None:
    """1 for "one", 12 for "dozen"…; None for other words."""
    w = word.lower()
    if w in NUMBER_WORDS:
        return float(NUMBER_WORDS[w])
    if "-" in w:
        parts = w.split("-")
        if len(parts) == 2 and parts[0] in NUMBER_WORDS and parts[1] in NUMBER_WORDS:
            return float(NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]])
    return None


# Common project and everyday verbs: base -> past participle (regular ones are derived).
PARTICIPLES = {
    "write": "written",
    "build": "built",
    "send": "sent",
    "make": "made",
    "do": "done",
    "set": "set",
    "put": "put",
    "run": "run",
    "hold": "held",
    "buy": "bought",
    "pay": "paid",
    "find": "found",
    "choose": "chosen",
    "draw": "drawn",
    "give": "given",
    "take": "taken",
    "show": "shown",
    "speak": "spoken",
    "sell": "sold",
    "tell": "told",
    "win": "won",
    "meet": "met",
    "keep": "kept",
    "lead": "led",
    "read": "read",
    "bring": "brought",
    "teach": "taught",
    "begin": "begun",
    "drive": "driven",
    "get": "obtained",
    "see": "seen",
    "rewrite": "rewritten",
    "rebuild": "rebuilt",
    "spend": "spent",
    "hide": "hidden",
    "break": "broken",
    "go": "done",
    "lay": "laid",
    "undergo": "undergone",
    "grow": "grown",
    "throw": "thrown",
    "fly": "flown",
    "hang": "hung",
}
# Verbs recognised at the start of an action item (the regular ones need no participle entry).
ACTION_VERBS = frozenset(
    """acquire add adopt analyse analyze announce apply approve archive arrange assess assign
    attract audit automate backup benchmark book brief budget build calculate call cancel
    choose clean close collect compare compile complete configure confirm connect
    consolidate contact convert coordinate create debug decide decorate define delete
    deliver deploy design determine develop digitise digitize discuss distribute document
    double draft draw drive edit email enable engage ensure establish estimate evaluate
    execute expand explore export extend film finalise finalize find fix gather generate get
    give grow hire host identify implement import improve increase inspect install integrate
    interview introduce investigate invite label launch lead lease list load locate log
    maintain make manage map measure meet merge migrate monitor move negotiate notify obtain
    onboard open optimise optimize order organise organize outline pack paint patch pay
    perform pick plan post prepare present price print prioritise prioritize produce profile
    promote proofread prototype provide publish purchase raise reach record recruit redesign
    reduce refactor register release remove rename renovate rent repair replace report
    request research reserve resolve restart restructure retain retire revert review revise
    rewrite rollback run schedule screen secure select sell send set ship sign simplify
    source specify standardise standardize start submit summarise summarize survey take
    teach test track train transform translate update upgrade upload validate verify visit
    win write""".split()  # noqa: SIM905
)


def participle(verb: str) -> str:
    """The past participle of an English verb: "deploy" -> "deployed", "write" -> "written"."""
    v = verb.lower()
    if v in PARTICIPLES:
        return PARTICIPLES[v]
    if v.endswith("e"):
        return v + "d"
    if v.endswith("y") and len(v) > 2 and v[-2] not in "aeiou":
        return v[:-1] + "ied"
    if (
        len(v) >= 3
        and v[-1] not in "aeiouwxy"
        and v[-2] in "aeiou"
        and v[-3] not in "aeiou"
        and v in {"plan", "ship", "stop", "drop", "map", "scan", "tag", "log", "chat", "prep"}
    ):
        return v + v[-1] + "ed"
    return v + "ed"
