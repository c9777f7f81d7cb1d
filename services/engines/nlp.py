"""The NLP base of every local engine: words, sentences, stopwords, the one stemmer, term
weights, language detection, fuzzy matching and HTML to text."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer
from bs4 import BeautifulSoup
from py3langid.langid import MODEL_FILE, LanguageIdentifier

WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
BARE_WORD = re.compile(r"[^\W_]+")
SENTENCE_END = re.compile(r"[.!?。！？…]+(?=\s|$)|[。！？]+")
# A break after end punctuation when the next sentence does not start lower-case, after CJK
# end punctuation, or at a blank line.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+(?=[^a-z\s])|(?<=[。！？])|\n\s*\n")
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|e\.g|i\.e|Inc|Ltd|Co|No|Fig|approx|z\.B|bzw)|\b[A-Z])\.$"
)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")

_SNOWBALL = snowballstemmer.stemmer("english")

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


def bare_words(text: str) -> list[str]:
    """Runs of letters and digits, in order: "state-of-the-art" is four words here (words()
    keeps it one)."""
    return BARE_WORD.findall(text)


def document_frequencies(documents: Iterable[Iterable[str]]) -> Counter[str]:
    """In how many of the tokenised `documents` each term occurs."""
    df: Counter[str] = Counter()
    for doc in documents:
        df.update(set(doc))
    return df


def idf(documents: list[list[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency over tokenised documents."""
    n = len(documents)
    return {
        term: math.log(1 + (n - count + 0.5) / (count + 0.5))
        for term, count in document_frequencies(documents).items()
    }


# Irregular forms the Snowball stemmer leaves apart ("went" / "go"), mapped to their base.
IRREGULAR = {
    "began": "begin", "begun": "begin", "bought": "buy", "broke": "break", "broken": "break",
    "brought": "bring", "built": "build", "caught": "catch", "chose": "choose",
    "chosen": "choose", "did": "do", "done": "do", "drawn": "draw", "drew": "draw",
    "driven": "drive", "drove": "drive", "fed": "feed", "fell": "fall", "felt": "feel",
    "flew": "fly", "flown": "fly", "forgot": "forget", "forgotten": "forget", "found": "find",
    "froze": "freeze", "frozen": "freeze", "gave": "give", "given": "give", "gone": "go",
    "got": "get", "gotten": "get", "grew": "grow", "grown": "grow", "held": "hold",
    "hidden": "hide", "hung": "hang", "kept": "keep", "knew": "know", "known": "know",
    "laid": "lay", "led": "lead", "left": "leave", "lent": "lend", "lost": "lose", "made": "make",
    "meant": "mean", "met": "meet", "outlined": "outline", "overseen": "oversee", "paid": "pay",
    "put": "put", "ran": "run", "read": "read", "rebuilt": "rebuild", "rewritten": "rewrite",
    "rewrote": "rewrite", "risen": "rise", "rose": "rise", "run": "run", "sat": "sit",
    "saw": "see", "seen": "see", "sent": "send", "set": "set", "shipped": "ship", "shown": "show",
    "sold": "sell", "spent": "spend", "spoke": "speak", "spoken": "speak", "stood": "stand",
    "struck": "strike", "sung": "sing", "taken": "take", "taught": "teach", "thought": "think",
    "thrown": "throw", "told": "tell", "took": "take", "understood": "understand",
    "undone": "undo", "went": "go", "won": "win", "wore": "wear", "written": "write",
    "wrote": "write",
}  # fmt: skip


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The one stemmer of every engine: Snowball English (Porter 2) on the lower-cased word,
    irregular verbs mapped to their base first; "charged", "charges" and "charging" all become
    "charg", "deliveries" becomes "deliveri". Words with digits or non-Latin letters are kept
    as they are (lower-cased)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = IRREGULAR.get(w, w)
    if len(w) <= 2 or not w.isascii() or not w.replace("'", "").replace("-", "").isalpha():
        return w
    return str(_SNOWBALL.stemWord(w))


