"""The local reply writer of the email engine: a reply to a thread's last message from
per-tone phrase tables in English, German, French and Spanish, fitted to a length.

Over 500 lines because most of it is the phrase tables themselves (greetings, openings,
asks, closings and sign-offs, tone by tone and language by language): data, kept beside the
few functions that read it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.engines.local_email import (
    SIGNOFF,
    Message,
    action_items,
    first_name,
    is_negative,
    person_name,
    questions,
    shorten,
)

# --- composing --------------------------------------------------------------------------------

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|ref|rif|res)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def reply_subject(subject: str) -> str:
    """ "Re: " + the subject with any existing reply prefixes ("Re:", "RE:", "AW:") dropped."""
    base = _REPLY_PREFIX.sub("", subject or "").strip()
    return f"Re: {base}" if base else "Re: (no subject)"


_SWAP = {
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "us": "you",
    "our": "your",
    "ours": "yours",
    "ourselves": "yourselves",
    "you": "me",
    "your": "my",
    "yours": "mine",
    "yourself": "myself",
}


def swap_person(text: str) -> str:
    """The other side's words from my side: "send me your notes" → "send you my notes"."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = _SWAP[word.lower()]
        return new.capitalize() if word[0].isupper() else new

    return re.sub(r"\b(?:" + "|".join(_SWAP) + r")\b", swap, text, flags=re.IGNORECASE)


TONES = ("formal", "casual", "friendly", "direct", "professional", "empathetic")
GREETING_STYLES = ("formal", "professional", "friendly", "casual", "direct", "none")
_DEFAULT_GREETING = {
    "formal": "formal",
    "professional": "professional",
    "empathetic": "professional",
    "friendly": "friendly",
    "casual": "casual",
    "direct": "direct",
}
_INFORMAL = {"friendly", "casual"}

