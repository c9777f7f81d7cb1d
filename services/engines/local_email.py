"""Local email engine: clean a thread, read its mood, main points, asks and urgency. The reply
is composed in local_email_reply (per-tone templates in English, German, French, Spanish).

Over 500 lines because a thread is read in one pass of steps that share the Message model
and the cue lists (cleaning, people, language, sentiment, main points, action items and
urgency); each step is a section here, and splitting them further would leave modules that
all import each other."""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import getaddresses, parsedate_to_datetime
from functools import cache, lru_cache
from typing import Any

from services.engines import nlp
from services.engines.local_when import ISO_DATE, find_dates
from services.engines.nlp import document_frequencies, sentences, terms

# --- cleaning ---------------------------------------------------------------------------------

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?\s*>|<!--")
_QUOTE_HEADER = re.compile(
    r"^\s*(?:On\s.{4,200}\swrote:|Am\s.{4,200}\sschrieb.{0,80}:|Le\s.{4,200}\sa\s+écrit\s*:"
    r"|El\s.{4,200}\sescribió\s*:|-{2,}\s*(?:Original Message|Ursprüngliche Nachricht"
    r"|Message d'origine|Mensaje original)\s*-{2,}|_{10,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_OUTLOOK_HEADER = re.compile(r"^\s*(?:From|Von|De)\s*:.+\n\s*(?:Sent|Gesendet|Envoyé|Enviado)\s*:")
_SIGNATURE_DELIMITER = re.compile(r"^--\s*$", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s+")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000]+")


def looks_like_html(content: str) -> bool:
    return bool(_TAG.search(content))


def html_to_text(content: str) -> str:
    """Visible text of an HTML email body (nlp.html_to_text): scripts, styles and quoted
    history (blockquotes, Gmail / Thunderbird / Outlook quote blocks) dropped, list items as
    "- " lines."""
    return nlp.html_to_text(
        content, drop=("blockquote",), drop_classes=_QUOTE_CLASSES, bullets=True
    )[0]


_QUOTE_CLASSES = re.compile(r"gmail_quote|moz-cite-prefix|OutlookMessageHeader")


def clean_body(content: str) -> str:
    """The new text of one message: HTML turned into text, quoted history and the "-- "
    signature block cut, whitespace tidied. Blank lines between paragraphs are kept."""
    text = html_to_text(content) if looks_like_html(content) else content
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = len(text)
    for pattern in (_QUOTE_HEADER, _OUTLOOK_HEADER, _SIGNATURE_DELIMITER):
        match = pattern.search(text)
        if match and match.start() > 0:
            cut = min(cut, match.start())
    text = text[:cut]
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines = [line for line in lines if not line.startswith(">")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return out


def units(text: str) -> list[str]:
    """Sentences and list items of a cleaned body. A single line break is a hard wrap (joined)
    unless the line ends a sentence or the next one is a list item."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if not line:
            if current:
                blocks.append(" ".join(current))
                current = []
            continue
        if _BULLET.match(line) or (current and re.search(r"[.!?:;,。！？]$", current[-1])):
            if current:
                blocks.append(" ".join(current))
            current = [_BULLET.sub("", line)]
        else:
            current.append(line)
    if current:
        blocks.append(" ".join(current))
    out: list[str] = []
    for block in blocks:
        out.extend(s.strip() for s in sentences(block) if s.strip())
    return out


# --- people -----------------------------------------------------------------------------------

_BARE_ADDRESS = re.compile(r"[^\s<>@,;\"]+@[^\s<>@,;\"]+")
_ROLE_ACCOUNTS = frozenset(
    """info support noreply no-reply donotreply admin sales contact hello team office
        billing help service services mail webmaster accounts account hr jobs careers
        marketing news newsletter notifications notification press media orders order
        shop store feedback customer customerservice care enquiries inquiries reception
        postmaster security it""".split()  # noqa: SIM905
)
SIGNOFF = re.compile(
    r"^(?:(?:best|kind|warm|warmest|many|with kind|with best|all the best|yours|cheers|thanks"
    r"|thank you|many thanks|thanks again|regards|best regards|kind regards|warm regards|sincerely"
    r"|yours sincerely|yours faithfully|respectfully|take care|talk soon|speak soon|best wishes"
    r"|mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|herzliche grüße"
    r"|liebe grüße"
    r"|lg|vg|mfg|gruß|grüße|cordialement|bien cordialement|bien à vous|bien à toi|salutations"
    r"|à bientôt|merci|atentamente|saludos|saludos cordiales|un saludo|un abrazo|gracias"
    r"|un cordial saludo)(?:\s+(?:regards|wishes|thanks))?)[,.!]?$",
    re.IGNORECASE,
)
_NAME_LINE = re.compile(r"^[^\W\d_][\w'’.-]*(?: [^\W\d_][\w'’.-]*){0,3}$")


def _first_address(field_value: str) -> tuple[str, str]:
    """(display name, address) of the first of several addresses in a header field ("a@x.org,
    Bo <b@y.org>" → ("", "a@x.org")), parsed by email.utils.getaddresses; a value it cannot
    read is taken as the address itself."""
    for name, address in getaddresses([field_value]):
        if address or name:
            return name.strip(), address.strip()
    return "", field_value.strip()


def address_of(field_value: str) -> str:
    name, address = _first_address(field_value)
    if "@" not in address:
        match = _BARE_ADDRESS.search(field_value)
        address = match.group(0) if match else address or name
    return address.lower()


def _title_case(part: str) -> str:
    return part[:1].upper() + part[1:].lower()


def name_from_field(field_value: str) -> str | None:
    """A person's name from "Jane Doe <jane@x.org>" or from an address like jane.doe@x.org;
    None for role accounts (info@, support@...) and parts that are not names."""
    display, _ = _first_address(field_value)
    if display and "@" not in display:
        if "," in display:  # "Doe, Jane"
            last, _, first = display.partition(",")
            display = f"{first.strip()} {last.strip()}".strip()
        return display
    local = address_of(field_value).split("@")[0].split("+")[0]
    if local in _ROLE_ACCOUNTS:
        return None
    parts = [p for p in re.split(r"[._-]+", local) if p]
    if not parts or not all(p.isalpha() and len(p) >= 2 for p in parts) or len(parts) > 3:
        return None
    if any(p in _ROLE_ACCOUNTS for p in parts):
        return None
    return " ".join(_title_case(p) for p in parts)


def signoff_name(content_text: str) -> str | None:
    """The name signed under a closing ("Best regards,\\nMaria" or "Thanks, Tom")."""
    lines = [line.strip() for line in content_text.split("\n") if line.strip()]
    for index in range(len(lines) - 1, max(-1, len(lines) - 8), -1):
        line = lines[index]
        head, sep, tail = line.partition(",")
        if sep and SIGNOFF.match(head.strip()) and _NAME_LINE.match(tail.strip() or "-"):
            return tail.strip()
        if SIGNOFF.match(line) and index + 1 < len(lines):
            candidate = lines[index + 1]
            if _NAME_LINE.match(candidate) and len(candidate) <= 40:
                return candidate
    return None


def first_name(name: str) -> str:
    return name.split()[0]


# --- messages ---------------------------------------------------------------------------------


def parse_timestamp(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


@dataclass
class Message:
    sender: str
    recipient: str
    subject: str
    raw: str
    timestamp: str
    text: str = ""
    body: str = ""  # text without greeting and sign-off
    when: datetime | None = None
    units: list[str] = field(default_factory=list)


_GREETING_LINE = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings|hallo|liebe[rs]?"
    r"|sehr geehrte[rs]?|guten (?:tag|morgen|abend)|bonjour|bonsoir|salut|madame|monsieur"
    r"|hola|estimad[oa]s?|buenos días|buenas tardes)\b"
    r"(?:[^.!?]|(?<=Mr)\.|(?<=Mrs)\.|(?<=Ms)\.|(?<=Dr)\.|(?<=Prof)\.){0,60}[,!:]?$"
    r"|^(?:all|team|folks|everyone|[^\W\d_]+)[,!:]$",  # "Team," / "Maria,"
    re.IGNORECASE,
)


def _strip_greeting_and_signoff(text: str) -> str:
    lines = text.split("\n")
    nonempty = [i for i, line in enumerate(lines) if line.strip()]
    if nonempty and _GREETING_LINE.match(lines[nonempty[0]].strip()):
        lines[nonempty[0]] = ""
    for index in reversed(nonempty[-8:]):
        head = lines[index].strip().partition(",")[0]
        if SIGNOFF.match(lines[index].strip()) or (
            SIGNOFF.match(head) and "," in lines[index] and len(lines[index]) < 50
        ):
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


def prepare_thread(thread: list[dict[str, Any]]) -> list[Message]:
    """Messages oldest first (sorted by timestamp when every timestamp parses, else as given),
    each with its cleaned text, body and sentences."""
    messages = [
        Message(
            sender=m["sender"],
            recipient=m["recipient"],
            subject=m.get("subject", ""),
            raw=m.get("content", ""),
            timestamp=m.get("timestamp", ""),
        )
        for m in thread
    ]
    for message in messages:
        message.text = clean_body(message.raw)
        message.body = _strip_greeting_and_signoff(message.text)
        message.when = parse_timestamp(message.timestamp)
        message.units = units(message.body)
    stamps = [m.when for m in messages]
    if all(stamps):
        # Naive and aware timestamps mixed cannot be compared: keep the given order then.
        with contextlib.suppress(TypeError):
            messages.sort(key=lambda m: m.when)  # type: ignore[arg-type, return-value]
    return messages


def person_name(address_field: str, messages: list[Message]) -> str | None:
    """The name of whoever uses `address_field`: signed under their own messages, else from
    the display name or the address."""
    address = address_of(address_field)
    for message in reversed(messages):
        if address_of(message.sender) == address:
            signed = signoff_name(message.text)
            if signed:
                return signed
    for message in messages:
        for value in (message.sender, message.recipient):
            if address_of(value) == address and name_from_field(value):
                return name_from_field(value)
    return name_from_field(address_field)


# --- language ---------------------------------------------------------------------------------

TEMPLATE_LANGUAGES = ("en", "de", "fr", "es")  # the languages the reply templates write
LANGUAGE_NAMES = {
    "en": "en",
    "english": "en",
    "englisch": "en",
    "de": "de",
    "german": "de",
    "deutsch": "de",
    "fr": "fr",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "es": "es",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "castellano": "es",
}


def language_code(value: str | None) -> str | None:
    """ "de-DE", "German", "deutsch" → "de"; None when the local templates lack the language."""
    if not value:
        return None
    lowered = value.strip().lower()
    return LANGUAGE_NAMES.get(lowered) or LANGUAGE_NAMES.get(re.split(r"[-_]", lowered)[0])


def detect_language(text: str) -> str:
    """The template language `text` is written in (nlp.detect_language); English when unsure."""
    return nlp.detect_language(text, among=TEMPLATE_LANGUAGES, default="en")


# --- sentiment --------------------------------------------------------------------------------

# Words VADER (English, social-media tuned) lacks or mis-weights for work email and customer
# complaints, and a few common German, French and Spanish ones, so it is not blind to them.
_EXTRA_LEXICON = {
    **dict.fromkeys(
        """overdue outage outages downtime breach compromised crashes crashed regression bug
            bugs errors complaints escalation""".split(),  # noqa: SIM905
        -1.5,
    ),
    # Complaint language about a service: delays, cancellations, lost bags, waiting.
    **dict.fromkeys(
        """delayed delay delays delaying cancelled canceled cancellation cancellations
            stranded stuck lost misplaced missing damaged broken unhelpful unacceptable
            useless incompetent clueless terrible horrible awful worst nightmare disgrace
            ridiculous pathetic rude joke overbooked rebooked diverted tarmac waited
            complaint complain complaining ignored ignoring refund reimburse compensation
            unreachable unanswered disconnected timed screwed sucks fail failed fails strand
            bull""".split(),  # noqa: SIM905
        -1.8,
    ),
    **dict.fromkeys(
        """issue issues snag snags dropped invalid lack towed""".split(),  # noqa: SIM905
        -1.0,
    ),
    **dict.fromkeys(
        """sitting nothing supervisor tried trying told telling stuck""".split(),  # noqa: SIM905
        -0.7,
    ),
    **dict.fromkeys(
        """can't cannot won't never didn't couldn't wouldn't hasn't haven't isn't wasn't
            minutes mins min hr hour days another even""".split(),  # noqa: SIM905
        -0.4,
    ),
    "late": -1.2,
    "waiting": -0.8,
    "wait": -0.6,
    "hours": -0.4,
    "hrs": -0.4,
    "again": -0.3,
    "still": -0.4,
    "why": -0.6,
    "seriously": -1.2,
    "kidding": -1.0,
    # Names and requests, not moods.
    "united": 0.0,
    "help": 0.0,
    "please": 0.0,
    "urgent": 0.0,  # urgency, not mood (VADER has it at +0.8)
    **dict.fromkeys(
        """danke super toll großartig prima freue zufrieden ausgezeichnet perfekt
            hervorragend merci génial géniale parfait parfaite parfaitement excellent
            excellente excellentes ravi ravie content contente formidable remercie gracias
            genial perfecto perfecta excelente excelentes encantado encantada contento
            contenta estupendo""".split(),  # noqa: SIM905
        2.0,
    ),
    **dict.fromkeys(
        """leider enttäuscht unzufrieden ärgerlich inakzeptabel schlecht problem fehler
            beschwerde verärgert verspätung déçu déçue mécontent mécontente inacceptable
            mauvais problème erreur plainte retard malheureusement decepcionado decepcionada
            insatisfecho insatisfecha inaceptable malo problema error queja retraso
            desafortunadamente lamentablemente""".split(),  # noqa: SIM905
        -2.0,
    ),
}

# Phrases of complaint (one token each for VADER, with its weight) and sarcasm markers.
_COMPLAINT_PHRASES = [
    (re.compile(p, re.IGNORECASE), token, weight)
    for p, token, weight in (
        (r"\bon hold\b", "onhold", -2.0),
        (r"\bstill (?:waiting|sitting|no\b|not\b|haven'?t|hasn'?t|nothing)", "stillwaiting", -2.2),
        (
            r"\b(?:no|zero|without any|not (?:had|got|received) an?|never (?:got|received) an?) "
            r"(?:one|response|reply|answer|help|info\w*|communication|update|call ?back)",
            "noresponse",
            -2.0,
        ),
        (
            r"\b(?:never|won'?t|not) (?:fly(?:ing)?|book(?:ing)?|use|using)\b(?: \w+){0,3} again",
            "neveragain",
            -3.0,
        ),
        (r"\bcan'?t (?:get through|reach|find|get a hold|talk)", "cantreach", -2.0),
        (r"\b(?:can'?t|cannot|could ?n'?t) believe\b", "cantbelieve", -2.0),
        (
            r"\b(?:lost|missing|delayed|damaged) (?:my |our |the )?"
            r"(?:bags?|luggage|baggage|suitcases?)",
            "lostbag",
            -2.5,
        ),
        (r"\bcustomer service\b", "customerservice", -0.3),
        (
            r"\bthanks? (?:for|a lot for) "
            r"(?:nothing|wasting|ruining|the delay|losing|making)",
            "thanksfornothing",
            -3.0,
        ),
        (
            r"\b(?:great|just great|awesome|nice|love (?:it|how|that)|thanks a lot)\b[.!]* *"
            r"(?:just great|not\b|\(not\)|#sarcasm|/s\b)",
            "sarcasm",
            -3.0,
        ),
        (r"\(not\)|#sarcasm|\byeah right\b", "sarcasm", -3.0),
        (r"\?{2,}|\?!|!\?", "exasperated", -1.2),
        (r"\b\d+(?:\.\d+)?\s*(?:hours?|hrs?|mins?|minutes)\b", "longwait", -0.8),
    )
]
_MENTION_OR_LINK = re.compile(r"(?:^|(?<=\s))[@＠]\w+|https?://\S+|\bRT\b")
_HASHTAG = re.compile(r"#(\w+)")


def mood_text(unit: str) -> str:
    """The words of `unit` that carry mood: @handles and links dropped (a handle such as
    @united is a name, not praise), hashtags kept as words, and one weighted token put in
    front for each complaint phrase found ("on hold", "still waiting", "lost my bag", "thanks
    for nothing", "(not)"), in front so that no negation before it turns it around."""
    text = _MENTION_OR_LINK.sub(" ", unit)
    text = _HASHTAG.sub(lambda m: " " + _CAMEL_SPLIT.sub(" ", m.group(1)) + " ", text)
    text = " ".join(text.split())
    found = [token for pattern, token, _ in _COMPLAINT_PHRASES for _ in pattern.finditer(text)]
    return " ".join([*found, text])


_CAMEL_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])")


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(_EXTRA_LEXICON)
    analyzer.lexicon.update({token: weight for _, token, weight in _COMPLAINT_PHRASES})
    return analyzer


@lru_cache(maxsize=8192)
def unit_sentiment(unit: str) -> float:
    """VADER's compound score of one sentence, read through mood_text(); a question's
    friendly words ("could you please…?") count half: asking is not praising."""
    score = float(_vader().polarity_scores(mood_text(unit))["compound"])
    return score / 2 if score > 0 and unit.rstrip().endswith("?") else score


# Thresholds on the mean sentence score: wider than VADER's ±0.05 for one sentence, as an
# email averages many sentences and one mildly negative word should not make it negative.
POSITIVE_AT = 0.2
NEGATIVE_AT = -0.1
CLEARLY_NEGATIVE = -0.35


def message_sentiment(message: Message) -> float:
    """Compound score of the message's sentences (greeting and sign-off left out, so "Thanks,"
    and "Best regards" do not make every email positive): their mean, pulled halfway to the
    most negative sentence when there is one."""
    scored = [unit_sentiment(unit) for unit in message.units]
    if not scored:
        return 0.0
    mean, worst = sum(scored) / len(scored), min(scored)
    # One clearly negative sentence is a complaint even among neutral ones.
    return (mean + worst) / 2 if worst <= CLEARLY_NEGATIVE else mean


def is_negative(message: Message) -> bool:
    """A negative message on the whole, or one with a clearly negative sentence (a complaint
    wrapped in pleasantries)."""
    scored = [unit_sentiment(unit) for unit in message.units]
    return bool(scored) and (sum(scored) / len(scored) <= NEGATIVE_AT or min(scored) <= -0.5)


def thread_sentiment(messages: list[Message]) -> tuple[str, float]:
    """(label, score): recency-weighted mean of the messages' scores, so the latest mood
    counts most."""
    weights = [index + 1 for index in range(len(messages))]
    scores = [message_sentiment(m) for m in messages]
    total = sum(w * s for w, s in zip(weights, scores, strict=True)) / sum(weights)
    return label_for(total), round(total, 4)


def label_for(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


# --- main points ------------------------------------------------------------------------------

_PLEASANTRY = re.compile(
    r"^(?:i hope (?:you|this|all)|hope (?:you|this|all)|thanks?(?: you)?(?: so much| very much)?"
    r"(?: for| again|[.!,]|$)|many thanks|(?:please )?(?:do not|don't) hesitate"
    r"|(?:please )?let me know"
    r" if you (?:have|need) (?:any )?(?:other |further |more )?(?:questions?|anything)|please find"
    r" attached|looking forward|i look forward|have a (?:great|nice|good)|how are you|"
    r"ich hoffe|vielen dank|danke|merci|j'espère|gracias|espero que)",
    re.IGNORECASE,
)


def _is_pleasantry(unit: str) -> bool:
    return bool(_PLEASANTRY.match(unit)) and len(unit.split()) <= 14


def shorten(text: str, limit: int = 240) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def main_points(messages: list[Message], limit: int = 6) -> list[str]:
    """The central sentences of the thread, in thread order: tf-idf centrality over the
    thread's sentences, with a small bonus for figures, dates, questions and requests, and
    near-duplicates skipped."""
    candidates: list[tuple[int, str, list[str]]] = []
    for m_index, message in enumerate(messages):
        for unit in message.units:
            unit_terms = terms(unit)
            if len(unit.split()) < 3 or not unit_terms:
                continue
            if _is_pleasantry(unit) and len(unit.split()) < 8:
                continue  # "Hope you are well." / "Thanks for your email."
            candidates.append((m_index, unit, unit_terms))
    if not candidates:
        fallback = [u for m in messages for u in m.units if terms(u)]
        return [shorten(u) for u in fallback[:1]]
    frequency = Counter(term for _, _, unit_terms in candidates for term in unit_terms)
    n = len(candidates)
    document_frequency = document_frequencies(unit_terms for _, _, unit_terms in candidates)
    scored: list[tuple[float, int]] = []
    for position, (m_index, unit, unit_terms) in enumerate(candidates):
        unique = set(unit_terms)
        weight = sum(
            frequency[t] * math.log(1 + n / document_frequency[t]) for t in unique
        ) / math.sqrt(len(unit_terms))
        if re.search(r"\d", unit):
            weight *= 1.15
        if unit.endswith("?") or is_request(unit):
            weight *= 1.2
        if m_index == len(messages) - 1:
            weight *= 1.1
        if _is_pleasantry(unit):
            weight *= 0.5
        scored.append((weight, position))
    scored.sort(key=lambda item: (-item[0], item[1]))
    k = min(limit, max(1, math.ceil(n / 2)))
    chosen: list[int] = []
    for _, position in scored:
        unique = set(candidates[position][2])
        if any(_overlap(unique, set(candidates[c][2])) > 0.6 for c in chosen):
            continue
        chosen.append(position)
        if len(chosen) == k:
            break
    return [shorten(candidates[p][1]) for p in sorted(chosen)]


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


# --- action items and urgency -----------------------------------------------------------------

_REQUEST = re.compile(
    r"\b(?:please|pls|kindly)\b|\b(?:could|can|would|will) you\b|\bwould you mind\b"
    r"|\b(?:i|we)(?:'d| would) (?:like|appreciate|love)\b|\b(?:i|we) need (?:you|your)\b"
    r"|\b(?:need|needs) to\b|\b(?:you|we) (?:must|should|have to)\b|\bshould (?:i|we)\b"
    r"|\b(?:could|can|would|will) (?:someone|somebody|anyone|one of you)\b"
    r"|\blet (?:me|us) know\b|\bmake sure\b"
    r"|\b(?:don't|do not) forget\b|\bremember to\b|\baction (?:item|required)\b|\bdeadline\b"
    r"|^let's\b|\b(?:i|we)(?:'ll| will) (?!be |have |not |never |probably )[a-z]+"
    r"|\bbitte\b|\b(?:könnten|können) sie\b|\bkannst du\b|\bmerci de\b|\bpourriez-vous\b"
    r"|\bveuillez\b|\bpourrais-tu\b|\bpor favor\b|\bpodría(?:s)?\b|\bnecesito que\b",
    re.IGNORECASE,
)
IMPERATIVE_VERBS = frozenset(
    """send review confirm update schedule call prepare submit check share sign book
        approve forward reply provide complete finalize finalise arrange fill fix add
        remove create draft read bring order pay contact email ping tell ask invite
        attend join upload install test deploy merge cancel reschedule verify respond
        organize organise plan write print remind double-check follow resend return
        investigate escalate coordinate set reset block restart revert disable enable
        rotate patch notify inform move renew transfer register look roll clean collect
        publish translate summarize summarise upgrade estimate""".split()  # noqa: SIM905
)
_NOT_A_REQUEST = re.compile(
    r"^(?:please find|please see (?:below|attached)|please note|please be (?:aware|advised)|"
    r"could you believe|can you believe|you should (?:have )?(?:received|see))",
    re.IGNORECASE,
)
_HIGH_CUES = re.compile(
    r"\b(?:urgent(?:ly)?|asap|a\.s\.a\.p|as soon as possible|immediately|right away|right now"
    r"|today|tonight|this (?:morning|afternoon|evening)|end of (?:the )?day|eod|cob|close of"
    r" business|critical|emergency|top priority|time[- ]sensitive|within the hour|by noon"
    r"|tomorrow|dringend|sofort|heute|morgen früh|urgente|inmediatamente|hoy|aujourd'hui|demain"
    r"|mañana)\b",
    re.IGNORECASE,
)
_MEDIUM_CUES = re.compile(
    r"\b(?:soon|shortly|this week|next week|end of (?:the )?week|by (?:the )?end of|"
    r"at your earliest convenience|important|priority|deadline|diese woche|bald|cette semaine"
    r"|esta semana|pronto)\b",
    re.IGNORECASE,
)
_LOW_CUES = re.compile(
    r"\b(?:no rush|no hurry|whenever|when you (?:get|have) a (?:chance|moment|minute)|"
    r"when(?:ever)? you can|not urgent|low priority|at some point|eventually|keine eile)\b",
    re.IGNORECASE,
)
_WEEKDAYS = {
    day: index
    for index, names in enumerate(
        [
            "monday montag lundi lunes",
            "tuesday dienstag mardi martes",
            "wednesday mittwoch mercredi miércoles",
            "thursday donnerstag jeudi jueves",
            "friday freitag vendredi viernes",
            "saturday samstag samedi sábado",
            "sunday sonntag dimanche domingo",
        ]
    )
    for day in names.split()
}
_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b", re.IGNORECASE)


_ANY_DAY = date(2000, 1, 1)  # a reference for reading ISO dates, which need none
_YEAR = re.compile(r"\b\d{4}\b")


def _next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def is_request(unit: str) -> bool:
    """True for a sentence that asks for, or commits to, something to be done."""
    if _NOT_A_REQUEST.match(unit) or _is_pleasantry(unit):
        return False
    if _REQUEST.search(unit):
        return True
    first = re.split(r"[\s,]+", unit.strip().lower(), maxsplit=1)[0]
    return first in IMPERATIVE_VERBS


def due_date(unit: str, sent: datetime | None) -> date | None:
    """The date a deadline in `unit` falls on, relative to when the message was sent: an ISO
    date first, else the first calendar date (local_when.find_dates: "March 5", "5. März",
    "12 mars"; one without a year more than 60 days before the message is next year's), else
    the next weekday named (in English, German, French or Spanish)."""
    reference = sent.date() if sent else None
    written = [h for h in find_dates(unit, reference or _ANY_DAY) if h.explicit]
    iso = [h for h in written if ISO_DATE.fullmatch(h.text)]
    if iso:
        return iso[0].value
    if reference is None:
        return None
    if written:
        hit = written[0]
        if not _YEAR.search(hit.text) and hit.value < reference - timedelta(days=60):
            return _next_year(hit.value)
        return hit.value
    match = _WEEKDAY.search(unit)
    if match:
        ahead = (_WEEKDAYS[match[1].lower()] - reference.weekday()) % 7 or 7
        if re.search(rf"\bnext\s+{match[1]}", unit, re.IGNORECASE) and ahead < 7:
            ahead += 7
        return reference + timedelta(days=ahead)
    return None


def urgency_of(unit: str, sent: datetime | None) -> str:
    if _LOW_CUES.search(unit):
        return "low"
    if _HIGH_CUES.search(unit):
        return "high"
    due = due_date(unit, sent)
    if due is not None and sent is not None:
        days = (due - sent.date()).days
        return "high" if days <= 1 else "medium" if days <= 7 else "low"
    if due is not None or _WEEKDAY.search(unit) or _MEDIUM_CUES.search(unit):
        return "medium"
    return "medium" if re.search(r"\?$|\bplease\b|\byou\b", unit, re.I) else "low"


_TASK_WRAPPERS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:[^\W\d_]+,\s+)(?=please|could|can|would|will|kindly)",
        r"^(?:and|also|so|but|sure|yes|ok|okay|absolutely|of course|great|perfect),?\s+",
        r"^(?:please|pls|kindly)[,\s]+",
        r"^(?:could|can|would|will) (?:you|someone|somebody|anyone|one of you)"
        r"(?: please| kindly)?(?: also)?\s+",
        r"^would you mind\s+",
        r"^(?:i|we)(?:'d| would) (?:like|love) (?:you|for you) to\s+",
        r"^(?:i|we)(?:'d| would) appreciate (?:it )?if you could\s+",
        r"^(?:i|we) need you to\s+",
        r"^(?:you|we) (?:need|have|must|should) (?:to )?\s*",
        r"^(?:please\s+)?(?:make sure|remember|don't forget|do not forget) (?:to\s+)?",
        r"^(?:please\s+)?",
    )
]


