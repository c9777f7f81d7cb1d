"""Local knowledge engine: text of plain/markdown/HTML, passages, Okapi BM25, extractive answers."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from services.engines import embeddings
from services.engines.nlp import (
    BLANK_LINES,
    CJK,
    CONTROL_CHARS,
    SENTENCE_CLOSE,
    html_to_text,
    paragraphs,
    sentences,
    stem,
    terms,
    words,
)

CONTENT_TYPES = ("text", "markdown", "html")
CONTENT_TYPE_ALIASES = {
    "text/plain": "text",
    "plain": "text",
    "txt": "text",
    "text/markdown": "markdown",
    "md": "markdown",
    "text/html": "html",
}

# Passage size in words (a CJK run counts one word per ~6 characters, see _size).
PASSAGE_TARGET_WORDS = 150
PASSAGE_MAX_WORDS = 200
PASSAGE_OVERLAP_WORDS = 40

_markdown = MarkdownIt("commonmark", {"html": True}).enable("table")


def normalise_content_type(value: str) -> str:
    lowered = value.strip().lower()
    return CONTENT_TYPE_ALIASES.get(lowered, lowered)


# --- extraction --------------------------------------------------------------------------------


def markdown_to_text(source: str) -> tuple[str, str]:
    """(plain text, title) of a CommonMark document (tables too); raw HTML in it is cleaned as
    HTML is."""
    return html_to_text(_markdown.render(CONTROL_CHARS.sub("", source)))


def extract_text(content: str, content_type: str) -> tuple[str, str]:
    """(plain text, a title found in the content or "") for `content_type` text/markdown/html."""
    if content_type == "html":
        return html_to_text(content)
    if content_type == "markdown":
        return markdown_to_text(content)
    text = paragraphs(content)
    return text, ""


def fallback_title(text: str, limit: int = 80) -> str:
    """A title from the first line of the text, cut at a word boundary."""
    first = text.strip().split("\n", 1)[0] if text.strip() else ""
    return trim_text(first, limit) if first else "Untitled"


def trim_text(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis if cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


# --- passages ----------------------------------------------------------------------------------


def _size(text: str) -> int:
    """Length in words; text written without spaces (CJK) counts ~6 characters as a word."""
    return max(len(words(text)), len(text) // 6)


def _pieces(text: str, max_words: int) -> list[tuple[str, bool]]:
    """(sentence, whether it ends its paragraph) of `text`, in order; a sentence longer than a
    passage is cut into windows."""
    out: list[tuple[str, bool]] = []
    for paragraph in BLANK_LINES.split(text):
        parts: list[str] = []
        for sentence in sentences(paragraph):
            sentence = " ".join(sentence.split())
            if _size(sentence) <= max_words:
                parts.append(sentence)
                continue
            tokens = sentence.split(" ")
            if len(tokens) == 1:  # no spaces at all: cut by characters
                step = max_words * 6
                parts.extend(sentence[i : i + step] for i in range(0, len(sentence), step))
            else:
                parts.extend(
                    " ".join(tokens[i : i + max_words]) for i in range(0, len(tokens), max_words)
                )
        out.extend((part, i == len(parts) - 1) for i, part in enumerate(parts))
    return out


def _join(pieces: list[tuple[str, bool]]) -> str:
    """Sentences joined by a space, paragraphs (headings, list items…) by a blank line."""
    out = ""
    for i, (sentence, _) in enumerate(pieces):
        if i:
            out += "\n\n" if pieces[i - 1][1] else " "
        out += sentence
    return out


def chunk_text(
    text: str,
    *,
    target_words: int = PASSAGE_TARGET_WORDS,
    max_words: int = PASSAGE_MAX_WORDS,
    overlap_words: int = PASSAGE_OVERLAP_WORDS,
) -> list[str]:
    """Passages of whole sentences, about `target_words` long (never over `max_words` unless one
    sentence is), each starting with up to `overlap_words` of the previous passage's last
    sentences so an answer that straddles a boundary is found whole in one of them."""
    passages: list[str] = []
    current: list[tuple[str, bool]] = []
    sizes: list[int] = []
    fresh = 0  # sentences in `current` not carried over from the previous passage

    def flush() -> None:
        nonlocal current, sizes, fresh
        passages.append(_join(current))
        carry: list[tuple[str, bool]] = []
        carried: list[int] = []
        for piece, size in zip(reversed(current), reversed(sizes), strict=True):
            if sum(carried) + size > overlap_words or len(carry) + 1 >= len(current):
                break
            carry.insert(0, piece)
            carried.insert(0, size)
        current, sizes, fresh = carry, carried, 0

    for piece in _pieces(text, max_words):
        size = _size(piece[0])
        if fresh and sum(sizes) + size > max_words:
            flush()
        if not fresh and current and sum(sizes) + size > max_words:
            current, sizes = [], []  # the overlap would push this passage over the maximum
        current.append(piece)
        sizes.append(size)
        fresh += 1
        if sum(sizes) >= target_words:
            flush()
    if fresh:
        passages.append(_join(current))
    return passages


# --- ranking ---------------------------------------------------------------------------------


def _stem(term: str) -> str:
    return term if term.isdigit() else stem(term)


def index_terms(text: str) -> list[str]:
    """Terms for matching: content words, lower-cased, English-stemmed; runs of CJK characters
    become overlapping character pairs (those scripts are written without spaces)."""
    out: list[str] = []
    for term in terms(text):
        if CJK.search(term):
            out.extend(term[i : i + 2] for i in range(max(len(term) - 1, 1)))
        else:
            out.append(_stem(term))
    return out


@dataclass(frozen=True)
class Passage:
    """A retrievable passage and where it comes from (kb_id/doc_id None: the caller's own
    custom knowledge)."""

    text: str
    title: str
    kb_id: str | None = None
    doc_id: str | None = None
    position: int = 0

    @property
    def source_key(self) -> tuple[str | None, str | None, str]:
        return (self.kb_id, self.doc_id, self.title if self.doc_id is None else "")


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    rank: int
    slot: int  # the passage's position in the index


class Bm25:
    """Okapi BM25 (k1=1.5, b=0.75) over tokenised passages, scored through an inverted index
    (term → postings), so a query costs the postings of its terms, not a pass over every
    passage; idf as in Robertson–Spärck Jones with +1 inside the log so it never goes
    negative.

    Ours rather than `bm25s` (checked: 0.3.16 installs on Python 3.11 and runs offline; its
    "lucene" method ranks the same, its scores are ours divided by k1 + 1). On 20,000
    passages of 60 terms bm25s builds its index slower (2.8 s against 2.2 s, and the index is
    rebuilt whenever a knowledge base's documents change) and scores a query faster (0.02 ms
    against 0.23 ms), but search() then works on the scores in Python (word pairs, order,
    hits), so bm25s's numpy array has to become a list: 0.25 ms, no gain, for a numpy
    dependency and a slower rebuild."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75):
        self.k1 = k1
        self.b = b
        self.lengths = [len(doc) for doc in documents]
        self.count = len(documents)
        self.average_length = (sum(self.lengths) / self.count) if self.count else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                self.postings.setdefault(term, []).append((i, tf))
        self.document_frequency = {term: len(p) for term, p in self.postings.items()}
        avg = self.average_length or 1.0
        self._norms = [k1 * (1 - b + b * length / avg) for length in self.lengths]

    def idf(self, term: str) -> float:
        df = self.document_frequency.get(term, 0)
        return math.log(1 + (self.count - df + 0.5) / (df + 0.5))

    def matches(self, query: Iterable[str]) -> dict[int, float]:
        """The score of each passage holding a query term (the others score 0), by position;
        the cost is the postings of the query's terms, not the number of passages."""
        out: dict[int, float] = {}
        if not self.average_length:
            return out
        k1 = self.k1
        norms = self._norms
        for term in dict.fromkeys(query):
            postings = self.postings.get(term)
            if not postings:
                continue
            weight = self.idf(term) * (k1 + 1)
            for i, tf in postings:
                out[i] = out.get(i, 0.0) + weight * tf / (tf + norms[i])
        return out

    def scores(self, query: Iterable[str]) -> list[float]:
        """The score of every passage, in order."""
        out = [0.0] * self.count
        for i, score in self.matches(query).items():
            out[i] = score
        return out


