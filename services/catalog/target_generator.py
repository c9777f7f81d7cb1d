"""target_generator: verifiable targets (or milestones) with dependencies from a mission or
milestone description, continuing the ids of the existing targets."""

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
from services.catalogue.registry import (
    EndpointDefinition,
    HandlerOutput,
    ServiceDefinition,
    ServiceFailure,
)
from services.engines import local_or_model, run_metadata, text_usage
from services.engines.llm import ProviderRoute, chat_json, route_for
from services.engines.local_plan import next_free_id, plan, plan_problems
from services.engines.local_targets import check_unique, key, target_lists

ENGINE = "local/target-planner"
DEFAULT_MODEL = DOCUMENTED_DEFAULT_MODEL
MAX_CONTENT_CHARS = 50_000
MAX_CONTEXT_CHARS = 20_000
DEFAULT_MAX_TARGETS = 10
PRICE = 3

_MODE_HELP = {
    "target": "concrete, actionable targets from a milestone",
    "milestone": "strategic milestones from a mission (coarser: related items grouped, chained "
    "in order)",
}

_SYSTEM = (
    "You turn a description into structured, verifiable targets for a planning system. Each "
    "target is one imperative action with a done_when condition that can be checked. Reply "
    'with JSON only: {"targets": [{"id": <int>, "target": "<imperative>", "done_when": '
    '"<verifiable condition>", "depends_on": [<ids>]}]}. New ids must not clash with the '
    "existing targets' ids; depends_on may name existing targets or earlier new ones only; "
    "no cycles; do not repeat existing targets."
)


def _prompt(
    content: str,
    mode: str,
    existing: dict[str, list[Any]],
    additional: str | None,
    first_id: int,
    max_targets: int,
) -> str:
    parts = [
        f"Mode: {mode} ({_MODE_HELP[mode]}). At most {max_targets} targets; number the new "
        f"ones from {first_id}.",
        "Existing targets:\n" + json.dumps(existing, ensure_ascii=False),
    ]
    if additional:
        parts.append("Additional context:\n" + additional)
    parts.append("Description:\n" + content)
    return "\n\n".join(parts)