def task_text(unit: str) -> str:
    """A request as a short to-do: "Could you please send me the file?" → "Send me the file"."""
    task = unit.strip()
    for pattern in _TASK_WRAPPERS:
        task = pattern.sub("", task, count=1)
    task = re.sub(
        r"^let (me|us) know (if|whether|when|what|which|how)\b",
        r"confirm \2",
        task,
        count=1,
        flags=re.I,
    )
    task = re.sub(r"^(?:and\s+)?also\s+", "", task, count=1, flags=re.IGNORECASE)
    task = re.sub(r"[\s,;:]*(?:please|thanks|thank you)?[.!?…]*$", "", task, flags=re.IGNORECASE)
    task = task.strip(" ,;:")
    if not task:
        task = unit.strip().rstrip(".!?")
    return shorten(task[:1].upper() + task[1:], 200)


@dataclass
class ActionItem:
    task: str
    urgency: str
    source: str
    message_index: int
    deadline: str | None = None


_VERB_NAMES = "|".join(sorted(IMPERATIVE_VERBS, key=len, reverse=True))
_TASK_JOIN = re.compile(
    rf"(?:,\s*|\s+)(?:and(?: then)?|then|also)\s+(?=(?:please\s+)?(?:{_VERB_NAMES})\b)|;\s+", re.I
)