_PAIR_CANDIDATES = 50
_PAIR_WEIGHT = 1.0
# The answer to a question usually sits in one sentence that holds most of the question's
# words: a candidate gains this share of the idf weight its best sentence matches.
_SENTENCE_WEIGHT = 0.5
# With sentence embeddings installed, the best lexical candidates also gain for their meaning:
# cosine(question, passage) times this share of the best lexical score. A question worded
# unlike its paragraph ("Who ruled…" against "…was the duke of…") is found this way; tuned
# on the SQuAD tuning split (bench/results/quality.md, third pass).
_DENSE_CANDIDATES = 10
_DENSE_WEIGHT = 1.0


class KnowledgeIndex:
    """BM25 over passages, the title's terms counted with each passage of its document."""

    def __init__(self, passages: Sequence[Passage]):
        self.passages = list(passages)
        title_terms: dict[str, list[str]] = {}
        documents = []
        for passage in self.passages:
            if passage.title not in title_terms:
                title_terms[passage.title] = index_terms(passage.title)
            documents.append(title_terms[passage.title] + index_terms(passage.text))
        self.terms = documents
        self.bm25 = Bm25(documents)
        self._pair_cache: dict[int, set[tuple[str, str]]] = {}
        self._sentence_cache: dict[int, list[set[str]]] = {}
        self._vector_cache: dict[int, Any] = {}
        self._vector_lock = threading.Lock()

    def _passage_vectors(self, slots: list[int]) -> Any:
        """The embeddings of the passages at `slots`, each computed once per index (an
        index lives as long as its knowledge bases are unchanged, see index_for)."""
        import numpy as np

        with self._vector_lock:
            missing = [i for i in slots if i not in self._vector_cache]
        if missing:
            vectors = embeddings.encode([self.passages[i].text for i in missing])
            with self._vector_lock:
                self._vector_cache.update(zip(missing, vectors, strict=True))
        with self._vector_lock:
            return np.stack([self._vector_cache[i] for i in slots])

    def sentence_vectors(self, slot: int) -> list[Any]:
        """The embedding of each sentence of the passage at `slot` (as `sentences()` splits
        it), computed once per index."""
        key = -1 - slot  # sentences share the cache with passages, under negative keys
        with self._vector_lock:
            cached = self._vector_cache.get(key)
        if cached is None:
            cached = list(embeddings.encode(sentences(self.passages[slot].text)))
            with self._vector_lock:
                self._vector_cache[key] = cached
        return cached

    def _sentence_terms(self, slot: int) -> list[set[str]]:
        """The terms of each sentence of the passage at `slot` (computed once, when needed)."""
        if slot not in self._sentence_cache:
            self._sentence_cache[slot] = [
                set(index_terms(s)) for s in sentences(self.passages[slot].text)
            ] or [set()]
        return self._sentence_cache[slot]

    def _pairs(self, slot: int) -> set[tuple[str, str]]:
        if slot not in self._pair_cache:
            t = self.terms[slot]
            self._pair_cache[slot] = set(itertools.pairwise(t))
        return self._pair_cache[slot]

    def search(self, query: str) -> list[Hit]:
        """Passages with a positive score, best first (ties: original order). The best BM25
        candidates gain for each pair of query terms they hold side by side ("space probe",
        "prime minister"), weighted by the pair's rarer term, and for the query terms their
        best sentence holds together (idf-weighted)."""
        query_terms = index_terms(query)
        scores = self.bm25.matches(query_terms)  # every score here is positive
        pairs = {(a, b) for a, b in itertools.pairwise(query_terms) if a != b}
        idf = {term: self.bm25.idf(term) for term in query_terms}
        for i in heapq.nsmallest(_PAIR_CANDIDATES, scores, key=lambda i: (-scores[i], i)):
            if pairs:
                held = self._pairs(i)
                scores[i] += _PAIR_WEIGHT * sum(
                    min(idf[a], idf[b]) for a, b in pairs if (a, b) in held
                )
            scores[i] += _SENTENCE_WEIGHT * max(
                sum(weight for t, weight in idf.items() if t in group)
                for group in self._sentence_terms(i)
            )
        if len(scores) > 1 and embeddings.available():
            self._add_meaning(query, scores)
        order = sorted(scores, key=lambda i: (-scores[i], i))
        return [Hit(self.passages[i], scores[i], rank, i) for rank, i in enumerate(order)]

    def _add_meaning(self, query: str, scores: dict[int, float]) -> None:
        """Raise the best lexical candidates by their embedding similarity to the query, in
        place. Only candidates gain (a cosine below 0 counts as 0), so every passage outside
        them still ranks below them, as it did."""
        candidates = heapq.nsmallest(_DENSE_CANDIDATES, scores, key=lambda i: (-scores[i], i))
        top = scores[candidates[0]]
        similarity = self._passage_vectors(candidates) @ embeddings.encode([query])[0]
        for i, cosine in zip(candidates, similarity.tolist(), strict=True):
            scores[i] += _DENSE_WEIGHT * top * max(cosine, 0.0)

    def coverage(self, query: str, hit: Hit) -> float:
        """Share of the query's idf weight whose terms occur in the hit's passage or title.
        A query term found nowhere weighs as much as the rarest possible term."""
        query_terms = list(dict.fromkeys(index_terms(query)))
        if not query_terms:
            return 0.0
        present = set(self.terms[hit.slot])
        weights = {term: self.bm25.idf(term) for term in query_terms}
        total = sum(weights.values())
        matched = sum(weight for term, weight in weights.items() if term in present)
        return matched / total if total else 0.0


