"""email_response: analyse an email thread, or write the reply to its last message.

Over 500 lines because it serves two endpoints, each with its model prompt, its answer check
and its JSON Schema (the schemas and the example thread are about a quarter of the file);
the engines themselves are in local_email and local_email_reply."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from services.catalog._schema import required_text
from services.catalogue.registry import (
    EndpointDefinition,
    HandlerOutput,
    ServiceDefinition,
    ServiceFailure,
)
from services.engines import local_email as engine
from services.engines import local_email_reply as writer
from services.engines import local_or_model, run_metadata
from services.engines.llm import ChatResult, chat_json, route_for

LOCAL_ANALYSIS_MODEL = "local/email-analysis"
LOCAL_WRITER_MODEL = "local/email-templates"
MAX_MESSAGES = 50
MAX_CONTENT_CHARS = 50_000
MAX_PROMPT_CHARS = 60_000
ANALYSIS_TYPES = ("sentiment", "key_points", "action_items", "response_urgency")
LEVELS = ("low", "medium", "high")
SENTIMENTS = ("positive", "neutral", "negative")

# One address, "Name <address>", or several separated by commas or semicolons. Whitespace is
# spelled out (_WS): Python's \s also matches \x1c-\x1f, ECMA's (OpenAPI clients') does not.
_WS = r" \t\n\r\f\v"
_ADDRESS_ITEM = (
    rf"[{_WS}]*(?:(?:\"[^\"]*\"|[^<>@,;\"])*<[{_WS}]*[^{_WS}<>@]+@[^{_WS}<>@]+[{_WS}]*>"
    rf"|[^{_WS}<>@,;\"]+@[^{_WS}<>@,;\"]+)[{_WS}]*"
)
ADDRESS_PATTERN = rf"^{_ADDRESS_ITEM}(?:[,;]{_ADDRESS_ITEM})*$"

MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One message of the thread.",
    "properties": {
        "sender": {
            "type": "string",
            "description": 'Sender address: "jane@example.com" or "Jane Doe <jane@example.com>".',
            "maxLength": 320,
            "pattern": ADDRESS_PATTERN,
        },
        "recipient": {
            "type": "string",
            "description": "Recipient address (several may be separated by commas).",
            "maxLength": 2000,
            "pattern": ADDRESS_PATTERN,
        },
        "subject": {"type": "string", "description": "Subject line.", "maxLength": 998},
        "content": required_text(
            "Body, plain text or HTML (tags are stripped; quoted history below "
            '"On … wrote:" and "-- " signatures are ignored).',
            max_length=MAX_CONTENT_CHARS,
        ),
        "timestamp": {
            "type": "string",
            "description": "When it was sent, ISO 8601 (e.g. 2025-02-03T09:30:00Z) or RFC 2822. "
            "The thread is read oldest first: sorted by timestamp when all of them parse, "
            'else in the given order. Relative deadlines ("by Friday") count from it.',
            "maxLength": 64,
        },
    },
    "required": ["sender", "recipient", "subject", "content", "timestamp"],
    "additionalProperties": False,
}

THREAD_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "The messages of the thread; the reply answers the latest one.",
    "items": MESSAGE_SCHEMA,
    "minItems": 1,
    "maxItems": MAX_MESSAGES,
}

MODEL_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": 'Model to run, e.g. "gpt-4o" or "mistral-large-2411" when the operator has '
    'mapped it; "local" (or nothing) runs the built-in engine.',
    "maxLength": 200,
}

OPTIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Model options (ignored by the local engine).",
    "properties": {
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 16_000},
    },
    "additionalProperties": False,
}


# --- analyze_thread ---------------------------------------------------------------------------


def _local_analysis(messages: list[engine.Message], wanted: list[str]) -> dict[str, Any]:
    analysis: dict[str, Any] = {}
    items = engine.action_items(messages)
    if "sentiment" in wanted:
        analysis["overall_sentiment"] = engine.thread_sentiment(messages)[0]
    if "key_points" in wanted:
        analysis["main_points_discussed"] = engine.main_points(messages)
    if "action_items" in wanted:
        analysis["action_items"] = [
            {"task": item.task, "urgency": item.urgency, "deadline": item.deadline}
            for item in items
        ]
    if "response_urgency" in wanted:
        analysis["response_urgency"] = engine.response_urgency(messages, items)
    return analysis


def transcript(messages: list[engine.Message], limit: int = MAX_PROMPT_CHARS) -> str:
    """The cleaned thread as text for a model prompt, oldest first; the oldest messages are
    dropped first when it is too long."""
    parts = [
        f"From: {m.sender}\nTo: {m.recipient}\nDate: {m.timestamp}\nSubject: {m.subject}\n\n"
        f"{m.text or '(empty)'}"
        for m in messages
    ]
    while len(parts) > 1 and sum(len(p) for p in parts) > limit:
        parts.pop(0)
    return "\n\n---\n\n".join(parts)[-limit:]


_ANALYSIS_KEYS = {
    "sentiment": (
        "overall_sentiment",
        '"overall_sentiment": "positive" | "neutral" | "negative" (the mood of the whole thread)',
    ),
    "key_points": (
        "main_points_discussed",
        '"main_points_discussed": [the central points, one short sentence each]',
    ),
    "action_items": (
        "action_items",
        '"action_items": [{"task": string, "urgency": "low" | "medium" | "high", '
        '"deadline": "YYYY-MM-DD" or null}] (what someone is asked to do or promised to do)',
    ),
    "response_urgency": (
        "response_urgency",
        '"response_urgency": "low" | "medium" | "high" (how soon the latest message needs '
        "an answer)",
    ),
}


def _analysis_problems(data: Any, wanted: list[str]) -> list[str]:
    if not isinstance(data, dict):
        return ["the answer must be a JSON object"]
    problems = []
    for kind in wanted:
        key = _ANALYSIS_KEYS[kind][0]
        value = data.get(key)
        if kind == "sentiment" and value not in SENTIMENTS:
            problems.append(f"{key} must be one of {', '.join(SENTIMENTS)}")
        elif kind == "response_urgency" and value not in LEVELS:
            problems.append(f"{key} must be one of {', '.join(LEVELS)}")
        elif kind == "key_points" and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"{key} must be a list of strings")
        elif kind == "action_items" and not (
            isinstance(value, list)
            and all(
                isinstance(v, dict)
                and isinstance(v.get("task"), str)
                and v.get("urgency") in LEVELS
                for v in value
            )
        ):
            problems.append(f"{key} must be a list of {{task, urgency: low|medium|high}}")
    return problems


def _model_analysis(
    route: Any, messages: list[engine.Message], wanted: list[str], options: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(analysis, usage) from the model: the keys asked for, action items in the API's shape."""
    fields = ",\n  ".join(_ANALYSIS_KEYS[kind][1] for kind in wanted)
    system = (
        "You analyse email threads. Reply with only a JSON object with exactly these keys:\n"
        f"{{\n  {fields}\n}}"
    )
    reply = chat_json(
        route,
        system=system,
        user=f"The thread, oldest message first:\n\n{transcript(messages)}",
        check=lambda data: _analysis_problems(data, wanted),
        temperature=options.get("temperature"),
        max_tokens=options.get("max_tokens"),
    )
    analysis = {}
    for kind in wanted:
        key = _ANALYSIS_KEYS[kind][0]
        value = reply.data[key]
        if kind == "action_items":
            value = [
                {
                    "task": str(item["task"]),
                    "urgency": item["urgency"],
                    "deadline": item.get("deadline") or None,
                }
                for item in value
            ]
        analysis[key] = value
    return analysis, reply.usage.as_dict()


