"""target_analyzer: which targets a chat history or status update shows complete, in dependency
order, with a reason for each."""

from __future__ import annotations

import json
import time
from typing import Any

from services.catalog._schema import (
    DOCUMENTED_DEFAULT_MODEL,
    MAX_TOKENS,
    MODEL_ID,
    TEMPERATURE,
    required_text,
)
from services.catalogue.registry import EndpointDefinition, HandlerOutput, ServiceDefinition
from services.engines import local_or_model, run_metadata, text_usage
from services.engines.llm import ProviderRoute, chat_json, route_for
from services.engines.local_targets import (
    Assessment,
    assess,
    check_unique,
    cycles,
    deps,
    key,
    resolve,
    target_lists,
)

ENGINE = "local/target-evidence"
DEFAULT_MODEL = DOCUMENTED_DEFAULT_MODEL
LEGACY_DEFAULT_MODEL = "mistral-small"
MAX_CONTENT_CHARS = 100_000
MAX_CONTEXT_CHARS = 20_000
PRICE = 3

_RETURNS = {
    "type": "object",
    "description": "`result`: the updated {todo: [...], done: [...]}. Every target keeps its "
    "fields and gains `status` (done, in_progress, blocked, todo), `reason` (quoting the "
    "evidence), `confidence` (0..1) and `evidence` (the sentence relied on, or null). A target "
    "moves to done only when everything in its depends_on is done (dependencies are resolved "
    "in order within one answer); targets on a dependency cycle stay todo as blocked; done "
    "targets stay done. `metadata.completed`: the ids moved to done by this call.",
}

_SYSTEM = (
    "You decide which targets (tasks) a text such as a chat history or status update shows to "
    "be complete. A target is complete only when the text clearly says its done_when condition "
    "is met; plans, partial work, negations and future tense do not count. A target may only "
    "be complete when every target in its depends_on is done already or complete in your "
    'answer. Reply with JSON only: {"targets": [{"id": <id>, "complete": true|false, '
    '"status": "done"|"in_progress"|"blocked"|"todo", "reason": "<one sentence quoting the '
    'evidence>", "confidence": <0..1>}]} with one entry for every todo target.'
)


def _prompt(content: str, todo: list[Any], done: list[Any], additional: str | None) -> str:
    parts = [
        "Targets still to do:\n" + json.dumps(todo, ensure_ascii=False),
        "Targets already done:\n" + json.dumps(done, ensure_ascii=False),
    ]
    if additional:
        parts.append("Additional context:\n" + additional)
    parts.append("Text:\n" + content)
    return "\n\n".join(parts)


def _model_problems(
    answer: Any, todo: list[dict[str, Any]], done: list[dict[str, Any]]
) -> list[str]:
    if not isinstance(answer, dict) or not isinstance(answer.get("targets"), list):
        return ['the answer must be {"targets": [...]}']
    todo_keys = {key(t["id"]) for t in todo}
    done_keys = {key(t["id"]) for t in done}
    problems: list[str] = []
    seen: dict[str, bool] = {}
    for index, entry in enumerate(answer["targets"]):
        if not isinstance(entry, dict) or "id" not in entry:
            problems.append(f"targets[{index}] must be an object with an id")
            continue
        k = key(entry["id"])
        if k in done_keys:
            continue
        if k not in todo_keys:
            problems.append(f"id {entry['id']} is not one of the todo targets")
            continue
        if not isinstance(entry.get("complete"), bool):
            problems.append(f"target {entry['id']}: complete must be true or false")
        if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            problems.append(f"target {entry['id']}: a reason is required")
        seen[k] = entry.get("complete") is True
    missing = [t["id"] for t in todo if key(t["id"]) not in seen]
    if missing:
        problems.append(
            "every todo target needs an entry; missing: " + ", ".join(map(str, missing))
        )
    loops = cycles(todo)
    for target in todo:
        k = key(target["id"])
        if not seen.get(k):
            continue
        if k in loops:
            problems.append(
                f"target {target['id']} is on a dependency cycle and cannot be complete"
            )
        pending = [d for d in deps(target) if d not in done_keys and not seen.get(d)]
        if pending:
            problems.append(
                f"target {target['id']} cannot be complete: it depends on {', '.join(pending)}, "
                "which is not done"
            )
    return problems


def _from_model(answer: dict[str, Any]) -> dict[str, Assessment]:
    out: dict[str, Assessment] = {}
    for entry in answer["targets"]:
        complete = entry.get("complete") is True
        status = entry.get("status")
        if (
            status not in {"done", "in_progress", "blocked", "todo"}
            or (status == "done") != complete
        ):
            status = "done" if complete else "todo"
        confidence = entry.get("confidence")
        if not isinstance(confidence, (int, float)) or isinstance(confidence, bool):
            confidence = 0.8
        out[key(entry["id"])] = Assessment(
            status=status,
            reason=str(entry.get("reason", "")).strip(),
            confidence=round(min(1.0, max(0.0, float(confidence))), 2),
            evidence=None,
            complete=complete,
        )
    return out