_INDEXES: OrderedDict[bytes, KnowledgeIndex] = OrderedDict()
_INDEXES_KEPT = 8
_INDEXES_LOCK = threading.Lock()


def index_for(passages: Sequence[Passage]) -> KnowledgeIndex:
    """The BM25 index of `passages`, kept per process for the last few passage sets (one per
    combination of knowledge bases and custom knowledge) and rebuilt when any passage changes:
    the key is a digest of every passage's source, position, title and text, so adding,
    editing or deleting a document gives a new index while repeated questions to the same
    knowledge bases skip the tokenising."""
    digest = hashlib.blake2b(digest_size=20)
    for p in passages:
        digest.update(f"{p.kb_id}\x1f{p.doc_id}\x1f{p.position}\x1f{p.title}\x1f".encode())
        digest.update(p.text.encode())
        digest.update(b"\x1e")
    key = digest.digest()
    with _INDEXES_LOCK:
        index = _INDEXES.get(key)
        if index is not None:
            _INDEXES.move_to_end(key)
            return index
    index = KnowledgeIndex(passages)
    with _INDEXES_LOCK:
        _INDEXES[key] = index
        while len(_INDEXES) > _INDEXES_KEPT:
            _INDEXES.popitem(last=False)
    return index


def ranked_documents(hits: Sequence[Hit]) -> list[Hit]:
    """The best hit of each source document, best first."""
    seen: set[tuple[str | None, str | None, str]] = set()
    out = []
    for hit in hits:
        if hit.passage.source_key not in seen:
            seen.add(hit.passage.source_key)
            out.append(hit)
    return out