# Phrase tables: per language, per tone (or register: "polite"/"informal").
_PHRASES: dict[str, dict[str, Any]] = {
    "en": {
        "greeting": {
            "formal": ("Dear {name},", "Dear Sir or Madam,"),
            "professional": ("Hello {name},", "Hello,"),
            "friendly": ("Hi {name},", "Hi there,"),
            "casual": ("Hey {name},", "Hey,"),
            "direct": ("{name},", "Hello,"),
        },
        "ack": {
            "formal": "Thank you for your message regarding “{subject}”.",
            "professional": "Thank you for your email about “{subject}”.",
            "friendly": "Thanks so much for your message about “{subject}”!",
            "casual": "Thanks for the note about “{subject}”.",
            "direct": "Replying about “{subject}”.",
            "empathetic": "Thank you for reaching out about “{subject}”; I appreciate you "
            "taking the time to write.",
        },
        "ack_plain": {
            "formal": "Thank you for your message.",
            "professional": "Thank you for your email.",
            "friendly": "Thanks so much for your message!",
            "casual": "Thanks for the note.",
            "direct": "Replying to your message.",
            "empathetic": "Thank you for reaching out; I appreciate you taking the time to write.",
        },
        "sorry": {
            "formal": "I am sorry to hear about the difficulties you have experienced.",
            "professional": "I am sorry for the trouble this has caused.",
            "friendly": "I'm really sorry about the trouble!",
            "casual": "Sorry about the hassle.",
            "direct": "Sorry for the trouble.",
            "empathetic": "I completely understand how frustrating this must be, and I am "
            "truly sorry for the inconvenience.",
        },
        "points_intro": {
            "formal": "Please allow me to address the following points.",
            "professional": "Here are the key points:",
            "friendly": "Here's a quick update:",
            "casual": "Quick rundown:",
            "direct": "Key points:",
            "empathetic": "Here is where things stand:",
        },
        "asks_intro": {
            "formal": "I will attend to the following:",
            "professional": "I will take care of the following:",
            "friendly": "Happy to help with these:",
            "casual": "I'm on it:",
            "direct": "Next steps:",
            "empathetic": "Here is what I will do to help:",
        },
        "question": {
            "polite": "As for your question “{q}”, I will get back to you shortly.",
            "informal": "About your question “{q}”: I'll get back to you soon.",
        },
        "priority": {
            "polite": "I have made this a priority and will follow up as soon as possible.",
            "informal": "This is top of my list, so expect to hear from me very soon.",
        },
        "closing": {
            "formal": "Should you require any further information, please do not hesitate to "
            "contact me.",
            "professional": "Please let me know if you have any questions.",
            "friendly": "Let me know if there's anything else I can do!",
            "casual": "Let me know if you need anything else.",
            "direct": "Let me know if anything is unclear.",
            "empathetic": "Please don't hesitate to reach out if there is anything else I can "
            "do to help.",
        },
        "signoff": {
            "formal": "Yours sincerely,",
            "formal_unnamed": "Yours faithfully,",
            "professional": "Best regards,",
            "friendly": "All the best,",
            "casual": "Cheers,",
            "direct": "Regards,",
            "empathetic": "Warm regards,",
        },
        "lowercase_after_greeting": False,
    },
    "de": {
        "greeting": {
            "formal": ("Guten Tag {name},", "Sehr geehrte Damen und Herren,"),
            "professional": ("Hallo {name},", "Guten Tag,"),
            "friendly": ("Hallo {name},", "Hallo,"),
            "casual": ("Hi {name},", "Hi,"),
            "direct": ("Hallo {name},", "Hallo,"),
        },
        "ack": {
            "formal": "vielen Dank für Ihre Nachricht zum Thema „{subject}“.",
            "professional": "danke für Ihre Nachricht zu „{subject}“.",
            "friendly": "vielen Dank für deine Nachricht zu „{subject}“!",
            "casual": "danke für deine Nachricht zu „{subject}“.",
            "direct": "kurz zu „{subject}“.",
            "empathetic": "vielen Dank, dass Sie sich wegen „{subject}“ an mich wenden.",
        },
        "ack_plain": {
            "formal": "vielen Dank für Ihre Nachricht.",
            "professional": "danke für Ihre Nachricht.",
            "friendly": "vielen Dank für deine Nachricht!",
            "casual": "danke für deine Nachricht.",
            "direct": "kurz zu Ihrer Nachricht.",
            "empathetic": "vielen Dank, dass Sie sich an mich wenden.",
        },
        "sorry": {
            "formal": "Es tut mir leid, dass es zu Unannehmlichkeiten gekommen ist.",
            "professional": "Es tut mir leid, dass es Probleme gab.",
            "friendly": "Tut mir wirklich leid, dass es Ärger gab!",
            "casual": "Sorry für den Ärger.",
            "direct": "Entschuldigen Sie die Probleme.",
            "empathetic": "Ich verstehe gut, wie ärgerlich das ist, und es tut mir aufrichtig "
            "leid.",
        },
        "points_intro": {
            "formal": "Gerne gehe ich auf die folgenden Punkte ein.",
            "professional": "Zu den wichtigsten Punkten:",
            "friendly": "Hier ein kurzes Update:",
            "casual": "Kurz zusammengefasst:",
            "direct": "Die Punkte:",
            "empathetic": "Hier der aktuelle Stand:",
        },
        "asks_intro": {
            "formal": "Um Folgendes werde ich mich kümmern:",
            "professional": "Um Folgendes kümmere ich mich:",
            "friendly": "Dabei helfe ich gerne:",
            "casual": "Mach ich:",
            "direct": "Nächste Schritte:",
            "empathetic": "Das werde ich tun, um Ihnen zu helfen:",
        },
        "question": {
            "polite": "Zu Ihrer Frage „{q}“ melde ich mich in Kürze.",
            "informal": "Zu deiner Frage „{q}“ melde ich mich bald.",
        },
        "priority": {
            "polite": "Ich kümmere mich vorrangig darum und melde mich so bald wie möglich.",
            "informal": "Das hat bei mir gerade oberste Priorität, du hörst bald von mir.",
        },
        "closing": {
            "formal": "Für Rückfragen stehe ich Ihnen gerne zur Verfügung.",
            "professional": "Bei Fragen melden Sie sich gerne.",
            "friendly": "Melde dich gerne, wenn ich noch etwas tun kann!",
            "casual": "Sag Bescheid, wenn du noch was brauchst.",
            "direct": "Bei Unklarheiten einfach melden.",
            "empathetic": "Wenn ich Ihnen noch irgendwie helfen kann, melden Sie sich bitte "
            "jederzeit.",
        },
        "signoff": {
            "formal": "Mit freundlichen Grüßen",
            "formal_unnamed": "Mit freundlichen Grüßen",
            "professional": "Freundliche Grüße",
            "friendly": "Herzliche Grüße",
            "casual": "Viele Grüße",
            "direct": "Gruß",
            "empathetic": "Herzliche Grüße",
        },
        "lowercase_after_greeting": True,
    },
    "fr": {
        "greeting": {
            "formal": ("Bonjour {name},", "Madame, Monsieur,"),
            "professional": ("Bonjour {name},", "Bonjour,"),
            "friendly": ("Salut {name},", "Salut,"),
            "casual": ("Salut {name},", "Salut,"),
            "direct": ("Bonjour {name},", "Bonjour,"),
        },
        "ack": {
            "formal": "Je vous remercie pour votre message concernant « {subject} ».",
            "professional": "Merci pour votre message concernant « {subject} ».",
            "friendly": "Merci beaucoup pour ton message sur « {subject} » !",
            "casual": "Merci pour ton message sur « {subject} ».",
            "direct": "Je vous réponds au sujet de « {subject} ».",
            "empathetic": "Merci de m'avoir écrit au sujet de « {subject} » ; je vous en "
            "remercie sincèrement.",
        },
        "ack_plain": {
            "formal": "Je vous remercie pour votre message.",
            "professional": "Merci pour votre message.",
            "friendly": "Merci beaucoup pour ton message !",
            "casual": "Merci pour ton message.",
            "direct": "Je vous réponds rapidement.",
            "empathetic": "Merci de m'avoir écrit ; je vous en remercie sincèrement.",
        },
        "sorry": {
            "formal": "Je vous prie de nous excuser pour la gêne occasionnée.",
            "professional": "Toutes mes excuses pour ce désagrément.",
            "friendly": "Toutes mes excuses pour ce souci !",
            "casual": "Toutes mes excuses pour ce souci.",
            "direct": "Toutes mes excuses pour ce problème.",
            "empathetic": "Je comprends tout à fait votre frustration et je vous présente "
            "toutes mes excuses.",
        },
        "points_intro": {
            "formal": "Permettez-moi de revenir sur les points suivants.",
            "professional": "Voici les points importants :",
            "friendly": "Voici un petit point :",
            "casual": "En bref :",
            "direct": "Les points :",
            "empathetic": "Voici où nous en sommes :",
        },
        "asks_intro": {
            "formal": "Je m'occuperai des points suivants :",
            "professional": "Je m'occupe des points suivants :",
            "friendly": "Je m'en occupe avec plaisir :",
            "casual": "Je m'en charge :",
            "direct": "Prochaines étapes :",
            "empathetic": "Voici ce que je vais faire pour vous aider :",
        },
        "question": {
            "polite": "Concernant votre question « {q} », je reviens vers vous rapidement.",
            "informal": "Pour ta question « {q} », je reviens vers toi rapidement.",
        },
        "priority": {
            "polite": "J'en fais une priorité et je reviens vers vous au plus vite.",
            "informal": "C'est ma priorité, je reviens vers toi au plus vite.",
        },
        "closing": {
            "formal": "Je reste à votre disposition pour toute information complémentaire.",
            "professional": "N'hésitez pas à me contacter si vous avez des questions.",
            "friendly": "N'hésite pas si je peux faire autre chose !",
            "casual": "Dis-moi si tu as besoin d'autre chose.",
            "direct": "Dites-moi si quelque chose n'est pas clair.",
            "empathetic": "N'hésitez surtout pas à me recontacter si je peux vous aider davantage.",
        },
        "signoff": {
            "formal": "Bien cordialement,",
            "formal_unnamed": "Veuillez agréer mes salutations distinguées,",
            "professional": "Cordialement,",
            "friendly": "Bien à toi,",
            "casual": "À bientôt,",
            "direct": "Cordialement,",
            "empathetic": "Bien à vous,",
        },
        "lowercase_after_greeting": False,
    },
    "es": {
        "greeting": {
            "formal": ("Buenos días, {name}:", "A quien corresponda:"),
            "professional": ("Hola, {name}:", "Hola:"),
            "friendly": ("¡Hola, {name}!", "¡Hola!"),
            "casual": ("Hola, {name}:", "Hola:"),
            "direct": ("{name}:", "Hola:"),
        },
        "ack": {
            "formal": "Le agradezco su mensaje sobre «{subject}».",
            "professional": "Gracias por su mensaje sobre «{subject}».",
            "friendly": "¡Muchas gracias por tu mensaje sobre «{subject}»!",
            "casual": "Gracias por tu mensaje sobre «{subject}».",
            "direct": "Le respondo sobre «{subject}».",
            "empathetic": "Gracias por escribirme sobre «{subject}»; le agradezco que se haya "
            "tomado el tiempo.",
        },
        "ack_plain": {
            "formal": "Le agradezco su mensaje.",
            "professional": "Gracias por su mensaje.",
            "friendly": "¡Muchas gracias por tu mensaje!",
            "casual": "Gracias por tu mensaje.",
            "direct": "Le respondo brevemente.",
            "empathetic": "Gracias por escribirme; le agradezco que se haya tomado el tiempo.",
        },
        "sorry": {
            "formal": "Lamento profundamente las molestias ocasionadas.",
            "professional": "Lamento las molestias.",
            "friendly": "¡Siento mucho las molestias!",
            "casual": "Perdón por las molestias.",
            "direct": "Disculpe las molestias.",
            "empathetic": "Entiendo perfectamente lo frustrante que es esto y lo siento de verdad.",
        },
        "points_intro": {
            "formal": "Permítame comentar los siguientes puntos.",
            "professional": "Estos son los puntos principales:",
            "friendly": "Aquí va una pequeña actualización:",
            "casual": "En resumen:",
            "direct": "Puntos clave:",
            "empathetic": "Así están las cosas:",
        },
        "asks_intro": {
            "formal": "Me encargaré de lo siguiente:",
            "professional": "Me encargo de lo siguiente:",
            "friendly": "Te ayudo encantado con esto:",
            "casual": "Me pongo con ello:",
            "direct": "Próximos pasos:",
            "empathetic": "Esto es lo que haré para ayudarle:",
        },
        "question": {
            "polite": "Sobre su pregunta «{q}», le respondo en breve.",
            "informal": "Sobre tu pregunta «{q}», te respondo en breve.",
        },
        "priority": {
            "polite": "Le doy prioridad y le responderé lo antes posible.",
            "informal": "Es mi prioridad; te respondo lo antes posible.",
        },
        "closing": {
            "formal": "Quedo a su disposición para cualquier consulta.",
            "professional": "Si tiene alguna pregunta, no dude en escribirme.",
            "friendly": "¡Avísame si puedo ayudarte en algo más!",
            "casual": "Avísame si necesitas algo más.",
            "direct": "Dígame si algo no queda claro.",
            "empathetic": "No dude en escribirme si puedo ayudarle en algo más.",
        },
        "signoff": {
            "formal": "Atentamente,",
            "formal_unnamed": "Atentamente,",
            "professional": "Saludos cordiales,",
            "friendly": "Un abrazo,",
            "casual": "Saludos,",
            "direct": "Saludos,",
            "empathetic": "Un cordial saludo,",
        },
        "lowercase_after_greeting": False,
    },
}