def _renumber(answer: list[dict[str, Any]], existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A model's (checked) targets with integer ids continuing after the existing ones, and
    their dependencies pointed at the new ids."""
    used = {key(t["id"]) for t in existing}
    existing_ids = {key(t["id"]): t["id"] for t in existing}
    next_id = next_free_id(existing)
    renamed: dict[str, int] = {}
    out = []
    for target in answer:
        while key(next_id) in used:
            next_id += 1
        depends = [
            renamed[key(d)] if key(d) in renamed else existing_ids[key(d)]
            for d in target.get("depends_on") or []
        ]
        renamed[key(target["id"])] = next_id
        out.append(
            {
                "id": next_id,
                "target": target["target"].strip(),
                "done_when": target["done_when"].strip(),
                "depends_on": list(dict.fromkeys(depends)),
            }
        )
        used.add(key(next_id))
        next_id += 1
    return out


def generate(params: dict[str, Any]) -> HandlerOutput:
    started = time.perf_counter()
    content: str = params["content"]
    mode: str = params["mode"]
    context = params.get("context") or {}
    config = params.get("config") or {}
    existing_lists = context.get("existingTargets") or {}
    existing = [*(existing_lists.get("todo") or []), *(existing_lists.get("done") or [])]
    check_unique(existing)
    max_targets = config.get("maxTargets", DEFAULT_MAX_TARGETS)
    model_id = PROCESS_ENDPOINT.requested_model(params)
    notes: dict[str, Any] = {}

    def with_model(route: ProviderRoute) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        reply = chat_json(
            route,
            system=_SYSTEM,
            user=_prompt(
                content,
                mode,
                {
                    "todo": existing_lists.get("todo") or [],
                    "done": existing_lists.get("done") or [],
                },
                context.get("additionalContext"),
                next_free_id(existing),
                max_targets,
            ),
            check=lambda answer: plan_problems(
                answer.get("targets") if isinstance(answer, dict) else None, existing, max_targets
            ),
            temperature=config.get("temperature", 0.1),
            max_tokens=config.get("maxTokens", 2000),
        )
        return _renumber(reply.data["targets"], existing), reply.usage.as_dict()

    def locally() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        planned, found = plan(content, mode=mode, existing=existing, max_targets=max_targets)
        notes.update(found)
        return planned, text_usage(content)

    targets, model, usage = local_or_model(
        route_for(model_id), engine=ENGINE, local=locally, model=with_model
    )
    if not targets:
        raise ServiceFailure(
            "No actionable items were found in the content"
            + (
                " (all of them are covered by existing targets)."
                if notes.get("skipped_existing")
                else "."
            )
        )
    return HandlerOutput(
        result={"targets": targets},
        metadata=run_metadata(
            model=model,
            requested_model=model_id,
            started=started,
            usage=usage,
            mode=mode,
            existing_count=len(existing),
            generated_count=len(targets),
            **notes,
        ),
    )


_EXISTING = target_lists(
    "Targets that exist already: new ids continue after the highest numeric id, new targets "
    "may depend on them, and items they already cover are not generated again."
)

PROCESS_ENDPOINT = EndpointDefinition(
    name="process",
    description="Generate structured, verifiable targets from a mission or milestone "
    "description: each with an id, an imperative `target`, a `done_when` condition and "
    "`depends_on`. Mode `target` gives concrete actions; `milestone` gives coarser milestones. "
    "The local engine splits the description into action items (list lines, sentences, "
    "'; ', 'and then', 'X and Y'), rewrites each as an imperative with a condition derived "
    "from its verb, and infers dependencies from order words (then, once …, finally) and "
    "numbered lists.",
    price=PRICE,
    input_schema={
        "type": "object",
        "properties": {
            "content": required_text(
                "The mission or milestone description.", max_length=MAX_CONTENT_CHARS
            ),
            "mode": {
                "type": "string",
                "enum": ["target", "milestone"],
                "description": "target: "
                + _MODE_HELP["target"]
                + "; milestone: "
                + _MODE_HELP["milestone"]
                + ".",
            },
            "context": {
                "type": "object",
                "description": "Existing targets and optional background.",
                "properties": {
                    "existingTargets": _EXISTING,
                    "additionalContext": {
                        "type": "string",
                        "description": "Background for the model (the local engine plans from "
                        "the content only).",
                        "maxLength": MAX_CONTEXT_CHARS,
                    },
                },
                "additionalProperties": False,
            },
            "config": {
                "type": "object",
                "description": "Model settings and the size of the plan.",
                "properties": {
                    "modelId": MODEL_ID,
                    "temperature": TEMPERATURE,
                    "maxTokens": MAX_TOKENS,
                    "maxTargets": {
                        "type": "integer",
                        "description": "Most targets to generate; extra items are left out "
                        "(metadata.truncated says how many).",
                        "minimum": 1,
                        "maximum": 50,
                        "default": DEFAULT_MAX_TARGETS,
                    },
                },
                "additionalProperties": False,
            },
        },
        "required": ["content", "mode"],
        "additionalProperties": False,
    },
    returns={
        "type": "object",
        "description": "`result.targets`: a list of {id, target, done_when, depends_on}. New "
        "ids are integers after the highest numeric existing id and never clash with existing "
        "ones; depends_on names existing targets or earlier new ones only, so there are no "
        "cycles. `metadata`: model, requested_model, processing_time, usage, mode, "
        "existing_count, generated_count, and for the local engine items_found, "
        "skipped_existing (existing ids that already cover an item) and truncated.",
    },
    handler=generate,
    example={
        "content": "Launch the customer portal. First gather requirements from support, then "
        "design the UI and build the frontend. Finally deploy it to production.",
        "mode": "target",
        "context": {
            "existingTargets": {
                "todo": [],
                "done": [
                    {
                        "id": 1,
                        "target": "Choose the hosting provider",
                        "done_when": "A provider is contracted",
                        "depends_on": [],
                    }
                ],
            }
        },
    },
    model_path=("config", "modelId"),
)

SERVICE = ServiceDefinition(
    id="target_generator",
    name="Target Generator",
    description="Produces structured, verifiable targets or milestones with dependencies "
    "from a mission or milestone description, aware of existing targets.",
    endpoints={"process": PROCESS_ENDPOINT},
    config={"default_model": DEFAULT_MODEL, "max_input_length": MAX_CONTENT_CHARS},
)