def confidence_of(index: KnowledgeIndex, query: str, hits: Sequence[Hit]) -> float:
    """0..1: how much of the query the best passage covers, discounted when another document
    scores nearly as well (a small margin means the answer may as well be elsewhere)."""
    if not hits:
        return 0.0
    best = hits[0]
    documents = ranked_documents(hits)
    runner_up = documents[1].score if len(documents) > 1 else 0.0
    margin = (best.score - runner_up) / best.score if best.score > 0 else 0.0
    value = index.coverage(query, best) * (0.6 + 0.4 * margin)
    return round(min(max(value, 0.0), 0.99), 3)


def select_passages(hits: Sequence[Hit], *, max_chars: int, limit: int = 3) -> list[Hit]:
    """The top passages worth answering from: within half the best score, at most `limit`,
    together at most `max_chars` characters (the first always fits, cut if it must)."""
    chosen: list[Hit] = []
    used = 0
    for hit in hits:
        if len(chosen) >= limit or hit.score < hits[0].score * 0.5:
            break
        size = len(hit.passage.text)
        if chosen and used + size > max_chars:
            break
        chosen.append(hit)
        used += size
    return chosen


# With sentence embeddings, a sentence's score is its share of the best lexical sentence score
# plus this weight times its cosine to the question (tuned on the SQuAD tuning split: 0.5 to 2
# gave the same figure within two questions of 469).
_SENTENCE_DENSE_WEIGHT = 1.0

# A sentence holding the kind of answer the question asks for (a year, a quantity, a name)
# weighs more; a sentence without it, less.
_ANSWER_BONUS = 1.3
_ANSWER_MISSING = 0.85
_YEAR_OR_DATE = re.compile(
    r"\b(?:1\d{3}|20\d{2})\b|\b(?:january|february|march|april|may|june|july|august|"
    r"september|october|november|december)\b|\b\d{1,2}(?:st|nd|rd|th) century\b|\bcentury\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|"
    r"dozen|half|quarter|percent)\b",
    re.IGNORECASE,
)
_NAME_IN_TEXT = re.compile(r"(?<=[a-z,;:] )[A-Z][\w'’.-]+(?: [A-Z][\w'’.-]+)*")