def split_tasks(unit: str) -> list[str]:
    """One request per task: "Roll back the release and confirm when done" → two."""
    parts = [p.strip() for p in _TASK_JOIN.split(unit) if p and p.strip()]
    return parts if len(parts) > 1 else [unit]


def action_items(messages: list[Message], limit: int = 10) -> list[ActionItem]:
    """Requests and commitments in the thread, each as a task with an urgency from its cue
    words and deadline (relative to when its message was sent)."""
    items: list[ActionItem] = []
    seen: set[str] = set()
    for m_index, message in enumerate(messages):
        for unit in message.units:
            if not is_request(unit):
                continue
            for part in split_tasks(unit):
                task = task_text(part)
                key = task.lower()
                if key in seen or len(task.split()) < 2:
                    continue
                seen.add(key)
                # Cue words and deadlines anywhere in the sentence apply to each of its tasks.
                due = due_date(part, message.when) or due_date(unit, message.when)
                items.append(
                    ActionItem(
                        task=task,
                        urgency=urgency_of(unit, message.when),
                        source=unit,
                        message_index=m_index,
                        deadline=due.isoformat() if due else None,
                    )
                )
    return items[-limit:] if len(items) > limit else items


_LEVELS = {"low": 0, "medium": 1, "high": 2}


def response_urgency(messages: list[Message], items: list[ActionItem]) -> str:
    """How soon the last message needs an answer: high for urgent cues, a near deadline or a
    strongly negative message; medium for a question, a request or a negative tone; else low."""
    last_index = len(messages) - 1
    last = messages[last_index]
    level = 0
    text = " ".join(last.units)
    if _HIGH_CUES.search(text):
        level = 2
    for item in items:
        if item.message_index == last_index:
            level = max(level, _LEVELS[item.urgency])
    score = message_sentiment(last)
    if score <= -0.5:
        level = 2
    elif score <= NEGATIVE_AT:
        level = max(level, 1)
    if any(u.endswith("?") and not _is_pleasantry(u) for u in last.units):
        level = max(level, 1)
    if level < 2 and _LOW_CUES.search(text) and not _HIGH_CUES.search(text):
        level = 0  # "no rush, whenever suits you" outweighs a question
    return ["low", "medium", "high"][level]


def questions(message: Message) -> list[str]:
    return [u for u in message.units if u.endswith("?") and not _is_pleasantry(u)]