def analyze(
    *,
    content: str,
    targets: dict[str, Any],
    additional_context: str | None,
    model_id: str | None,
    temperature: float,
    max_tokens: int,
    use_model: bool = True,
) -> HandlerOutput:
    """Shared by `process` and `analyze_targets`."""
    started = time.perf_counter()
    todo = [dict(t) for t in targets.get("todo") or []]
    done = [dict(t) for t in targets.get("done") or []]
    check_unique([*todo, *done])

    def with_model(route: ProviderRoute) -> tuple[dict[str, Assessment], dict[str, Any]]:
        reply = chat_json(
            route,
            system=_SYSTEM,
            user=_prompt(content, todo, done, additional_context),
            check=lambda answer: _model_problems(answer, todo, done),
            temperature=temperature,
            max_tokens=max_tokens,
        )
        return _from_model(reply.data), reply.usage.as_dict()

    evidence, model, usage = local_or_model(
        route_for(model_id) if use_model and todo else None,
        engine=ENGINE,
        local=lambda: (assess(content, todo, done), text_usage(content)),
        model=with_model,
    )
    new_todo, new_done, completed = resolve(todo, done, evidence)
    return HandlerOutput(
        result={"todo": new_todo, "done": new_done},
        metadata=run_metadata(
            model=model,
            requested_model=model_id,
            started=started,
            usage=usage,
            completed=completed,
            todo_count=len(new_todo),
            done_count=len(new_done),
        ),
    )


def process(params: dict[str, Any]) -> HandlerOutput:
    context = params["context"]
    config = params.get("config") or {}
    return analyze(
        content=params["content"],
        targets=context["targets"],
        additional_context=context.get("additionalContext"),
        model_id=PROCESS_ENDPOINT.requested_model(params),
        temperature=config.get("temperature", 0.1),
        max_tokens=config.get("maxTokens", 2000),
    )


def analyze_targets(params: dict[str, Any]) -> HandlerOutput:
    options = params.get("options") or {}
    return analyze(
        content=params["text"],
        targets=params["targets"],
        additional_context=params.get("additional_context"),
        model_id=LEGACY_ENDPOINT.requested_model(params),
        temperature=options.get("temperature", 0),
        max_tokens=options.get("max_tokens", 1000),
        use_model=options.get("tier", "standard") != "basic",
    )


_EXAMPLE_TARGETS = {
    "todo": [
        {
            "id": 1,
            "target": "Document project requirements",
            "done_when": "Requirements document is approved by the client",
            "depends_on": [],
        },
        {
            "id": 2,
            "target": "Design the database schema",
            "done_when": "Schema is reviewed and merged",
            "depends_on": [1],
        },
    ],
    "done": [],
}
_CONTENT = required_text(
    "The chat history or status updates to judge the targets by.", max_length=MAX_CONTENT_CHARS
)
_ADDITIONAL = {
    "type": "string",
    "description": "Background for the model (the local engine judges by the content only).",
    "maxLength": MAX_CONTEXT_CHARS,
}

PROCESS_ENDPOINT = EndpointDefinition(
    name="process",
    description="Decide from a chat history or status updates which targets are complete, "
    "respecting depends_on, and explain each status. The local engine looks for sentences "
    "that cover a target's terms (or name its id) and say it is done — negations, future "
    "tense and work in progress do not count — and quotes them.",
    price=PRICE,
    input_schema={
        "type": "object",
        "properties": {
            "content": _CONTENT,
            "context": {
                "type": "object",
                "description": "The targets and optional background.",
                "properties": {
                    "targets": target_lists("The targets: todo and done."),
                    "additionalContext": _ADDITIONAL,
                },
                "required": ["targets"],
                "additionalProperties": False,
            },
            "config": {
                "type": "object",
                "description": "Model settings.",
                "properties": {
                    "modelId": MODEL_ID,
                    "temperature": TEMPERATURE,
                    "maxTokens": MAX_TOKENS,
                },
                "additionalProperties": False,
            },
        },
        "required": ["content", "context"],
        "additionalProperties": False,
    },
    returns=_RETURNS,
    handler=process,
    example={
        "content": "I finished the requirements document and the client approved it.",
        "context": {"targets": _EXAMPLE_TARGETS},
    },
    model_path=("config", "modelId"),
)

LEGACY_ENDPOINT = EndpointDefinition(
    name="analyze_targets",
    description="The older form of `process`: `text`, `targets` {todo, done}, "
    "`additional_context`, `model_id`, `options` {tier, format, temperature, max_tokens}. "
    "Tier `basic` always answers with the local engine; `standard` uses the requested model "
    "when one is configured.",
    price=PRICE,
    input_schema={
        "type": "object",
        "properties": {
            "text": _CONTENT,
            "targets": target_lists("The targets: todo and done."),
            "additional_context": _ADDITIONAL,
            "model_id": {
                "type": "string",
                "description": "The model to run; without one the local engine answers.",
                "default": LEGACY_DEFAULT_MODEL,
                "maxLength": 200,
            },
            "options": {
                "type": "object",
                "description": "Tier and model settings.",
                "properties": {
                    "tier": {
                        "type": "string",
                        "enum": ["standard", "basic"],
                        "default": "standard",
                        "description": "basic: the local engine only; standard: the model.",
                    },
                    "format": {
                        "type": "string",
                        "enum": ["json"],
                        "default": "json",
                        "description": "The answer format (JSON only).",
                    },
                    "temperature": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},
                    "max_tokens": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 32_000,
                        "default": 1000,
                    },
                },
                "additionalProperties": False,
            },
        },
        "required": ["text", "targets"],
        "additionalProperties": False,
    },
    returns=_RETURNS,
    handler=analyze_targets,
    example={
        "text": "I finished the requirements document and the client approved it.",
        "targets": _EXAMPLE_TARGETS,
        "options": {"tier": "standard", "format": "json"},
    },
    model_path=("model_id",),
)

SERVICE = ServiceDefinition(
    id="target_analyzer",
    name="Target Analyzer",
    description="Decides from chat history or status updates which targets are complete, "
    "respecting their dependencies and explaining each status.",
    endpoints={"process": PROCESS_ENDPOINT, "analyze_targets": LEGACY_ENDPOINT},
    config={"default_model": DEFAULT_MODEL, "max_input_length": MAX_CONTENT_CHARS},
)