def as_sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if re.search(r"[.!?…:。！？»”\"')]$", text) else text + "."


@dataclass
class Draft:
    """A composed reply: paragraphs (each tagged with the key point it carries, if any) and
    the closing block (sign-off and signature) that always stays."""

    paragraphs: list[tuple[str, str | None]]
    closing_block: str


@dataclass
class ComposeInput:
    messages: list[Message]
    tone: str
    language: str
    greeting_style: str | None = None
    key_points: list[str] = field(default_factory=list)
    signature: str | None = None
    priority: str | None = None


def compose(data: ComposeInput) -> Draft:
    """A reply to the last message of the thread from the phrase tables: greeting (by
    greeting_style and the sender's name), acknowledgement of the subject (and an apology when
    the message is negative), one paragraph per key point (or, with none, the asks and
    questions of the last message), a priority line, a closing line, sign-off and signature."""
    phrases = _PHRASES[data.language]
    tone = data.tone
    register = "informal" if tone in _INFORMAL else "polite"
    last = data.messages[-1]
    name = person_name(last.sender, data.messages)
    style = data.greeting_style or _DEFAULT_GREETING[tone]
    paragraphs: list[tuple[str, str | None]] = []

    if style != "none":
        named, unnamed = phrases["greeting"][style]
        if name:
            greeting_name = name if style == "formal" else first_name(name)
            paragraphs.append((named.format(name=greeting_name), None))
        else:
            paragraphs.append((unnamed, None))

    subject = _REPLY_PREFIX.sub("", last.subject or "").strip()
    opening = (
        phrases["ack"][tone].format(subject=subject) if subject else phrases["ack_plain"][tone]
    )
    if is_negative(last):
        opening = f"{opening} {phrases['sorry'][tone]}"
    if not (phrases["lowercase_after_greeting"] and paragraphs):
        opening = opening[:1].upper() + opening[1:]
    paragraphs.append((opening, None))

    if data.key_points:
        if len(data.key_points) > 1:
            paragraphs.append((phrases["points_intro"][tone], None))
        for point in data.key_points:
            paragraphs.append((as_sentence(point), point))
    else:
        asks = [item for item in action_items([last]) if not item.task.lower().startswith("i ")]
        asks = [a for a in asks if not re.match(r"^(?:i|we)(?:'ll| will)\b", a.source, re.I)]
        if asks:
            lines = [phrases["asks_intro"][tone]]
            for item in asks[:5]:
                task = swap_person(item.task) if data.language == "en" else item.task
                lines.append(f"- {task}")
            paragraphs.append(("\n".join(lines), None))
        asked = {a.source for a in asks}
        for question in [q for q in questions(last) if q not in asked][:2]:
            paragraphs.append(
                (phrases["question"][register].format(q=shorten(question, 160)), None)
            )

    if data.priority == "high":
        paragraphs.append((phrases["priority"][register], None))
    paragraphs.append((phrases["closing"][tone], None))

    closing_block = signature_block(
        data.signature,
        signoff=signoff_for(data.language, tone, named=bool(name)),
        fallback_name=person_name(last.recipient, data.messages),
    )
    return Draft(paragraphs=paragraphs, closing_block=closing_block)