def _usage(thread: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "input_chars": sum(len(m.get("content", "")) for m in thread),
        "messages": len(thread),
    }


def analyze_thread(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    endpoint = SERVICE.endpoints["analyze_thread"]
    wanted = [
        kind for kind in ANALYSIS_TYPES if kind in params.get("analysis_type", ANALYSIS_TYPES)
    ]
    messages = engine.prepare_thread(params["email_thread"])
    requested = endpoint.requested_model(params)
    analysis, model, usage = local_or_model(
        route_for(requested),
        engine=LOCAL_ANALYSIS_MODEL,
        local=lambda: (_local_analysis(messages, wanted), _usage(params["email_thread"])),
        model=lambda route: _model_analysis(route, messages, wanted, params.get("options") or {}),
    )
    return HandlerOutput(
        result=analysis,
        metadata=run_metadata(
            model=model,
            requested_model=requested,
            started=started,
            usage=usage,
            message_count=len(messages),
            analysis_type=wanted,
        ),
        extra={"analysis": analysis},
    )


# --- generate_response ------------------------------------------------------------------------


def _reply_problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["the answer must be a JSON object"]
    problems = []
    if not isinstance(data.get("subject"), str):
        problems.append("subject must be a string")
    if not isinstance(data.get("content"), str) or not data["content"].strip():
        problems.append("content must be a non-empty string")
    addressed = data.get("key_points_addressed")
    if not isinstance(addressed, list) or not all(isinstance(p, str) for p in addressed):
        problems.append("key_points_addressed must be a list of strings")
    return problems


def _strip_model_signoff(content: str, signature: str, *, keep_signoff: bool) -> str:
    """The model's reply without the signature (and, unless `keep_signoff`, the sign-off)
    it may have added, so they are not doubled when the closing block is appended."""
    text = content.strip()
    if signature and text.endswith(signature.strip()):
        text = text[: -len(signature.strip())].rstrip()
    if keep_signoff:
        return text
    lines = text.split("\n")
    for index in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
        if engine.SIGNOFF.match(lines[index].strip()):
            text = "\n".join(lines[:index]).rstrip()
            break
    return text


def _model_reply(
    route: Any,
    messages: list[engine.Message],
    *,
    tone: str,
    language: str | None,
    style: dict[str, Any],
    key_points: list[str],
    budget: int | None,
    writes_signoff: bool,
    options: dict[str, Any],
) -> ChatResult:
    rules = [
        f"Tone: {tone}.",
        f"Language: {language}." if language else "Language: the language of the latest message.",
    ]
    if style.get("greeting_style"):
        rules.append(f"Greeting style: {style['greeting_style']}.")
    if style.get("priority"):
        rules.append(f"Priority of this reply: {style['priority']}.")
    if key_points:
        rules.append("Address each of these points:\n" + "\n".join(f"- {p}" for p in key_points))
    if budget is not None:
        rules.append(f"The content must be at most {budget} characters long.")
    rules.append(
        "End with a closing sign-off line such as 'Best regards,' but no name or signature."
        if writes_signoff
        else "Do not write a sign-off or signature: they are added afterwards."
    )
    system = (
        "You write replies to the latest message of an email thread. Reply with only a JSON "
        'object: {"subject": string, "content": string (the reply body with greeting), '
        '"key_points_addressed": [the points the reply addresses]}.'
    )
    return chat_json(
        route,
        system=system,
        user=f"{chr(10).join(rules)}\n\nThe thread, oldest message first:\n\n"
        f"{transcript(messages)}",
        check=_reply_problems,
        temperature=options.get("temperature"),
        max_tokens=options.get("max_tokens"),
    )


@dataclass(frozen=True)
class _Written:
    """A reply written by the local templates or a model, before it is fitted to max_length."""

    draft: writer.Draft
    language: str | None
    addressed: list[str] | None  # the model's own list; None: read from the fitted reply


@dataclass(frozen=True)
class _ReplyRequest:
    messages: list[engine.Message]
    tone: str
    style: dict[str, Any]
    key_points: list[str]
    signature: str
    asked_language: str | None
    language: str | None  # asked_language as a code the templates know, else None
    options: dict[str, Any]


def _local_reply(ask: _ReplyRequest) -> _Written:
    last = ask.messages[-1]
    if ask.asked_language and ask.language is None:
        raise ServiceFailure(
            f"The local engine writes English, German, French and Spanish replies; "
            f"language {ask.asked_language!r} needs a model (set model_id)."
        )
    language = ask.language or engine.detect_language(" ".join(last.units) or last.subject)
    draft = writer.compose(
        writer.ComposeInput(
            messages=ask.messages,
            tone=ask.tone,
            language=language,
            greeting_style=ask.style.get("greeting_style"),
            key_points=ask.key_points,
            signature=ask.signature,
            priority=ask.style.get("priority"),
        )
    )
    return _Written(draft, language, None)


def _model_written(route: Any, ask: _ReplyRequest) -> tuple[_Written, dict[str, Any]]:
    last = ask.messages[-1]
    phrases_language = ask.language or engine.detect_language(" ".join(last.units))
    # With a language the templates know, the platform adds the sign-off in that
    # language; otherwise the model writes it and only the signature is appended.
    writes_signoff = ask.language is None and bool(ask.asked_language)
    closing = writer.signature_block(
        ask.signature,
        signoff=None if writes_signoff else writer.signoff_for(phrases_language, ask.tone),
        fallback_name=None if writes_signoff else engine.person_name(last.recipient, ask.messages),
    )
    max_length = ask.style.get("max_length")
    reply = _model_reply(
        route,
        ask.messages,
        tone=ask.tone,
        language=ask.asked_language,
        style=ask.style,
        key_points=ask.key_points,
        budget=None if max_length is None else max_length - len(closing) - 2,
        writes_signoff=writes_signoff,
        options=ask.options,
    )
    body = _strip_model_signoff(reply.data["content"], ask.signature, keep_signoff=writes_signoff)
    draft = writer.Draft(
        paragraphs=[(p.strip(), None) for p in body.split("\n\n") if p.strip()],
        closing_block=closing,
    )
    addressed = [str(p) for p in reply.data["key_points_addressed"]]
    return (
        _Written(draft, ask.asked_language or phrases_language, addressed),
        reply.usage.as_dict(),
    )


def generate_response(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    endpoint = SERVICE.endpoints["generate_response"]
    style: dict[str, Any] = params.get("style_guide") or {}
    key_points = [p.strip() for p in params.get("key_points") or [] if p.strip()]
    asked_language = style.get("language")
    ask = _ReplyRequest(
        messages=engine.prepare_thread(params["email_thread"]),
        tone=params.get("tone") or style.get("tone") or "professional",
        style=style,
        key_points=key_points,
        signature=style.get("signature") or "",
        asked_language=asked_language,
        language=engine.language_code(asked_language),
        options=params.get("options") or {},
    )
    requested = endpoint.requested_model(params)
    written, model, usage = local_or_model(
        route_for(requested),
        engine=LOCAL_WRITER_MODEL,
        local=lambda: (_local_reply(ask), _usage(params["email_thread"])),
        model=lambda route: _model_written(route, ask),
    )
    try:
        content, points_in = writer.fit(written.draft, style.get("max_length"))
    except ValueError as exc:
        raise ServiceFailure(f"Cannot write the reply: {exc}.") from None
    addressed = written.addressed
    if addressed is None:
        addressed = [p for p in key_points if p in points_in]
        if not key_points:
            addressed = [line[2:] for line in content.split("\n") if line.startswith("- ")]
    response = {
        # the thread's subject, also under a model: not a new one
        "subject": writer.reply_subject(ask.messages[-1].subject),
        "content": content,
        "tone": ask.tone,
        "key_points_addressed": addressed,
    }
    return HandlerOutput(
        result=response,
        metadata=run_metadata(
            model=model,
            requested_model=requested,
            started=started,
            usage=usage,
            language=written.language,
            length=len(content),
        ),
        extra={"response": response},
    )


# --- definition -------------------------------------------------------------------------------

EXAMPLE_THREAD = [
    {
        "sender": "Maria Lopez <maria@client.example>",
        "recipient": "sam@agency.example",
        "subject": "Project Timeline Question",
        "content": "Hi Sam,\n\nCould you send me the updated timeline by Friday? The board "
        "meets on Monday and needs the launch date.\n\nThanks,\nMaria",
        "timestamp": "2025-02-03T09:30:00Z",
    }
]

SERVICE = ServiceDefinition(
    id="email_response",
    name="Email Response",
    description="Analyses email threads (sentiment, main points, action items, urgency) and "
    "writes context-aware replies in a chosen tone and style, with the signature appended.",
    config={"default_model": "local"},
    endpoints={
        "analyze_thread": EndpointDefinition(
            name="analyze_thread",
            description="Analyse an email thread: overall sentiment, the main points discussed, "
            "the action items with their urgency, and how urgently the latest message needs "
            "an answer. Only the asked-for parts are returned.",
            price=2,
            model_path=("model_id",),
            input_schema={
                "type": "object",
                "properties": {
                    "email_thread": THREAD_SCHEMA,
                    "analysis_type": {
                        "type": "array",
                        "description": "Which analyses to run (default: all four).",
                        "items": {"type": "string", "enum": list(ANALYSIS_TYPES)},
                        "minItems": 1,
                        "uniqueItems": True,
                        "default": list(ANALYSIS_TYPES),
                    },
                    "model_id": MODEL_SCHEMA,
                    "options": OPTIONS_SCHEMA,
                },
                "required": ["email_thread"],
                "additionalProperties": False,
            },
            returns={
                "type": "object",
                "description": "`analysis` (also in `result`): overall_sentiment "
                "(positive/neutral/negative), main_points_discussed [string], action_items "
                "[{task, urgency (low/medium/high), deadline (YYYY-MM-DD or null)}], "
                "response_urgency (low/medium/high); only the asked-for keys.",
            },
            handler=analyze_thread,
            example={"email_thread": EXAMPLE_THREAD, "analysis_type": list(ANALYSIS_TYPES)},
        ),
        "generate_response": EndpointDefinition(
            name="generate_response",
            description="Write the reply to the latest message of a thread in the chosen tone, "
            "addressing the given key points, with the greeting, closing and signature of the "
            "style guide, within its max_length.",
            price=3,
            model_path=("model_id",),
            input_schema={
                "type": "object",
                "properties": {
                    "email_thread": THREAD_SCHEMA,
                    "tone": {
                        "type": "string",
                        "description": "Tone of the reply (style_guide.tone is used when this "
                        "is absent).",
                        "enum": list(writer.TONES),
                        "default": "professional",
                    },
                    "style_guide": {
                        "type": "object",
                        "description": "How the reply should look.",
                        "properties": {
                            "language": {
                                "type": "string",
                                "description": "Language of the reply: a code or name (en, "
                                "de, fr, es, 'German'…). Default: the language of the latest "
                                "message. The local engine writes English, German, French "
                                "and Spanish; other languages need a model.",
                                "maxLength": 35,
                            },
                            "max_length": {
                                "type": "integer",
                                "description": "Most characters (Unicode characters, not "
                                "words or bytes) of response.content, sign-off and signature "
                                "included. Key points come first: when the reply is too long, "
                                "the closing line, the introductions, the acknowledgement and "
                                "then the greeting are left out before any key point; key "
                                "points are kept whole in the order given, the first one that "
                                "does not fit is cut at a sentence (else word) boundary and "
                                "left out of key_points_addressed, and the ones after it are "
                                "dropped. key_points_addressed lists exactly the points "
                                "written in full.",
                                "minimum": 20,
                                "maximum": 20_000,
                            },
                            "signature": {
                                "type": "string",
                                "description": "Appended once under the sign-off. A signature "
                                "that starts with its own sign-off ('Best regards,\\nAnna') "
                                "replaces the tone's sign-off.",
                                "maxLength": 1000,
                            },
                            "greeting_style": {
                                "type": "string",
                                "description": "Greeting: formal ('Dear Jane Doe,'), "
                                "professional ('Hello Jane,'), friendly ('Hi Jane,'), casual "
                                "('Hey Jane,'), direct ('Jane,') or none. Default: by tone.",
                                "enum": list(writer.GREETING_STYLES),
                            },
                            "tone": {
                                "type": "string",
                                "description": "Tone, when the top-level tone is absent.",
                                "enum": list(writer.TONES),
                            },
                            "priority": {
                                "type": "string",
                                "description": "Priority of the reply; high adds a line "
                                "promising prompt follow-up.",
                                "enum": list(LEVELS),
                            },
                        },
                        "additionalProperties": False,
                    },
                    "key_points": {
                        "type": "array",
                        "description": "Points the reply must address, one paragraph each. "
                        "Without them the reply acknowledges the asks and questions of the "
                        "latest message.",
                        "items": {"type": "string", "minLength": 1, "maxLength": 1000},
                        "maxItems": 20,
                    },
                    "model_id": MODEL_SCHEMA,
                    "options": OPTIONS_SCHEMA,
                },
                "required": ["email_thread"],
                "additionalProperties": False,
            },
            returns={
                "type": "object",
                "description": "`response` (also in `result`): subject ('Re: ' + the latest "
                "subject), content (the reply with sign-off and signature), tone, "
                "key_points_addressed [string]. metadata.language is the reply's language.",
            },
            handler=generate_response,
            example={
                "email_thread": EXAMPLE_THREAD,
                "tone": "professional",
                "style_guide": {
                    "greeting_style": "formal",
                    "signature": "Sam Carter\nAccount Manager",
                    "max_length": 1200,
                },
                "key_points": ["The updated timeline will be sent on Thursday"],
            },
        ),
    },
)