def stems(text: str) -> list[str]:
    """Stems of the content words of `text`, in order (see terms())."""
    return [stem(t) for t in terms(text)]


# --- language detection ------------------------------------------------------------------

# Below this probability (among the languages asked about) a text is too short or too mixed to
# tell, and the caller's default stands: "ok", "Hola" alone, a number.
_LANGUAGE_CONFIDENCE = 0.5
_LANGUAGE_SAMPLE = 2000  # characters read: enough to tell, and the cost grows with the length


@lru_cache(maxsize=8)
def _language_identifier(among: tuple[str, ...]) -> LanguageIdentifier:
    """py3langid's model, read from its wheel (no download), limited to `among`; loaded once
    (about a second: the model is compressed)."""
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(among))
    return identifier


def detect_language(text: str, among: tuple[str, ...], default: str) -> str:
    """The ISO 639-1 code of the language `text` is written in, one of `among` (py3langid,
    character n-grams, so short texts such as "Vielen Dank!" or "Merci beaucoup" are read too);
    `default` when the text has no letters or no language is likely enough."""
    if not any(c.isalpha() for c in text):
        return default
    language, probability = _language_identifier(among).classify(text[:_LANGUAGE_SAMPLE])
    return str(language) if probability >= _LANGUAGE_CONFIDENCE else default


# --- HTML to text -------------------------------------------------------------------------

# Elements whose text is never content.
_DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "head",
    "button",
    "select",
)
_BLOCK_TAGS = (
    "address",
    "article",
    "aside",
    "blockquote",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tr",
    "ul",
)
# Private-use markers for paragraph and line breaks, so that collapsing HTML whitespace keeps them.
_PARA = "\ue000"
_LINE = "\ue001"
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000\ue001]")
_SPACES = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\n\s*\n")
SENTENCE_CLOSE = re.compile(r"[.!?。！？…:;][\"'”’)\]]*$")
_CELL_END = re.compile(r"[ |]*\|[ ]*(?=\n|$)")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def paragraphs(text: str) -> str:
    """Paragraphs separated by one blank line, spaces collapsed, control characters dropped."""
    text = CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for block in BLANK_LINES.split(text):
        lines = [_SPACES.sub(" ", line).strip() for line in block.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            out.append(joined)
    return "\n\n".join(out)


def html_to_text(
    html: str,
    *,
    drop: tuple[str, ...] = (),
    drop_classes: re.Pattern[str] | None = None,
    bullets: bool = False,
) -> tuple[str, str]:
    """(plain text, title) of an HTML document: the one HTML-to-text path of the engines.
    Uses the standard-library parser (no network, no entity expansion, no markup executed);
    scripts, styles, forms' controls and other non-content are dropped, and so are the `drop`
    tags and the elements whose class matches `drop_classes` (an email's quoted history).
    Block elements become paragraphs, <br> a line break, table cells are joined by " | " and
    list items start with "- " when `bullets`."""
    soup = BeautifulSoup(CONTROL_CHARS.sub("", html), "html.parser")
    title_tag = soup.find("title")
    title = _SPACES.sub(" ", title_tag.get_text(" ")).strip() if title_tag else ""
    if not title:
        heading = soup.find(["h1", "h2"])
        title = _SPACES.sub(" ", heading.get_text(" ")).strip() if heading else ""
    for tag in soup.find_all([*_DROPPED_TAGS, *drop]):
        tag.decompose()
    if drop_classes is not None:
        for tag in soup.find_all(class_=drop_classes):
            tag.decompose()
    if bullets:
        for tag in soup.find_all("li"):
            tag.insert(0, "- ")
    for tag in soup.find_all("br"):
        tag.replace_with(_LINE)
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" | ")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before(_PARA)
        tag.insert_after(_PARA)
    raw = re.sub(r"\s+", " ", soup.get_text())
    text = raw.replace(_LINE, "\n").replace(_PARA, "\n\n")
    text = _CELL_END.sub("", text)
    return paragraphs(text), title