def _new_match(pattern: re.Pattern[str], sentence: str, query: str) -> bool:
    lowered = query.lower()
    return any(m.group(0).lower() not in lowered for m in pattern.finditer(sentence))


def answer_type(query: str) -> Callable[[str, str], bool] | None:
    """What kind of answer the question asks for, as a test of a sentence: a year or date
    ("when", "what year"), a quantity ("how many", "how much"), a name ("who") — each one
    the question does not already contain. None for other questions."""
    q = query.strip().lower()
    if re.search(r"\b(?:when|what (?:year|date|century|decade)|which (?:year|century))\b", q):
        return lambda sentence, query: _new_match(_YEAR_OR_DATE, sentence, query)
    if re.search(
        r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b|\bwhat (?:percent|number)", q
    ):
        return lambda sentence, query: _new_match(_QUANTITY, sentence, query)
    if re.match(r"(?:who|whom|whose)\b", q) or re.search(r"\bwho (?:was|is|were|did)\b", q):
        return lambda sentence, query: _new_match(_NAME_IN_TEXT, sentence, query)
    return None


def _add_sentence_meaning(
    index: KnowledgeIndex,
    query: str,
    passages: Sequence[Hit],
    scored: list[tuple[float, int, int, str]],
    top: float,
) -> list[tuple[float, int, int, str]]:
    """The sentence scores, each now its share of the best lexical score plus the sentence's
    embedding similarity to the query (weighted by its passage's score, as the lexical part
    is): the sentence that says what was asked in other words is preferred to one that only
    repeats the question's words."""
    query_vector = embeddings.encode([query])[0]
    best_score = passages[0].score
    similarity: dict[tuple[int, int], float] = {}
    for p_rank, hit in enumerate(passages):
        for s_rank, vector in enumerate(index.sentence_vectors(hit.slot)):
            share = hit.score / best_score
            similarity[p_rank, s_rank] = max(float(vector @ query_vector), 0.0) * share
    return [
        (weight / top + _SENTENCE_DENSE_WEIGHT * similarity.get((p, s), 0.0), p, s, sentence)
        for weight, p, s, sentence in scored
    ]


def extractive_answer(
    index: KnowledgeIndex, query: str, passages: Sequence[Hit], *, max_chars: int
) -> str:
    """The sentences of the chosen passages that best match the query (idf of the query terms
    they contain, weighted by their passage's score), best first, within `max_chars`."""
    if not passages:
        return ""
    query_terms = set(index_terms(query))
    wanted = answer_type(query)
    best_score = passages[0].score
    scored: list[tuple[float, int, int, str]] = []
    seen: set[str] = set()
    for p_rank, hit in enumerate(passages):
        for s_rank, sentence in enumerate(sentences(hit.passage.text)):
            key = " ".join(sentence.lower().split())
            if key in seen or key == " ".join(hit.passage.title.lower().split()):
                continue  # passages overlap: a sentence counts once; the title says nothing new
            seen.add(key)
            sentence_terms = set(index_terms(sentence))
            matched = query_terms & sentence_terms
            weight = sum(index.bm25.idf(term) for term in matched)
            if wanted is not None and matched:
                weight *= _ANSWER_BONUS if wanted(sentence, query) else _ANSWER_MISSING
            if not SENTENCE_CLOSE.search(sentence) and len(words(sentence)) <= 8:
                weight *= 0.5  # a heading or label, rarely an answer by itself
            scored.append((weight * hit.score / best_score, p_rank, s_rank, sentence))
    top = max((item[0] for item in scored), default=0.0)
    if top > 0 and embeddings.available():
        scored = _add_sentence_meaning(index, query, passages, scored, top)
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    top = scored[0][0] if scored else 0.0
    if top <= 0:  # matched on the title only: the passage's opening is the best guess
        return trim_text(passages[0].passage.text, max_chars)
    answer: list[str] = []
    length = 0
    for score, _, _, sentence in scored[:3]:
        if score < top * 0.3:
            break
        extra = len(sentence) + (1 if answer else 0)
        if answer and length + extra > max_chars:
            break
        answer.append(sentence)
        length += extra
    return trim_text(" ".join(answer), max_chars)