def signoff_for(language: str, tone: str, *, named: bool = True) -> str:
    """The sign-off line of `tone` in `language` ("Best regards,")."""
    table = _PHRASES[language]["signoff"]
    return str(table["formal_unnamed" if tone == "formal" and not named else tone])


def signature_block(
    signature: str | None, *, signoff: str | None, fallback_name: str | None
) -> str:
    """The sign-off line and the signature (or, without one, the replier's name when known).
    A signature that opens with its own sign-off ("Best regards,\\nAnna") is used as is."""
    signature = (signature or "").strip("\n").rstrip()
    if signature:
        first_line = signature.split("\n", 1)[0].strip()
        if SIGNOFF.match(first_line) or signoff is None:
            return signature
        return f"{signoff}\n{signature}"
    if signoff is None:
        return ""
    return f"{signoff}\n{fallback_name}" if fallback_name else signoff


_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?…:。！？»”])(?=\s)|\n")


def _size(paragraphs: list[tuple[str, str | None]], separator: str) -> int:
    return sum(len(text) for text, _ in paragraphs) + len(separator) * max(len(paragraphs) - 1, 0)


def fit(draft: Draft, max_length: int | None) -> tuple[str, set[str]]:
    """The reply text within `max_length` characters (Unicode characters of the whole
    content, closing block included). When a draft carries key points and does not fit, the
    other paragraphs give way first (the closing line, the priority line, the introductions,
    the acknowledgement, then the greeting), so the key points come first; then whole
    paragraphs in order, the last one cut at a sentence (or word) boundary. Returns the text
    and the key points that made it in whole. Raises ValueError when even the closing block
    does not fit."""
    separator = "\n\n"
    closing = draft.closing_block
    tail = f"{separator}{closing}" if closing else ""
    kept: list[str] = []
    points: set[str] = set()
    budget = None if max_length is None else max_length - len(tail)
    if budget is not None and budget <= 0:
        raise ValueError(
            f"the signature block ({len(closing)} characters) does not fit in "
            f"style_guide.max_length ({max_length})"
        )
    paragraphs = list(draft.paragraphs)
    if budget is not None and any(point is not None for _, point in paragraphs):
        optional = [i for i, (_, point) in enumerate(paragraphs) if point is None]
        greeting = optional[:1] if optional and optional[0] == 0 else []
        dropped: set[int] = set()
        for index in [i for i in reversed(optional) if i not in greeting] + greeting:
            remaining = [p for i, p in enumerate(paragraphs) if i not in dropped]
            if _size(remaining, separator) <= budget:
                break
            dropped.add(index)
        paragraphs = [p for i, p in enumerate(paragraphs) if i not in dropped]
    used = 0
    for text, point in paragraphs:
        extra = len(text) + (len(separator) if kept else 0)
        if budget is None or used + extra <= budget:
            kept.append(text)
            used += extra
            if point is not None:
                points.add(point)
            continue
        room = budget - used - (len(separator) if kept else 0)
        partial = _cut(text, room)
        if partial:
            kept.append(partial)
        break
    body = separator.join(kept).rstrip()
    if not body:
        body = _cut(paragraphs[0][0], budget or 0) if paragraphs else ""
    return (f"{body}{tail}" if body else closing), points


def _cut(text: str, room: int) -> str:
    """`text` cut to at most `room` characters at the last sentence end, else the last word
    (with an ellipsis); empty when nothing sensible fits."""
    if room <= 1:
        return ""
    if len(text) <= room:
        return text
    boundaries = [m.start() for m in _SENTENCE_BOUNDARY.finditer(text) if 0 < m.start() <= room]
    if boundaries and boundaries[-1] >= room // 3:
        return text[: boundaries[-1]].rstrip()
    words_cut = text[: room - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    if len(words_cut) < 2:
        return ""
    return words_cut + "…"
