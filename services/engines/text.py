"""Text utilities shared by the local engines: words, sentences, stopwords, term weights."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
SENTENCE_END = re.compile(r"[.!?。！？…]+(?=\s|$)|[。！？]+")
# A break after end punctuation when the next sentence does not start lower-case, after CJK
# end punctuation, or at a blank line.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+(?=[^a-z\s])|(?<=[。！？])|\n\s*\n")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|e\.g|i\.e|Inc|Ltd|Co|No|Fig|approx|z\.B|bzw)|\b[A-Z])\.$"
)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    der die das und ist nicht ein eine zu den mit von sich des auf für im dem le la les et est un
    une de du des en que qui dans pour pas sur el los las y es por con para una""".split()  # noqa: SIM905
)


def words(text: str) -> list[str]:
    """The words of `text`, in order, as written."""
    return WORD.findall(text)


def terms(text: str) -> list[str]:
    """Lower-cased content words (no stopwords, no one-letter words) for matching and ranking."""
    return [w for w in (t.lower() for t in WORD.findall(text)) if w not in STOPWORDS and len(w) > 1]


def sentences(text: str) -> list[str]:
    """Sentences of `text`, trimmed, empty ones dropped; Latin and CJK punctuation, and a break
    after a common abbreviation or an initial ("Dr.", "e.g.", "J.") is not an end."""
    out: list[str] = []
    for piece in _SENTENCE_SPLIT.split(text):
        piece = piece.strip() if piece else ""
        if not piece:
            continue
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def term_frequencies(items: Iterable[str]) -> Counter[str]:
    return Counter(items)


def idf(documents: list[list[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency over tokenised documents."""
    n = len(documents)
    df: Counter[str] = Counter()
    for doc in documents:
        df.update(set(doc))
    return {term: math.log(1 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()}


_DOUBLE_CONSONANT = re.compile(r"([b-df-hj-km-np-rtv-xz])\1$")


def stem(word: str) -> str:
    """A light English stemmer for matching, not display: "charged", "charges" and "charging"
    all become "charg", "shipping" becomes "ship", "deliveries" becomes "deliveri"."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3:
        return w
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "i"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if _DOUBLE_CONSONANT.search(w) and not w.endswith(("ll", "ss", "zz")):
                w = w[:-1]
            break
    if w.endswith("y") and len(w) > 3:
        w = w[:-1] + "i"
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return w


def stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order (see terms())."""
    return [stem(t) for t in terms(text)]
